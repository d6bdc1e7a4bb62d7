"""The router's quarantine records in the tracker's audit trail (issue 13): `trace ID` shows a
refused message from the moment the router refused it, without waiting for an operator command to
look at the quarantine, and the verdict is written once whoever sees it first. A real SQLite store;
no broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from broker.domain.messages import Kind
from broker.domain.quarantine_ids import Facts
from broker.store.operator_audit import OperatorTrail
from broker.store.tracker.store import TrackerStore
from broker.store.tracker.views import trace
from broker.tools.records import Desk
from broker.tracker.record import Quarantined, RecordError, Routed, parse_event
from broker.transport.quarantine import Held

MESSAGE = "0b8f3a52-3c5e-4a51-9d1e-5f2d7c1a9e10"
AT = datetime(2024, 9, 2, 2, tzinfo=UTC)


def quarantine_record(**changes: object) -> bytes:
    record = {
        "event": "quarantined",
        "message_id": MESSAGE,
        "quarantine_id": MESSAGE,
        "user_id": "rb-bureau-330681",
        "kind": "case_notice",
        "sender": "bureau:330681",
        "case_id": "ZJZJ-2019-42",
        "stage": "routing",
        "field": "envelope.to",
        "reason": "bureau:330603 is not a provisioned participant (addressee)",
        "quarantined_at": AT.isoformat(),
        **changes,
    }
    return json.dumps(record).encode()


def test_a_quarantine_record_is_read_as_the_verdict_and_a_routed_one_as_before() -> None:
    event = parse_event(quarantine_record())
    assert isinstance(event, Quarantined)
    assert event.message_id == MESSAGE and event.case_id == "ZJZJ-2019-42"
    assert event.detail == "routing envelope.to: bureau:330603 is not a provisioned participant (addressee)"
    told = parse_event(
        quarantine_record(
            refusal_notice={"message_id": "5d9c2f1e-0a7b-5c3d-8e4f-1a2b3c4d5e6f", "to": "bureau:330681"}
        )
    )
    assert isinstance(told, Quarantined) and told.notice_id == "5d9c2f1e-0a7b-5c3d-8e4f-1a2b3c4d5e6f"
    assert told.detail.endswith(
        "; delivery_refused 5d9c2f1e-0a7b-5c3d-8e4f-1a2b3c4d5e6f sent to bureau:330681"
    )
    desk = Desk()
    notice = desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], AT)
    assert isinstance(parse_event(json.dumps(desk.records[notice.message_id]).encode()), Routed)


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"quarantine_id": ""}, "quarantine_id"), ({"quarantined_at": "never"}, "quarantined_at")],
)
def test_a_malformed_quarantine_record_is_refused_naming_the_field(
    changes: dict[str, object], field: str
) -> None:
    with pytest.raises(RecordError) as info:
        parse_event(quarantine_record(**changes))
    assert field in str(info.value) and "never" not in str(info.value)


def test_trace_shows_the_verdict_once_whether_the_tracker_or_an_operator_saw_it_first(tmp_path: Path) -> None:
    store = TrackerStore(f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    try:
        event = parse_event(quarantine_record())
        store.ingest([event], AT)
        store.ingest([event], AT)  # the record redelivered
        verdicts = [e for e in trace(store.engine, MESSAGE) if e.event == "quarantined"]
        assert len(verdicts) == 1 and "not a provisioned participant" in verdicts[0].detail
        assert [e.event for e in trace(store.engine, "ZJZJ-2019-42")] == ["quarantined"]
        # an operator command listing the quarantine afterwards does not write it again
        held = Held(
            queue="rb.quarantine",
            id=MESSAGE,
            digest="0" * 64,
            stage="routing",
            field="envelope.to",
            reason="bureau:330603 is not a provisioned participant (addressee)",
            user_id="rb-bureau-330681",
            at=AT.isoformat(),
            facts=Facts(MESSAGE, "case_notice", "bureau:330681", "ZJZJ-2019-42"),
            size=0,
            headers={},
            properties=None,
            body=b"",
            delivery_tag=0,
        )
        assert OperatorTrail(store.engine, "ops").note_quarantined([held]) == 0
        assert len([e for e in trace(store.engine, MESSAGE) if e.event == "quarantined"]) == 1
    finally:
        store.close()
