"""The demo's defaults, light to import (the CLI shows them in --help)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

DEFAULT_START = datetime(2019, 4, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
"""The first day of the 2019 campaign, a Monday, 09:00 Beijing."""
DEFAULT_DAYS = 183
"""The campaign's window, 1 April to 30 September 2019 (Qingming, Labour Day, Dragon Boat and
Mid-Autumn holidays included)."""
DEFAULT_COMPRESSION = 120_000.0
"""1 real second ≈ 33 simulated hours: 183 simulated days in about 130 seconds."""
DEFAULT_CASES = 300
DEFAULT_SEED = 2019
DEFAULT_LATE_SHARE = 0.12
DEFAULT_SILENT_SHARE = 0.08


def compression_for(cases: int) -> float:
    """The default compression for a replay of ``cases``: DEFAULT_COMPRESSION up to DEFAULT_CASES
    cases, slower in proportion above, so that the router and the tracker get about as many messages
    per real second as in the default run (two cores keep up; 1,474 cases take about 11 minutes)."""
    return DEFAULT_COMPRESSION * min(1.0, DEFAULT_CASES / max(1, cases))
