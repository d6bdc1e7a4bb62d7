"""Files for the tests of private files (credentials, key rings): their mode bits."""

from __future__ import annotations

import stat
from pathlib import Path


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)
