"""`referral-broker demo` end to end, small: 40 cases over 30 simulated days, through the CLI, against
the real RabbitMQ. Nothing may be lost, every kind of outcome must show up, and no body content is
printed."""

from __future__ import annotations

import json
import time

import pytest

from broker import logs
from broker.cli.main import build_parser
from broker.settings import Settings

pytestmark = pytest.mark.rabbitmq

KEYS = (
    "published",
    "routed",
    "quarantined",
    "acknowledged",
    "overdue",
    "escalated",
    "police_referrals",
    "lost",
)


def test_small_demo_loses_nothing(broker_root: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["demo", "--cases", "40", "--days", "30", "--compression", "300000", "--json"]
    )
    started = time.monotonic()
    try:
        code = args.func(args, broker_root)
    finally:
        logs.configure()  # the demo quiets the router's per-decision log lines; restore the default
    elapsed = time.monotonic() - started
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])

    assert code == 0
    assert all(key in result for key in KEYS), sorted(set(KEYS) - set(result))
    assert result["lost"] == 0
    assert result["missing"] == 0 and result["unaccounted"] == 0 and result["surprises"] == 0
    assert result["published"] == result["routed"] + result["quarantined"]  # repeats are in "duplicates"
    assert result["police_referrals"] > 0
    assert result["quarantined"] > 0
    assert result["escalated"] > 0
    assert result["acknowledged"] > 0 and result["overdue"] > 0
    assert result["copies_found"] >= result["copies_expected"] > result["routed"]
    # sealed by default: every participant's copy in the inboxes is ciphertext
    assert result["bodies"]["sealed"] > 0 and result["bodies"].get("clear", 0) == 0
    assert result["bodies"]["sealed"] + result["bodies"]["broker"] == result["copies_found"]
    assert all(
        result["routed_by_coordination"][k]["messages"] > 0 for k in ("vertical", "regional", "police")
    )
    # the report's figures beside the replay's: shares as they are, counts scaled to 40 cases
    rows = {row["figure"]: row for row in result["fidelity"]}
    for share in ("records: real estate", "records: education", "records: decoration"):
        assert abs(rows[share]["replay"] - rows[share]["report"]) < 5, rows[share]
    collecting = rows["records: collecting without consent"]
    assert abs(collecting["replay"] - collecting["report"]) < 1 and "40 of 40 cases" in collecting["counted"]
    assert rows["fines and confiscations"]["replay"] == rows["fines and confiscations"]["report"] == 528_195
    assert (
        rows["police referrals"]["replay"] == rows["police referrals"]["report"] == result["police_referrals"]
    )
    joint = rows["joint enforcement actions"]
    assert joint["replay"] == joint["report"] == 115 and "routed" in joint["counted"]
    assert (
        rows["administrative interviews"]["replay"] == 96
        and "locally" in rows["administrative interviews"]["counted"]
    )
    assert "The 2019 report (1,474 cases" in captured.out
    assert elapsed < 40, f"the small demo took {elapsed:.0f} s"
    # the bodies name invented suspects with phone numbers: none of it is ever printed
    printed = captured.out + captured.err
    assert "1380000" not in printed and "某" not in printed
