"""Assessment requests (broker/domain/assessments.py): the router answers case facts with the
evaluator's assessment, to the publisher alone, and nobody owes anything for it. Pure: real routing
rules, the router's output step and the tracker's rules, no broker."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from broker.domain.address import SYSTEM_ADDRESS, Address
from broker.domain.case import CaseFacts
from broker.domain.decision_record import decision_record
from broker.domain.factory import new_message
from broker.domain.messages import Kind, Message
from broker.domain.routing import Rule
from broker.domain.threshold import assess
from broker.domain.validation import parse_message
from broker.participants import SYSTEM, Participants
from broker.router.outcomes import Route
from broker.router.outputs import Destinations, route_outputs
from broker.tools.contract.examples import CASE_FACTS, REFERRAL_FACTS
from broker.tools.records import PARTICIPANTS
from broker.tracker.calendar import WorkCalendar
from broker.tracker.record import parse_record
from broker.tracker.rules import Policy
from tests.support.messages import msg
from tests.support.routing import World, refused

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "schemas" / "threshold" / "vectors.json").read_text(
        encoding="utf-8"
    )
)["vectors"]
ZHUJI = "bureau:330681"


def request(
    facts: dict[str, Any] = REFERRAL_FACTS, sender: str = ZHUJI, to: list[str] | None = None
) -> Message:
    return new_message(Kind.ASSESSMENT_REQUEST, sender, to or [], "ZJ-ZJ-2019-0042", {}, case=facts)


def test_the_only_output_is_the_result_to_the_sender_with_the_evaluators_assessment() -> None:
    asked = request()
    decision = World().route(asked)
    assert decision.deliveries == ()
    assert len(decision.notices) == 1
    result = decision.notices[0]
    env = result.envelope
    assert env.kind is Kind.ASSESSMENT_RESULT
    assert (env.sender, env.to, env.in_reply_to) == (str(SYSTEM_ADDRESS), [ZHUJI], asked.envelope.message_id)
    assert env.case_id == asked.envelope.case_id and env.case is None
    expected = assess(CaseFacts.model_validate(REFERRAL_FACTS)).to_dict()
    assert result.body.model_dump(mode="json") == expected
    assert decision.threshold == expected


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v["name"])
def test_the_result_states_each_vectors_level_clauses_and_figures(vector: dict[str, Any]) -> None:
    body = World().route(request(vector["facts"])).notices[0].body.model_dump(mode="json")
    expect = vector["expect"]
    assert (body["reached"], body["level"]) == (expect["reached"], expect["level"])
    assert [
        {"clause": c["clause"], "level": c["level"], "figures": c["figures"]} for c in body["clauses"]
    ] == expect["clauses"]


def test_a_department_office_may_ask_too() -> None:
    decision = World().route(request(sender="telecom:330681"))
    assert [n.envelope.to for n in decision.notices] == [["telecom:330681"]]


def test_a_request_naming_addressees_is_refused() -> None:
    for to in (["bureau:330600"], [str(SYSTEM_ADDRESS)]):
        refusal = refused(World(), request(to=to))
        assert refusal.field == "envelope.to" and "leave to empty" in refusal.reason


def test_invalid_facts_are_refused_by_the_contract_naming_the_field() -> None:
    good = json.loads(request().model_dump_json(exclude_none=True))
    good["envelope"]["case"]["records"][0]["provided"] = "18990"
    with pytest.raises(ValueError) as info:
        parse_message(json.dumps(good).encode())
    assert str(info.value).startswith("envelope.case.records.0.provided:")


def test_a_redelivered_request_gets_the_same_result_id() -> None:
    asked = request()
    first = World().route(asked).notices[0]
    again = World().route(asked).notices[0]
    assert first.envelope.message_id == again.envelope.message_id


def test_nobody_may_publish_a_result() -> None:
    result = World().route(request()).notices[0]
    forged = result.model_copy(update={"envelope": result.envelope.model_copy(update={"sender": ZHUJI})})
    assert refused(World(), forged).field == "envelope.kind"


def test_nobody_may_answer_a_request_nor_acknowledge_it() -> None:
    world = World()
    asked = request()
    world.route(asked)
    ack = msg(Kind.RECEIPT_ACK, ZHUJI, [], in_reply_to=asked.envelope.message_id)
    assert refused(world, ack).field == "envelope.in_reply_to"


def test_the_routing_log_records_the_decision_and_its_result_and_nothing_is_owed() -> None:
    asked = request(CASE_FACTS | {"records": [{"category": "credit", "provided": 60, "held": 0}]})
    decision = World().route(asked)
    record = decision_record(asked, decision, datetime.now(UTC))
    assert record["deliveries"] == []
    assert record["notices"] == [
        {
            "message_id": str(decision.notices[0].envelope.message_id),
            "kind": "assessment_result",
            "to": [ZHUJI],
        }
    ]
    assert record["threshold"]["level"] == "serious" and "explanation" not in record["threshold"]
    routed = parse_record(record)
    # the facts reach the threshold, yet the sender owes no transfer decision: it only asked
    assert Policy().obligations_for(routed, WorkCalendar()) == []


def test_the_router_publishes_the_result_to_the_publishers_inbox_as_the_broker() -> None:
    people = Participants.of(PARTICIPANTS)
    asked = request()
    raw = asked.model_dump_json(exclude_none=True).encode()
    decision = World().route(asked)
    route = Route(asked, decision, hashlib.sha256(raw).hexdigest(), raw, frozenset(), new=True)
    to = Destinations(deliver="deliver", quarantine="q", routing_log="log", retry_queue="retry")
    now = datetime.now(UTC)
    out = route_outputs(0, route, people.username(Address.parse(ZHUJI)), people, to, now, now.timestamp())
    result, record = out.messages
    assert (result.exchange, result.routing_key) == ("deliver", ZHUJI)
    assert result.properties["user_id"] == people.username(SYSTEM)
    assert result.properties["correlation_id"] == str(asked.envelope.message_id)
    assert result.properties["application_headers"]["x-rule"] == Rule.ASSESSMENT_RESULT.value
    assert parse_message(result.body).envelope.kind is Kind.ASSESSMENT_RESULT
    assert (record.exchange, record.routing_key) == ("log", "routed.assessment_request.bureau.330681")
    assert timedelta(0) <= now - datetime.fromisoformat(out.record["routed_at"]) <= timedelta(seconds=1)
