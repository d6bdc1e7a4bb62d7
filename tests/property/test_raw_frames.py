"""Issue 10: raw AMQP frames with arbitrary properties and header values, through a real RabbitMQ.

Each example publishes a burst of messages whose property list is written byte by byte (short
strings that are not UTF-8, timestamps and decimals of any value, nested tables and arrays of every
field type RabbitMQ accepts, bodies valid or not), interleaved with valid traffic. The router must
never stop; every input must be counted as routed, quarantined or dead-lettered; every valid
neighbour must reach its recipient (exactly once after deduplication).
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from broker.domain.address import Address
from broker.domain.messages import Kind
from broker.transport import topology
from broker.transport.client import ParticipantClient
from tests.support.deployment import Deployment
from tests.support.messages import msg
from tests.support.queues import drain_ids
from tests.support.raw_amqp import FieldValue, RawPublisher
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

SENDER, RECIPIENT = "bureau:330681", "bureau:330600"
EXAMPLES = int(os.environ.get("RB_RAW_FRAME_EXAMPLES", "80"))
BURST = 25
"""Raw messages per example: EXAMPLES x BURST frames in all (2,000 by default), with a valid
neighbour after every fifth."""

short = st.binary(max_size=24)
scalars: st.SearchStrategy[FieldValue] = st.one_of(
    st.tuples(st.just("S"), st.binary(max_size=64)),
    st.tuples(st.just("x"), st.binary(max_size=16)),
    st.tuples(st.just("T"), st.integers(0, 2**64 - 1)),
    st.tuples(st.just("D"), st.tuples(st.integers(0, 255), st.integers(-(2**31), 2**31 - 1))),
    st.tuples(st.just("t"), st.booleans()),
    st.tuples(st.just("b"), st.integers(-128, 127)),
    st.tuples(st.just("s"), st.integers(-(2**15), 2**15 - 1)),
    st.tuples(st.just("I"), st.integers(-(2**31), 2**31 - 1)),
    st.tuples(st.just("l"), st.integers(-(2**63), 2**63 - 1)),
    # RabbitMQ 3.10 closes the publisher's channel on a NaN or infinite float (Erlang has none)
    st.tuples(st.just("f"), st.floats(width=32, allow_nan=False, allow_infinity=False)),
    st.tuples(st.just("d"), st.floats(allow_nan=False, allow_infinity=False)),
    st.tuples(st.just("V"), st.none()),
)
values: st.SearchStrategy[FieldValue] = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.tuples(st.just("F"), st.lists(st.tuples(short, inner), max_size=4)),
        st.tuples(st.just("A"), st.lists(inner, max_size=4)),
    ),
    max_leaves=12,
)
headers = st.lists(st.tuples(short, values), max_size=6)


@st.composite
def raw_message(draw: Any, user: bytes, valid_body: bytes) -> tuple[bytes, dict[str, Any]]:
    properties: dict[str, Any] = {}
    for name in ("content_type", "content_encoding", "correlation_id", "reply_to", "message_id", "type"):
        if draw(st.booleans()):
            properties[name] = draw(short)
    for name in ("app_id", "cluster_id"):
        if draw(st.integers(0, 3)) == 0:
            properties[name] = draw(short)
    if draw(st.booleans()):
        properties["application_headers"] = draw(headers)
    if draw(st.booleans()):
        properties["delivery_mode"] = draw(st.sampled_from([1, 2]))  # RabbitMQ refuses any other
    if draw(st.booleans()):
        properties["priority"] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        properties["timestamp"] = draw(st.integers(0, 2**64 - 1))
    if draw(st.integers(0, 9)):  # mostly authenticated; RabbitMQ refuses any other user_id itself
        properties["user_id"] = user
    body = valid_body if draw(st.booleans()) else draw(st.binary(max_size=200))
    return body, properties


def _outcomes(dep: Deployment) -> Counter[str]:
    c = dep.router.counters
    return Counter(
        routed=c.routed,
        quarantined=c.quarantined,
        duplicates=c.duplicates,
        dead_lettered=c.dead_lettered,
        received=c.received,
        retried=c.retried,
        sessions=c.sessions,
    )


def _settled(dep: Deployment) -> int:
    c = dep.router.counters
    return int(c.routed + c.quarantined + c.duplicates + c.dead_lettered)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: each replay costs a burst
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(data=st.data())
def test_arbitrary_frames_never_stop_the_router(deployment: Deployment, data: Any) -> None:
    dep = deployment
    user = dep.participants.username(Address.parse(SENDER)).encode()
    client = ParticipantClient(dep.url_for(SENDER), SENDER)  # closed per example: connections are limited
    before = _settled(dep)
    outcomes_before = _outcomes(dep)
    # everything is drawn before anything is published: an example hypothesis abandons mid-draw
    # (its data budget spent) must leave nothing behind in the router's counts
    frames = [
        (
            *data.draw(raw_message(user, msg(Kind.ESCALATION, SENDER, []).model_dump_json().encode())),
            data.draw(short),
        )
        for _ in range(BURST)
    ]
    raw = RawPublisher(dep.url_for(SENDER))
    neighbours = []
    published = 0
    try:
        for index, (body, properties, routing_key) in enumerate(frames):
            raw.publish(topology.INBOUND_EXCHANGE, body, properties, routing_key=routing_key)
            published += 1
            if index % 5 == 0:
                neighbour = msg(Kind.ESCALATION, SENDER, [])
                client.publish(neighbour)
                neighbours.append(str(neighbour.envelope.message_id))
                published += 1
    finally:
        raw.close()
        client.close()

    assert wait_for(lambda: _settled(dep) - before >= published, timeout=60), (
        f"{published} published, {_settled(dep) - before} accounted for"
    )
    assert _settled(dep) - before == published, (published, _outcomes(dep) - outcomes_before)
    assert dep.thread is not None and dep.thread.is_alive(), "the router stopped"
    copies = Counter(drain_ids(dep.router_url, dep.inbox(RECIPIENT), idle_s=0.2))
    assert all(copies[n] >= 1 for n in neighbours), "a valid neighbour did not arrive"
    assert all(n <= 2 for n in copies.values()), "a copy was delivered more than twice"
