"""The demo's defaults, light to import (the CLI shows them in --help)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

DEFAULT_START = datetime(2019, 5, 6, 9, 0, tzinfo=timezone(timedelta(hours=8)))
"""A Monday of the 2019 campaign, 09:00 Beijing; two months from it cross the Dragon Boat Festival."""
DEFAULT_DAYS = 61
DEFAULT_COMPRESSION = 120_000.0
"""1 real second ≈ 33 simulated hours: 61 simulated days in about 44 seconds."""
DEFAULT_CASES = 300
DEFAULT_SEED = 2019
DEFAULT_LATE_SHARE = 0.12
DEFAULT_SILENT_SHARE = 0.08
