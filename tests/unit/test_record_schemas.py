"""Decision records the real routing code builds satisfy records.schema.json (RoutedRecord), so the
schema a participant or operator reads them with matches what rb.routing-log carries."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
from referencing import Registry, Resource

from broker.domain.messages import SCHEMA_VERSION, Kind
from broker.tools.records import OVER_THRESHOLD, Desk

FOLDER = Path(__file__).resolve().parents[2] / "schemas" / f"v{SCHEMA_VERSION}"
AT = datetime(2024, 9, 2, 9, 0, tzinfo=UTC)


def _validator(definition: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((FOLDER / "records.schema.json").read_text())
    registry: Registry[object] = Registry().with_resource(
        "records.schema.json", Resource.from_contents(schema)
    )
    return jsonschema.Draft202012Validator(
        {"$ref": f"records.schema.json#/$defs/{definition}"},
        registry=registry,
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def test_routed_records_of_a_case_s_story_satisfy_the_schema() -> None:
    desk = Desk()
    request = desk.send(
        Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"], AT, handling=["not_for_court"]
    )
    desk.reply(request, Kind.RECEIPT_ACK, "bureau:440000", AT)
    desk.reply(request, Kind.EXTENSION_REQUEST, "bureau:440000", AT)
    desk.reply(request, Kind.ASSISTANCE_REPLY, "bureau:440000", AT)
    referral = desk.send(Kind.POLICE_REFERRAL, "bureau:330681", ["police:330681"], AT, facts=OVER_THRESHOLD)
    desk.reply(referral, Kind.FILING_DECISION, "police:330681", AT)
    desk.send(Kind.DIRECTIVE, "bureau:330000", [], AT, scope="all_subordinates")
    routed, either = _validator("RoutedRecord"), _validator("DecisionRecord")
    assert len(desk.records) == 7
    for record in desk.records.values():
        routed.validate(record)
        either.validate(record)
    kinds = {r["kind"]: r for r in desk.records.values()}
    assert "threshold" in kinds["police_referral"] and "filing" in kinds["filing_decision"]


def test_the_schema_refuses_a_record_with_a_field_it_does_not_define() -> None:
    desk = Desk()
    desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], AT)
    record = {**next(iter(desk.records.values())), "body": {"summary": "personal data"}}
    assert not _validator("RoutedRecord").is_valid(record)


def test_a_quarantined_record_as_the_router_writes_it_satisfies_the_schema() -> None:
    # the keys and their order as broker/router/outputs.py writes the quarantine and refusal records
    record = {
        "event": "quarantined",
        "message_id": "5eed0000-0000-4000-8000-000000000001",
        "quarantine_id": "5eed0000-0000-4000-8000-000000000001",
        "user_id": "bureau-330681",
        "kind": "case_notice",
        "sender": "bureau:330681",
        "case_id": "ZJ-2019-42",
        "stage": "contract",
        "field": "envelope.to.0",
        "reason": "division code 330682 (上虞市) has been retired",
        "quarantined_at": "2024-09-02T09:00:00+00:00",
        "refusal_notice": {"message_id": "5eed0000-0000-4000-8000-000000000002", "to": "bureau:330681"},
    }
    _validator("QuarantinedRecord").validate(record)
    _validator("DecisionRecord").validate(record)
    _validator("QuarantinedRecord").validate({**record, "message_id": None})  # no UUID to be had
    assert not _validator("QuarantinedRecord").is_valid({**record, "stage": "gossip"})


def test_records_read_back_as_built_and_their_bytes_say_the_same() -> None:
    """For every kind of this story the validated read of what DecisionRecord.of built is the same
    record, and the bytes the router publishes (wire_bytes, with age_ms) say the same."""
    from broker.domain.decision_record import DecisionRecord
    from broker.tracker.record import parse_event

    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"], AT)
    desk.reply(request, Kind.RECEIPT_ACK, "bureau:440000", AT)
    extension = desk.reply(request, Kind.EXTENSION_REQUEST, "bureau:440000", AT)
    desk.reply(extension, Kind.EXTENSION_DECISION, "bureau:330681", AT)
    desk.reply(request, Kind.ASSISTANCE_REPLY, "bureau:440000", AT)
    referral = desk.send(Kind.POLICE_REFERRAL, "bureau:330681", ["police:330681"], AT, facts=OVER_THRESHOLD)
    desk.reply(referral, Kind.FILING_DECISION, "police:330681", AT)
    desk.send(Kind.ESCALATION, "bureau:330602", [], AT)
    assert len({r["kind"] for r in desk.records.values()}) == 8
    for built in desk.records.values():  # DecisionRecord.of(...).wire()
        read = DecisionRecord.model_validate(built)
        assert read.wire() == built
        as_bytes = read.model_copy(update={"age_ms": 12.5}).wire_bytes()
        assert json.loads(as_bytes) == {**built, "age_ms": 12.5}
        assert parse_event(as_bytes).message_id == built["message_id"]
        _validator("RoutedRecord").validate(json.loads(as_bytes))
