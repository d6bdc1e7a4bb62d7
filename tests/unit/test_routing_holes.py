"""Routing-rule holes a hostile-participant probe found (issue 11), closed: copy holders answering
in the addressee's place, re-transfers renumbered past the no-retransfer rule, designations by
anyone, and times far from the router's clock. Pure: no broker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import create_engine

from broker.domain.address import Address
from broker.domain.case import CaseFacts
from broker.domain.jurisdictions import default_registry
from broker.domain.messages import Kind, Message
from broker.domain.plausible_time import APPROVAL_MAX_AGE, CLOCK_SKEW, SENT_AT_MAX_AGE
from broker.domain.referrals import referral_body
from broker.domain.routing import (
    RoutedRecord,
    RoutingContext,
    RoutingDecision,
    Rule,
    decide,
)
from broker.router.ports import State
from broker.store.memory import SqlRoutingMemory, deliveries, routed
from broker.store.scratch import postgres_reachable, temporary_database
from broker.tools.contract.examples import CASE_FACTS, REFERRAL_FACTS
from tests.support.messages import msg
from tests.support.routing import PARTICIPANTS, World, refused, routes

OTHER_COMPANY = {**CASE_FACTS, "company_credit_code": "91330602MA2B00019Q"}


def _answer(kind: Kind, sender: str, original: Message, body: dict[str, Any] | None = None) -> Message:
    return msg(kind, sender, [], body=body, case=False, in_reply_to=original.envelope.message_id)


# ---- copy holders answer only as copy holders ----


def test_the_procuratorate_with_the_supervision_copy_cannot_answer_for_the_police() -> None:
    w = World()
    referral = msg(Kind.POLICE_REFERRAL, "bureau:330681", [])
    assert ("procuratorate:330681", Rule.SUPERVISION_COPY) in routes(w.route(referral))
    for kind, body in (
        (Kind.FILING_DECISION, {"decision": "not_filed", "reasons": "r"}),
        (Kind.POLICE_RECEIPT, {"received_at": "2019-06-03T15:00:00+08:00"}),
        (Kind.FILE_RETURN, {"returned_items": []}),
    ):
        error = refused(w, _answer(kind, "procuratorate:330681", referral, body))
        assert error.field == "envelope.sender", kind
        assert "police.supervision_copy" in error.reason and "receipt_ack" in error.reason
    # what a copy holder may send: a receipt, to the referring bureau
    ack = _answer(Kind.RECEIPT_ACK, "procuratorate:330681", referral, {"summary": ""})
    assert routes(w.route(ack)) == {("bureau:330681", Rule.REPLY)}
    # the police office the referral was addressed to still answers
    decision = _answer(Kind.FILING_DECISION, "police:330681", referral)
    assert ("bureau:330681", Rule.REPLY) in routes(w.route(decision))


def test_the_senders_own_hub_with_the_outbound_copy_cannot_answer_the_request() -> None:
    w = World()
    request = msg(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"])
    assert ("bureau:330000", Rule.HUB_OUTBOUND) in routes(w.route(request))
    for kind, body in (
        (Kind.ASSISTANCE_REPLY, {"findings": "all done", "complete": True}),
        (Kind.ASSISTANCE_REPLY, {"findings": "partial", "complete": False}),
        (Kind.EXTENSION_REQUEST, {"extra_working_days": 5, "reason": "r"}),
        (Kind.COMPLETION_ACK, {"summary": "done"}),
    ):
        error = refused(w, _answer(kind, "bureau:330000", request, body))
        assert error.field == "envelope.sender" and "regional.hub_outbound_copy" in error.reason, kind
    assert routes(w.route(_answer(Kind.RECEIPT_ACK, "bureau:330000", request, {"summary": ""}))) == {
        ("bureau:330681", Rule.REPLY)
    }


def test_the_target_provinces_hub_still_answers_or_forwards() -> None:
    w = World()
    request = msg(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"])
    w.route(request)
    reply = _answer(Kind.ASSISTANCE_REPLY, "bureau:440000", request, {"findings": "f", "complete": True})
    assert routes(w.route(reply)) == {("bureau:330681", Rule.REPLY)}


def test_an_addressee_that_is_also_the_senders_hub_is_an_addressee_not_a_copy_holder() -> None:
    w = World()
    request = msg(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300", "bureau:330000"])
    assert routes(w.route(request)) == {
        ("bureau:440000", Rule.HUB_INBOUND),
        ("bureau:330000", Rule.VERTICAL),
    }
    reply = _answer(Kind.ASSISTANCE_REPLY, "bureau:330000", request, {"findings": "f", "complete": True})
    assert routes(w.route(reply)) == {("bureau:330681", Rule.REPLY)}


# ---- jurisdiction designation ----


def test_a_plain_transfer_recipient_cannot_designate_jurisdiction() -> None:
    w = World()
    transfer = msg(Kind.CASE_TRANSFER, "bureau:330106", ["bureau:330600"], case_id="HZ-1")
    assert routes(w.route(transfer)) == {("bureau:330600", Rule.TRANSFER)}
    designation = msg(
        Kind.JURISDICTION_DESIGNATION,
        "bureau:330600",
        [],
        body={"designated": "bureau:330681"},
        case_id="HZ-1",
        in_reply_to=transfer.envelope.message_id,
    )
    error = refused(w, designation)
    assert error.field == "envelope.sender" and "transfer.no_retransfer" in error.reason


def test_the_senders_hub_with_a_copy_of_a_transfer_cannot_designate() -> None:
    w = World()
    transfer = msg(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:440300"], case_id="ZJ-1")
    assert ("bureau:330000", Rule.HUB_OUTBOUND) in routes(w.route(transfer))
    designation = msg(
        Kind.JURISDICTION_DESIGNATION,
        "bureau:330000",
        [],
        body={"designated": "bureau:330681"},
        case_id="ZJ-1",
        in_reply_to=transfer.envelope.message_id,
    )
    assert refused(w, designation).field == "envelope.sender"


# ---- no re-transfer, whatever the case id ----


def _transferred_to_yuecheng(w: World) -> None:
    first = msg(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330602"], case_id="ZJ-ZJ-2019-0042")
    assert routes(w.route(first)) == {("bureau:330602", Rule.TRANSFER)}


def test_a_renumbered_retransfer_still_goes_to_the_common_superior() -> None:
    w = World()
    _transferred_to_yuecheng(w)
    onward = msg(Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330106"], case_id="YC-2019-0777")
    decision = w.route(onward)
    assert routes(decision) == {("bureau:330600", Rule.NO_RETRANSFER)}
    assert "same company" in decision.deliveries[0].reason
    assert CASE_FACTS["company_credit_code"] not in decision.deliveries[0].reason


def test_a_renumbered_retransfer_with_updated_counts_still_goes_to_the_common_superior() -> None:
    w = World()
    _transferred_to_yuecheng(w)
    grown = {**CASE_FACTS, "records": [{"category": "other", "provided": 999}], "illegal_income_cny": "3000"}
    onward = msg(Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330106"], case_id="YC-9", case=True)
    onward = _with_facts(onward, grown)
    assert routes(w.route(onward)) == {("bureau:330600", Rule.NO_RETRANSFER)}


def test_a_case_about_another_company_is_transferred() -> None:
    w = World()
    _transferred_to_yuecheng(w)
    other = _with_facts(
        msg(Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330106"], case_id="YC-2"), OTHER_COMPANY
    )
    assert routes(w.route(other)) == {("bureau:330106", Rule.TRANSFER)}


def test_the_designated_bureau_holds_the_case_under_any_number() -> None:
    w = World()
    _transferred_to_yuecheng(w)
    onward = msg(Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330106"], case_id="YC-1")
    w.route(onward)
    designation = msg(
        Kind.JURISDICTION_DESIGNATION,
        "bureau:330600",
        [],
        body={"designated": "bureau:330681"},
        case_id="YC-1",
        in_reply_to=onward.envelope.message_id,
    )
    assert ("bureau:330681", Rule.DESIGNATION) in routes(w.route(designation))
    # the superior that designated decides again
    again = msg(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330106"], case_id="ZJ-5")
    assert routes(w.route(again)) == {("bureau:330600", Rule.NO_RETRANSFER)}


def _with_facts(message: Message, facts: dict[str, Any]) -> Message:
    env = message.envelope.model_copy(update={"case": CaseFacts.model_validate(facts)})
    return message.model_copy(update={"envelope": env})


# ---- the same rule on the router's SQL memory ----


class SqlWorld:
    """Routes with a SqlRoutingMemory, recording each decision as the router does."""

    def __init__(self, memory: SqlRoutingMemory) -> None:
        self.memory = memory
        self.ctx = RoutingContext(default_registry(), PARTICIPANTS, memory)

    def route(self, message: Message) -> RoutingDecision:
        decision = decide(message, self.ctx)
        self.memory.begin([(RoutedRecord.of(message, decision), str(message.envelope.message_id))])
        return decision


@pytest.fixture(params=["sqlite", "postgres"])
def sql_memory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlRoutingMemory]:
    if request.param == "postgres" and not postgres_reachable():
        pytest.skip("no PostgreSQL for the multi-replica memory")
    with temporary_database(request.param, tmp_path) as url:
        memory = SqlRoutingMemory(url)
        try:
            yield memory
        finally:
            memory.close()


def test_sql_memory_keeps_what_is_pending_until_a_message_is_routed(sql_memory: SqlRoutingMemory) -> None:
    """A redelivered input finds its unconfirmed deliveries while it is routing, and nothing
    pending once every output is confirmed (which marks the message, not each delivery again)."""
    w = SqlWorld(sql_memory)
    to = ["bureau:330602", "bureau:330681"]
    whole, partly, never = (
        w.route(msg(Kind.CASE_NOTICE, "bureau:330600", to, case_id=f"SX-{n}")) for n in range(3)
    )
    assert len(partly.deliveries) == 2, partly.deliveries
    first = partly.deliveries[0].recipient
    sql_memory.confirmed(
        {whole.message_id: [d.recipient for d in whole.deliveries], partly.message_id: [first]},
        {whole.message_id},
    )
    seen = sql_memory.seen([whole.message_id, partly.message_id, never.message_id, uuid4()])
    assert (seen[whole.message_id].state, seen[whole.message_id].pending) == (State.ROUTED, frozenset())
    assert seen[partly.message_id].state is State.ROUTING
    assert seen[partly.message_id].pending == {d.recipient for d in partly.deliveries} - {first}
    assert seen[never.message_id].pending == {d.recipient for d in never.deliveries}
    assert len(seen) == 3


def test_sql_memory_refuses_a_renumbered_retransfer(sql_memory: SqlRoutingMemory) -> None:
    w = SqlWorld(sql_memory)
    first = w.route(msg(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330602"], case_id="ZJ-1"))
    assert sql_memory.original(first.message_id) is not None
    onward = w.route(msg(Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330106"], case_id="YC-77"))
    assert routes(onward) == {("bureau:330600", Rule.NO_RETRANSFER)}
    designation = w.route(
        msg(
            Kind.JURISDICTION_DESIGNATION,
            "bureau:330600",
            [],
            body={"designated": "bureau:330681"},
            case_id="YC-77",
            in_reply_to=onward.message_id,
        )
    )
    assert ("bureau:330681", Rule.DESIGNATION) in routes(designation)
    again_message = msg(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330106"], case_id="XH-5")
    again = w.route(again_message)
    assert routes(again) == {("bureau:330600", Rule.NO_RETRANSFER)}  # the designator decides again
    again_subjects = RoutedRecord.of(again_message, again).subjects
    held = sql_memory.subject_received_by_transfer(again_subjects, Address.parse("bureau:330681"))
    assert again_subjects and held is not None and held.message_id == designation.message_id
    other = msg(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330106"], case_id="XH-6")
    assert routes(w.route(_with_facts(other, OTHER_COMPANY))) == {("bureau:330106", Rule.TRANSFER)}
    assert sql_memory.prune(older_than_days=-1) == 5
    assert sql_memory.subject_received_by_transfer(again_subjects, Address.parse("bureau:330681")) is None


def test_a_memory_written_before_case_subjects_is_still_read(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old-router.sqlite3'}"
    old = create_engine(url)
    routed.metadata.create_all(old, tables=[routed, deliveries])
    with old.begin() as conn:
        conn.execute(
            routed.insert().values(
                message_id="5eed0000-0000-4000-8000-000000000001",
                kind="case_transfer",
                sender="bureau:330681",
                case_id="ZJ-1",
                to_json=json.dumps(["bureau:330602"]),
                handling_json="[]",
                digest="d",
                state="routed",
                routed_at=datetime.now(UTC).timestamp(),
            )
        )
        conn.execute(
            deliveries.insert().values(
                message_id="5eed0000-0000-4000-8000-000000000001",
                recipient="bureau:330602",
                rule=Rule.TRANSFER.value,
                confirmed=1,
            )
        )
    old.dispose()
    memory = SqlRoutingMemory(url)
    try:
        w = SqlWorld(memory)
        same_id = msg(Kind.CASE_TRANSFER, "bureau:330602", ["bureau:330106"], case_id="ZJ-1")
        assert routes(w.route(same_id)) == {("bureau:330600", Rule.NO_RETRANSFER)}
        # records written from now on carry what the case is about
        w.route(msg(Kind.CASE_TRANSFER, "bureau:330681", ["bureau:330600"], case_id="ZJ-2"))
        renumbered = w.route(msg(Kind.CASE_TRANSFER, "bureau:330600", ["bureau:330106"], case_id="SX-2"))
        # Shaoxing disputes what its own county sent it: the superior above both designates
        assert routes(renumbered) == {("bureau:330000", Rule.NO_RETRANSFER)}
    finally:
        memory.close()


# ---- times near the router's clock ----

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def _clocked() -> World:
    w = World()
    w.ctx = replace(w.ctx, now=NOW)
    return w


def _sent(message: Message, at: datetime) -> Message:
    return message.model_copy(update={"envelope": message.envelope.model_copy(update={"sent_at": at})})


@pytest.mark.parametrize(
    "sent_at",
    [
        datetime(2099, 1, 1, tzinfo=UTC),
        datetime(2001, 1, 1, tzinfo=UTC),
        NOW + CLOCK_SKEW + timedelta(seconds=1),
        NOW - SENT_AT_MAX_AGE - timedelta(seconds=1),
    ],
    ids=["2099", "2001", "just-ahead", "just-too-old"],
)
def test_a_sent_at_far_from_the_routers_clock_is_refused(sent_at: datetime) -> None:
    message = _sent(msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"]), sent_at)
    error = refused(_clocked(), message)
    assert error.field == "envelope.sent_at"
    assert "broker's clock" in error.reason and str(sent_at.year) not in error.reason


@pytest.mark.parametrize(
    "sent_at",
    [NOW + CLOCK_SKEW, NOW - SENT_AT_MAX_AGE, NOW - timedelta(days=3)],
    ids=["ahead", "old", "recent"],
)
def test_a_sent_at_within_the_window_is_routed(sent_at: datetime) -> None:
    message = _sent(msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"]), sent_at)
    assert routes(_clocked().route(message)) == {("bureau:330600", Rule.VERTICAL)}


def _referral_approved(at: datetime) -> Message:
    body = referral_body(CaseFacts.model_validate(REFERRAL_FACTS), "head", at.isoformat())
    return _sent(msg(Kind.POLICE_REFERRAL, "bureau:330681", [], body=body), NOW)


@pytest.mark.parametrize(
    ("approved_at", "why"),
    [
        (datetime(9999, 1, 1, tzinfo=UTC), "ahead of the broker's clock"),
        (NOW + CLOCK_SKEW + timedelta(seconds=1), "ahead of the broker's clock"),
        (NOW - APPROVAL_MAX_AGE - timedelta(seconds=1), "before the broker's clock"),
        (datetime(2001, 1, 1, tzinfo=UTC), "before the broker's clock"),
    ],
    ids=["9999", "just-ahead", "just-too-old", "2001"],
)
def test_a_referral_approved_far_from_the_routers_clock_is_refused(approved_at: datetime, why: str) -> None:
    error = refused(_clocked(), _referral_approved(approved_at))
    assert error.field == "body.approved_at" and why in error.reason
    assert str(approved_at.year) not in error.reason


def test_a_referral_approved_after_it_was_sent_is_refused() -> None:
    message = _referral_approved(NOW - timedelta(minutes=1))
    message = _sent(message, NOW - timedelta(hours=2))
    error = refused(_clocked(), message)
    assert error.field == "body.approved_at" and "sent_at" in error.reason


def test_a_referral_approved_hours_or_months_ago_is_routed() -> None:
    for approved_at in (NOW - timedelta(hours=20), NOW - timedelta(days=60)):
        decision = _clocked().route(_referral_approved(approved_at))
        assert ("police:330681", Rule.POLICE_REFERRAL) in routes(decision)


def test_without_a_clock_times_are_not_judged() -> None:
    """Replays and test desks route old traffic without a clock; the router always passes one."""
    message = _sent(
        msg(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"]), datetime(2001, 1, 1, tzinfo=UTC)
    )
    assert World().ctx.now is None
    assert routes(World().route(message)) == {("bureau:330600", Rule.VERTICAL)}
