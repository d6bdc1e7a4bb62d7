"""The router's pipeline (broker/router/) without a broker or a database: every step, and the
settle actions (ack all with one multiple-ack, park, hold, dead-letter), against in-memory fakes of
the pipeline's protocols (broker/router/ports.py)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from broker.domain.address import Address
from broker.domain.jurisdictions import default_registry
from broker.domain.messages import Kind, Message
from broker.domain.routing import InMemoryRoutingMemory, RoutedRecord
from broker.router.authenticate import authenticate, check, transport_check
from broker.router.decide import Policy, route
from broker.router.deduplicate import deduplicate
from broker.router.outcomes import Attempt, Checked, Duplicate, Quarantine, Route
from broker.router.outputs import PARK_TOKEN, REFUSAL_TOKEN
from broker.router.pipeline import Pipeline
from broker.router.ports import Seen, State
from broker.router.settle import Action, Confirms, read_confirms, settle, settle_alone
from tests.support.messages import msg
from tests.support.router_fakes import (
    PEOPLE,
    SENDER,
    TO,
    FakeMemory,
    FakePublisher,
    body_of,
    inputs,
    pipeline,
    user,
)

SUPERIOR = "bureau:330600"


def escalation() -> Message:
    return msg(Kind.ESCALATION, SENDER, [])


def checked(message: Message) -> Checked:
    raw = body_of(message)
    return Checked(message, hashlib.sha256(raw).hexdigest(), raw)


# ---- authenticate ----


def test_a_whole_delivery_passes_the_transport_check() -> None:
    (delivery,) = inputs(b"{}")
    assert transport_check(delivery) is None


def test_undecodable_properties_are_quarantined_naming_the_first() -> None:
    (delivery,) = inputs(b"{}")
    delivery.transport_problems = [("content_type", "is not valid UTF-8"), ("user_id", "cannot be decoded")]
    refused = transport_check(delivery)
    assert refused is not None and refused.stage == "transport"
    assert refused.field == "properties.content_type"
    assert "is not valid UTF-8 (and 1 more)" in refused.reason


def test_a_message_out_of_contract_is_quarantined_at_the_contract() -> None:
    refused = check(b'{"envelope": {}}', user(SENDER), PEOPLE)
    assert isinstance(refused, Quarantine) and refused.stage == "contract" and refused.field


@pytest.mark.parametrize(
    ("user_id", "field", "says"),
    [
        (None, "user_id", "no validated user_id"),
        ("guest", "user_id", "not a provisioned participant"),
        ("bureau-330600", "envelope.sender", f"may send as {SUPERIOR} only, not {SENDER}"),
    ],
)
def test_a_sender_the_publisher_may_not_send_as_is_quarantined(
    user_id: str | None, field: str, says: str
) -> None:
    refused = authenticate(SENDER, user_id, PEOPLE)
    assert refused is not None and refused.stage == "authentication"
    assert refused.field == field and says in refused.reason


def test_a_message_from_its_own_sender_passes_with_the_digest_of_its_bytes() -> None:
    raw = body_of(escalation())
    passed = check(raw, user(SENDER), PEOPLE)
    assert isinstance(passed, Checked)
    assert passed.body == raw and passed.digest == hashlib.sha256(raw).hexdigest()


# ---- deduplicate ----


def test_an_unseen_message_is_a_new_attempt() -> None:
    assert deduplicate(checked(escalation()), None, None) == Attempt()


def test_a_message_routed_before_is_a_duplicate() -> None:
    c = checked(escalation())
    assert deduplicate(c, Seen(State.ROUTED, c.digest, frozenset()), None) == Duplicate(
        str(c.message.envelope.message_id)
    )


def test_a_message_recorded_but_not_confirmed_resumes_with_what_is_pending() -> None:
    c = checked(escalation())
    pending = frozenset({Address.parse(SUPERIOR)})
    assert deduplicate(c, Seen(State.ROUTING, c.digest, pending), None) == Attempt(resume=pending)


def test_a_message_already_in_the_batch_is_a_duplicate() -> None:
    c = checked(escalation())
    assert isinstance(deduplicate(c, None, c.digest), Duplicate)
    assert isinstance(deduplicate(c, Seen(State.ROUTING, c.digest, frozenset()), c.digest), Duplicate)


@pytest.mark.parametrize("where", ["outbox", "batch"])
def test_a_reused_message_id_with_other_bytes_is_quarantined(where: str) -> None:
    c = checked(escalation())
    seen = Seen(State.ROUTED, "other", frozenset()) if where == "outbox" else None
    refused = deduplicate(c, seen, "other" if where == "batch" else None)
    assert isinstance(refused, Quarantine)
    assert (refused.stage, refused.field) == ("duplicate", "envelope.message_id")


# ---- decide ----

POLICY = Policy(default_registry(), PEOPLE.addresses, timedelta(minutes=5))


def test_a_new_route_goes_to_every_recipient() -> None:
    outcome = route(checked(escalation()), Attempt(), InMemoryRoutingMemory(), POLICY, datetime.now(UTC))
    assert isinstance(outcome, Route) and outcome.new
    assert outcome.pending == frozenset({Address.parse(SUPERIOR)})


def test_a_resumed_route_goes_only_to_the_recipients_still_pending() -> None:
    outcome = route(
        checked(escalation()), Attempt(resume=frozenset()), InMemoryRoutingMemory(), POLICY, datetime.now(UTC)
    )
    assert isinstance(outcome, Route) and not outcome.new and outcome.pending == frozenset()


def test_a_refused_route_is_quarantined_at_routing() -> None:
    wrong = msg(Kind.ESCALATION, SENDER, ["bureau:330000"])
    refused = route(checked(wrong), Attempt(), InMemoryRoutingMemory(), POLICY, datetime.now(UTC))
    assert isinstance(refused, Quarantine) and (refused.stage, refused.field) == ("routing", "envelope.to")


# ---- settle (pure) ----


def test_confirms_mark_what_was_delivered_and_what_failed() -> None:
    a, b = (
        route(checked(escalation()), Attempt(), InMemoryRoutingMemory(), POLICY, datetime.now(UTC))
        for _ in range(2)
    )
    assert isinstance(a, Route) and isinstance(b, Route)
    confirms = read_confirms([a, b, Quarantine("contract", "$", "r")], {(1, SUPERIOR), (2, REFUSAL_TOKEN)})
    assert confirms.failed == (1,)
    assert confirms.missed_refusals == (2,)
    assert confirms.done == {a.decision.message_id: [Address.parse(SUPERIOR)], b.decision.message_id: []}
    assert confirms.finished == {a.decision.message_id}


def test_a_batch_with_nothing_refused_and_nothing_held_is_acked_all_at_once() -> None:
    confirms = Confirms(failed=(), missed_refusals=(), done={}, finished=set())
    assert settle(3, confirms, set(), holding=False).ack_all
    held_elsewhere = settle(3, confirms, set(), holding=True)
    assert not held_elsewhere.ack_all
    assert held_elsewhere.actions == {0: Action.ACK, 1: Action.ACK, 2: Action.ACK}


def test_refused_inputs_are_acked_once_parked_and_held_when_parking_failed() -> None:
    confirms = Confirms(failed=(0, 2), missed_refusals=(), done={}, finished=set())
    settlement = settle(3, confirms, parked={0}, holding=False)
    assert not settlement.ack_all
    assert settlement.actions == {0: Action.ACK, 1: Action.ACK, 2: Action.HOLD}


def test_a_lone_failing_input_is_acked_only_when_its_quarantine_copy_is_confirmed() -> None:
    assert settle_alone(set()) is Action.ACK
    assert settle_alone({(0, REFUSAL_TOKEN)}) is Action.ACK
    assert settle_alone({(0, "quarantine")}) is Action.DEAD_LETTER
    assert settle_alone(None) is Action.DEAD_LETTER


# ---- the pipeline, a batch at a time ----


def test_a_routed_batch_is_recorded_published_confirmed_and_acked_with_one_multiple_ack() -> None:
    memory = FakeMemory()
    p = pipeline(memory)
    messages = [escalation() for _ in range(3)]
    batch = inputs(*(body_of(m) for m in messages))
    publisher = FakePublisher()

    held = p.handle_batch(batch, publisher, holding=False)

    assert held == []
    assert batch[0].settled == [("ack", 3, True)]
    copies = publisher.to(TO.deliver)
    assert [c.routing_key for c in copies] == [SUPERIOR] * 3
    assert all(c.body == body_of(m) for c, m in zip(copies, messages, strict=True))
    assert [c.properties["user_id"] for c in copies] == [user(SENDER)] * 3
    records = [json.loads(r.body) for r in publisher.to(TO.routing_log)]
    assert [r["event"] for r in records] == ["routed"] * 3
    assert all(memory.states[m.envelope.message_id].state is State.ROUTED for m in messages)
    assert (p.counters.received, p.counters.routed, p.counters.deliveries) == (3, 3, 3)


def test_an_input_whose_copy_is_refused_is_parked_on_the_retry_queue_and_acked() -> None:
    memory = FakeMemory()
    p = pipeline(memory)
    messages = [escalation() for _ in range(2)]
    batch = inputs(*(body_of(m) for m in messages))
    refused_body = body_of(messages[1])
    publisher = FakePublisher(refuse=lambda pub: pub.exchange == TO.deliver and pub.body == refused_body)

    held = p.handle_batch(batch, publisher, holding=False)

    assert held == []
    (parked,) = publisher.to("")
    assert (parked.routing_key, parked.mandatory, parked.token) == (TO.retry_queue, True, (0, PARK_TOKEN))
    assert parked.body == refused_body and parked.properties["user_id"] == user(SENDER)
    assert batch[0].settled == [("ack", 1, False), ("ack", 2, False)], "one by one: no multiple-ack"
    assert memory.states[messages[0].envelope.message_id].state is State.ROUTED
    unfinished = memory.states[messages[1].envelope.message_id]
    assert unfinished.state is State.ROUTING and unfinished.pending == {Address.parse(SUPERIOR)}
    assert (p.counters.routed, p.counters.retried) == (1, 1)


def test_an_input_the_retry_queue_refuses_too_is_held_unacked() -> None:
    p = pipeline()
    message = escalation()
    batch = inputs(body_of(message), body_of(escalation()))
    publisher = FakePublisher(
        refuse=lambda pub: pub.body == batch[0].body and pub.exchange in (TO.deliver, "")
    )

    held = p.handle_batch(batch, publisher, holding=False)

    assert held == [batch[0]]
    assert batch[0].settled == [("ack", 2, False)], "the held input stays unacked; no multiple-ack over it"
    assert p.counters.retried == 1


def test_an_input_held_from_an_earlier_batch_keeps_later_batches_from_acking_all_at_once() -> None:
    batch = inputs(body_of(escalation()), body_of(escalation()))
    pipeline().handle_batch(batch, FakePublisher(), holding=True)
    assert batch[0].settled == [("ack", 1, False), ("ack", 2, False)]


def test_a_refused_input_is_quarantined_with_a_refusal_notice_to_its_publisher() -> None:
    p = pipeline()
    wrong = msg(Kind.ESCALATION, SENDER, ["bureau:330000"])
    batch = inputs(body_of(wrong))
    publisher = FakePublisher()

    p.handle_batch(batch, publisher, holding=False)

    (copy,) = publisher.to(TO.quarantine)
    assert copy.body == batch[0].body
    assert copy.properties["application_headers"]["x-quarantine-stage"] == "routing"
    (notice,) = publisher.to(TO.deliver)
    assert notice.routing_key == SENDER and notice.token == (0, REFUSAL_TOKEN)
    assert json.loads(notice.body)["envelope"]["kind"] == "delivery_refused"
    (record,) = [json.loads(r.body) for r in publisher.to(TO.routing_log)]
    assert record["event"] == "quarantined" and record["refusal_notice"]["to"] == SENDER
    assert batch[0].settled == [("ack", 1, True)]
    assert (p.counters.quarantined, p.counters.refusals) == (1, 1)


def test_a_refusal_notice_the_inbox_does_not_take_does_not_hold_its_input() -> None:
    p = pipeline()
    batch = inputs(b'{"envelope": {}}', body_of(escalation()))
    publisher = FakePublisher(refuse=lambda pub: pub.token[1] == REFUSAL_TOKEN)

    held = p.handle_batch(batch, publisher, holding=False)

    assert held == [] and publisher.to("") == [], "nothing parked"
    assert batch[0].settled == [("ack", 2, True)]
    assert p.counters.retried == 0


def test_input_without_a_validated_user_is_quarantined_without_a_notice() -> None:
    p = pipeline()
    (delivery,) = inputs(body_of(escalation()))
    delivery.properties.pop("user_id")
    publisher = FakePublisher()
    p.handle_batch([delivery], publisher, holding=False)
    (copy,) = publisher.to(TO.quarantine)
    assert copy.properties["application_headers"]["x-quarantine-stage"] == "authentication"
    assert publisher.to(TO.deliver) == []


def test_the_same_message_twice_in_a_batch_is_routed_once() -> None:
    p = pipeline()
    raw = body_of(escalation())
    batch = inputs(raw, raw)
    publisher = FakePublisher()
    p.handle_batch(batch, publisher, holding=False)
    assert len(publisher.to(TO.deliver)) == 1
    assert (p.counters.routed, p.counters.duplicates) == (1, 1)
    assert batch[0].settled == [("ack", 2, True)]


def test_a_message_routed_in_an_earlier_batch_is_dropped_as_a_duplicate() -> None:
    memory = FakeMemory()
    raw = body_of(escalation())
    pipeline(memory).handle_batch(inputs(raw), FakePublisher(), holding=False)
    p, publisher = pipeline(memory), FakePublisher()
    batch = inputs(raw)
    p.handle_batch(batch, publisher, holding=False)
    assert publisher.published == [] and p.counters.duplicates == 1
    assert batch[0].settled == [("ack", 1, True)]


def test_a_redelivery_after_a_partial_confirm_publishes_only_the_missing_copies() -> None:
    memory = FakeMemory()
    message = escalation()
    raw = body_of(message)
    pipeline(memory).handle_batch(
        inputs(raw), FakePublisher(refuse=lambda pub: pub.exchange == TO.deliver), False
    )
    assert memory.states[message.envelope.message_id].pending == {Address.parse(SUPERIOR)}
    memory.states[message.envelope.message_id] = Seen(
        State.ROUTING, hashlib.sha256(raw).hexdigest(), frozenset()
    )

    publisher = FakePublisher()
    pipeline(memory).handle_batch(inputs(raw), publisher, holding=False)

    assert publisher.to(TO.deliver) == [], "nothing left to deliver"
    assert [json.loads(r.body)["event"] for r in publisher.to(TO.routing_log)] == ["routed"]
    assert memory.states[message.envelope.message_id].state is State.ROUTED


def test_a_decision_another_replica_recorded_first_is_left_to_it() -> None:
    message = escalation()
    memory = FakeMemory(taken_by_replica={message.envelope.message_id})
    p, publisher = pipeline(memory), FakePublisher()
    batch = inputs(body_of(message))
    p.handle_batch(batch, publisher, holding=False)
    assert publisher.published == [] and p.counters.duplicates == 1
    assert batch[0].settled == [("ack", 1, True)]


class BrokenIndex(FakeMemory):
    """A routing index with a bug that answers to one kind of lookup only."""

    def original(self, message_id: UUID) -> RoutedRecord | None:
        raise RuntimeError("a bug")


def test_a_bug_while_routing_one_input_quarantines_that_input_only() -> None:
    p, publisher = pipeline(BrokenIndex()), FakePublisher()
    reply = msg(Kind.ASSISTANCE_REPLY, SENDER, [SUPERIOR], in_reply_to=UUID(int=7))
    batch = inputs(body_of(reply), body_of(escalation()))
    p.handle_batch(batch, publisher, holding=False)
    (copy,) = publisher.to(TO.quarantine)
    assert copy.properties["application_headers"]["x-quarantine-stage"] == "internal"
    assert "a bug" not in copy.properties["application_headers"]["x-quarantine-reason"]
    assert (p.counters.routed, p.counters.quarantined) == (1, 1)


def test_an_infrastructure_error_while_routing_ends_the_batch_unsettled() -> None:
    class AwayIndex(FakeMemory):
        def original(self, message_id: UUID) -> RoutedRecord | None:
            raise ConnectionError("database away")

    reply = msg(Kind.ASSISTANCE_REPLY, SENDER, [SUPERIOR], in_reply_to=UUID(int=7))
    batch = inputs(body_of(reply))
    with pytest.raises(ConnectionError):
        pipeline(AwayIndex()).handle_batch(batch, FakePublisher(), holding=False)
    assert batch[0].settled == []


def test_memory_operations_go_through_the_guard() -> None:
    p = pipeline()
    guarded: list[str] = []

    def guard(operation: Any, what: str) -> Any:
        guarded.append(what)
        return operation()

    p.guard = guard
    p.handle_batch(inputs(body_of(escalation())), FakePublisher(), holding=False)
    assert guarded == ["reading routing memory", "recording decisions", "recording confirms"]


# ---- a lone failing input (the consumer's isolation mode) ----


def test_a_lone_failing_input_is_quarantined_as_internal_and_acked() -> None:
    p, publisher = pipeline(), FakePublisher()
    (delivery,) = inputs(body_of(escalation()))
    p.quarantine_alone(delivery, publisher, RuntimeError("secret detail"))
    (copy,) = publisher.to(TO.quarantine)
    headers = copy.properties["application_headers"]
    assert (
        headers["x-quarantine-stage"] == "internal" and "secret detail" not in headers["x-quarantine-reason"]
    )
    assert delivery.settled == [("ack", 1, False)]
    assert (p.counters.quarantined, p.counters.dead_lettered) == (1, 0)


@pytest.mark.parametrize("how", ["copy refused", "publish fails"])
def test_a_lone_failing_input_that_cannot_be_quarantined_is_dead_lettered(how: str) -> None:
    p = pipeline()
    if how == "copy refused":
        publisher = FakePublisher(refuse=lambda pub: pub.exchange == TO.quarantine)
    else:
        publisher = FakePublisher(raise_on=lambda pub: RuntimeError("another bug"))
    (delivery,) = inputs(body_of(escalation()))
    p.quarantine_alone(delivery, publisher, RuntimeError("a bug"))
    assert delivery.settled == [("reject", 1, False)]
    assert (p.counters.quarantined, p.counters.dead_lettered) == (0, 1)


def test_a_lone_failing_input_is_left_unsettled_when_the_broker_goes_away() -> None:
    publisher = FakePublisher(raise_on=lambda pub: ConnectionError("broker away"))
    (delivery,) = inputs(body_of(escalation()))
    with pytest.raises(ConnectionError):
        pipeline().quarantine_alone(delivery, publisher, RuntimeError("a bug"))
    assert delivery.settled == []


# ---- layering ----


def test_the_pipeline_imports_no_broker_or_database_library() -> None:
    code = (
        "import sys\n"
        "import broker.router.pipeline, broker.router.settle, broker.router.ports\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('kombu', 'pika', 'amqp', 'sqlalchemy'))\n"
        "print(bad); sys.exit(bool(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


# ---- quarantine shares and sender rates (broker/router/shares.py, rates.py) ----


def shared_pipeline(memory: FakeMemory | None = None, burst: int = 1, **limits: Any) -> Pipeline:
    from broker.router.rates import SenderRates
    from broker.router.shares import QuarantineShares, ShareLimits

    p = pipeline(memory)
    p.shares = QuarantineShares(ShareLimits(**limits))
    p.rates = SenderRates(rate=0.001, burst=burst)
    return p


def quarantined_headers(publisher: FakePublisher) -> list[dict[str, Any]]:
    return [c.properties["application_headers"] for c in publisher.to(TO.quarantine)]


def test_valid_input_over_its_rate_keeps_an_entry_and_a_notice_past_the_share() -> None:
    p, publisher = shared_pipeline(burst=3, bodies=1, entries=2), FakePublisher()
    bad = inputs(b"not JSON", b"not JSON either")
    p.handle_batch(bad, publisher, holding=False)  # the share used up; the next would be folded
    fast = inputs(*(body_of(escalation()) for _ in range(4)))
    p.handle_batch(fast, publisher, holding=False)
    stages = [h["x-quarantine-stage"] for h in quarantined_headers(publisher)]
    # the bad two and the first escalation took the three tokens; the three after it are refused
    assert stages == ["contract", "contract", "rate", "rate", "rate"]
    assert p.counters.routed == 1 and p.counters.folded == 0
    notices = [json.loads(n.body) for n in publisher.to(TO.deliver) if n.token[1] == REFUSAL_TOKEN]
    refused_ids = {n["body"].get("refused_message_id") for n in notices if n["body"]["stage"] == "rate"}
    assert refused_ids == {json.loads(f.body)["envelope"]["message_id"] for f in fast[1:]}


def test_an_internal_refusal_is_kept_whole_whatever_the_share() -> None:
    p, publisher = shared_pipeline(BrokenIndex(), bodies=0, entries=0), FakePublisher()
    reply = msg(Kind.ASSISTANCE_REPLY, SENDER, [SUPERIOR], in_reply_to=UUID(int=7))
    batch = inputs(body_of(reply))
    p.handle_batch(batch, publisher, holding=False)
    (copy,) = publisher.to(TO.quarantine)
    assert copy.properties["application_headers"]["x-quarantine-stage"] == "internal"
    assert copy.body == batch[0].body and "x-quarantine-body" not in copy.properties["application_headers"]


def test_the_brokers_own_input_is_neither_rate_limited_nor_folded() -> None:
    p, publisher = shared_pipeline(bodies=0, entries=0), FakePublisher()
    batch = inputs(*(b"not JSON" for _ in range(3)), sender="system:000000")
    p.handle_batch(batch, publisher, holding=False)
    copies = publisher.to(TO.quarantine)
    assert [c.properties["application_headers"]["x-quarantine-stage"] for c in copies] == ["contract"] * 3
    assert all(c.body == b"not JSON" for c in copies)
