"""Waiting for a condition instead of sleeping for a guess."""

from __future__ import annotations

import time
from typing import Any


def wait_for(predicate: Any, timeout: float = 15.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
