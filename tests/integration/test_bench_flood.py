"""`referral-broker bench --flood` on a small run: the figures it prints are those the quarantine
share promises (README "Quarantine shares"), through `route` as a subprocess."""

from __future__ import annotations

import pytest

from broker.settings import Settings
from broker.tools.bench.flood import render_flood, run_flood

pytestmark = pytest.mark.rabbitmq


def test_the_flood_bench_shows_the_share_bounding_the_quarantine(broker_root: Settings) -> None:
    result = run_flood(broker_root, flood=300, honest=20, body_bytes=1000, share=10)
    kept_all, shared = result["runs"]
    assert kept_all["quarantine_messages"] == 300 and kept_all["flooder_notices"] == 300
    assert kept_all["tracker_records"] == 320
    # 10 whole, 90 entries without bodies, one entry saying the rest is folded
    assert shared["quarantine_messages"] == 101 and shared["flooder_notices"] == 101
    assert shared["tracker_records"] == 121
    assert shared["quarantine_mb"] < kept_all["quarantine_mb"] / 5
    assert all(run["honest_routed_after_s"] is not None for run in result["runs"])
    assert "quarantine share" in render_flood(result)
