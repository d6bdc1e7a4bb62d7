"""The typed decision record (broker/domain/decision_record.py): the JSON the router publishes, and
the tracker reading those bytes straight into it. No broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from broker.domain.decision_record import OMITTED_WHEN_ABSENT, DecisionRecord
from broker.domain.messages import Kind
from broker.tools.records import Desk
from broker.tracker.calendar import BEIJING
from broker.tracker.record import RecordError, parse_record

AT = datetime(2024, 9, 2, 10, tzinfo=BEIJING)


def _records() -> tuple[Desk, dict[str, object], dict[str, object], dict[str, object]]:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], AT)
    asked = desk.reply(request, Kind.EXTENSION_REQUEST, "bureau:330600", datetime(2024, 9, 3, tzinfo=UTC))
    granted = desk.reply(asked, Kind.EXTENSION_DECISION, "bureau:330681", AT)
    return (
        desk,
        desk.records[request.message_id],
        desk.records[asked.message_id],
        desk.records[granted.message_id],
    )


def test_the_published_json_parses_back_into_the_same_record_and_writes_the_same_json() -> None:
    _, *records = _records()
    for wire in records:
        raw = json.dumps(wire, ensure_ascii=False).encode()
        assert DecisionRecord.model_validate_json(raw).wire() == wire


def test_times_keep_their_offset_as_written_and_absent_facts_are_left_out() -> None:
    _, request, asked, granted = _records()
    assert request["routed_at"] == "2024-09-02T10:00:00+08:00"
    assert asked["routed_at"] == "2024-09-03T00:00:00+00:00"  # isoformat, not "Z"
    assert request["in_reply_to"] is None and request["forwards"] is None  # always written
    assert not OMITTED_WHEN_ABSENT & set(request)
    assert asked["extension"] == {"requested_working_days": 10}
    assert granted["extension"] == {"granted": True, "extra_working_days": 10}


def test_the_tracker_reads_the_deadline_facts_from_the_bytes() -> None:
    _, _, asked, granted = _records()
    request = parse_record(json.dumps(asked).encode())
    decision = parse_record(json.dumps(granted).encode())
    assert (request.kind, request.extension_days, request.extension_granted) == (
        Kind.EXTENSION_REQUEST,
        10,
        None,
    )
    assert (decision.extension_days, decision.extension_granted) == (10, True)
    assert decision.in_reply_to == request.message_id


def test_keys_a_newer_writer_adds_are_ignored() -> None:
    _, request, _, _ = _records()
    assert (
        parse_record(request | {"age_ms": 3.5, "added_later": {"x": 1}}).message_id == request["message_id"]
    )


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"case_id": ""}, "case_id"),
        ({"case_id": "x" * 65}, "case_id"),
        ({"deliveries": [{"to": "bureau:330600"}]}, "deliveries.0.rule"),
        ({"message_id": "not-a-uuid"}, "message_id"),
        ({"kind": "gossip"}, "kind"),
        ({"sent_at": "yesterday"}, "sent_at"),
    ],
)
def test_a_malformed_record_is_refused_naming_the_field_never_the_value(
    change: dict[str, object], named: str
) -> None:
    _, request, _, _ = _records()
    with pytest.raises(RecordError) as info:
        parse_record(request | change)
    assert f": {named}:" in str(info.value)
    for value in change.values():
        if isinstance(value, str) and value:
            assert value not in str(info.value)


def test_an_extension_request_that_does_not_say_its_days_is_refused() -> None:
    _, _, asked, _ = _records()
    without = {k: v for k, v in asked.items() if k != "extension"}
    with pytest.raises(RecordError, match=r"extension\.requested_working_days"):
        parse_record(without)


def test_a_record_writes_every_key_but_the_absent_optional_ones_in_both_forms() -> None:
    """The bytes published (wire_bytes) and the object (wire) hold the same keys: every field, null
    when empty, except the facts that apply to some kinds only, left out when they do not apply."""
    _, request, asked, granted = _records()
    everything = set(DecisionRecord.model_fields)
    for wire in (request, asked, granted):
        record = DecisionRecord.model_validate(wire)
        absent = {k for k in OMITTED_WHEN_ABSENT if getattr(record, k) is None}
        assert set(wire) == everything - absent
        assert json.loads(record.wire_bytes()) == record.wire() == wire
    assert {
        "threshold",
        "linked_to",
        "notices",
        "referral",
        "assistance",
        "extension",
        "filing",
        "directive",
        "age_ms",
    } == OMITTED_WHEN_ABSENT
    assert set(asked["extension"]) == {"requested_working_days"}  # a part's absent facts too
