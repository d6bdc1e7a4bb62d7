"""Personal data goes only where bodies go: a corpus of names, street addresses, mobiles,
landlines, ID-card numbers (18 and 15 digits), bank cards and e-mail addresses, placed in bodies,
in every envelope field a sender fills, in unknown key names, in repeated keys and in the AMQP
properties of valid and invalid messages, published through the real RabbitMQ to the router and
the deadline tracker. Then every log line, routing-log record, quarantine and delivery header and
property, tracker table, `trace`/`overdue`/`stats` output and the metrics scrape is searched:
zero hits. The bodies are searched too, as the control that the corpus is recognisable."""

from __future__ import annotations

import copy
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pika
import pytest
from prometheus_client import REGISTRY, generate_latest
from sqlalchemy import create_engine, inspect, text

from broker import logs
from broker.cli.main import main
from broker.domain.address import Address
from broker.domain.messages import Kind
from broker.store.scratch import temporary_database
from broker.tracker.clock import ManualClock
from broker.transport import topology
from tests.support.deployment import DEFAULT_PARTICIPANTS, Deployment
from tests.support.messages import msg
from tests.support.personal_numbers import card_number, id_number
from tests.support.queues import drain, queue_depth
from tests.support.tracker import Running
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq


@dataclass(frozen=True)
class Item:
    kind: str
    value: str
    needles: tuple[str, ...]
    """What must not appear outside bodies (digits are compared with separators removed)."""


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


CORPUS = [
    Item("name", "张伟", ("张伟",)),
    Item("name", "王秀英", ("王秀英",)),
    Item("name", "欧阳娜娜", ("欧阳娜娜",)),
    Item("address", "北京市朝阳区建国路88号", ("建国路88号", "朝阳区建国路")),
    Item("address", "浙江省诸暨市暨阳街道人民路128号3幢501室", ("人民路128号", "3幢501室")),
    Item("mobile", "13957512468", ("13957512468",)),
    Item("mobile", "+86 186-5751-2345", ("18657512345",)),
    Item("landline", "0575-87012345", ("057587012345",)),
    Item("landline", "(010)65123456", ("01065123456",)),
    Item("id18", id_number("33068119900101123"), (id_number("33068119900101123"),)),
    Item("id18", id_number("11010519491231002"), (id_number("11010519491231002"),)),
    Item("id15", "330681900101123", ("330681900101123",)),
    Item("card16", card_number("622202123456789"), (card_number("622202123456789"),)),
    Item("card19", card_number("622848001234567890"), (card_number("622848001234567890"),)),
    Item("email", "zhang.wei@example.cn", ("zhang.wei@example.cn",)),
    Item("email", "wangxy@163.com", ("wangxy@163.com",)),
]

EVERYTHING = " ".join(item.value for item in CORPUS)
"""All of the corpus in one text, for free-text body fields."""

SENDER, ADDRESSEE = "bureau:330681", "bureau:330600"

ENVELOPE_FIELDS: list[tuple[str | int, ...]] = [
    ("message_id",),
    ("kind",),
    ("schema_version",),
    ("sender",),
    ("to", 0),
    ("scope",),
    ("case_id",),
    ("in_reply_to",),
    ("causation_id",),
    ("forwards",),
    ("sent_at",),
    ("handling", 0),
    ("case", "company_credit_code"),
    ("case", "sector"),
    ("case", "violations", 0),
    ("case", "records", 0, "category"),
    ("case", "records", 0, "provided"),
    ("case", "records", 0, "held"),
    ("case", "illegal_income_cny"),
]
"""Every envelope field a sender fills; each gets every corpus value in turn (all invalid there)."""


def _normalised(haystack: str) -> str:
    # "+86 186-5751-2345" and "(010)65123456" are found as digit runs, wherever they were cut
    return re.sub(r"(?<=\d)[\s\-()+]+(?=\d)", "", haystack)


def hits(sources: dict[str, str]) -> list[tuple[str, str, str]]:
    """(source, corpus kind, needle) for every needle found in a source."""
    found = []
    for source, haystack in sources.items():
        flat = _normalised(haystack)
        for item in CORPUS:
            for needle in item.needles:
                wanted = _normalised(needle)
                if needle in haystack or wanted in flat:
                    found.append((source, item.kind, needle))
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _props(message: Any) -> str:
    """A kombu message's properties and headers, without its body."""
    return _as_text({"properties": message.properties, "headers": message.headers})


@dataclass
class Publisher:
    """Publishes raw bytes with chosen AMQP properties as a participant (user_id set, confirms on)."""

    dep: Deployment
    sent: int = 0
    _channels: dict[str, Any] = field(default_factory=dict)

    def publish(self, sender: str, body: bytes, **properties: Any) -> None:
        if sender not in self._channels:
            connection = pika.BlockingConnection(pika.URLParameters(self.dep.url_for(sender)))
            channel = connection.channel()
            channel.confirm_delivery()
            self._channels[sender] = channel
        username = self.dep.participants.username(Address.parse(sender))
        props = pika.BasicProperties(
            content_type="application/json", delivery_mode=2, user_id=username, **properties
        )
        self._channels[sender].basic_publish(topology.INBOUND_EXCHANGE, "", body, props, mandatory=True)
        self.sent += 1

    def close(self) -> None:
        for channel in self._channels.values():
            channel.connection.close()


def hostile_properties(item: Item, message_id: str | None = None) -> dict[str, Any]:
    """AMQP properties carrying personal data everywhere except, unless given, the message id."""
    return {
        "message_id": message_id or str(uuid.uuid4()),
        "correlation_id": item.value,
        "app_id": item.value,
        "type": item.value,
        "headers": {item.value: item.value, "x-case-id": item.value, "x-sender": item.value},
    }


def person(role: str = "suspect") -> dict[str, Any]:
    return {
        "role": role,
        "name": "王秀英",
        "phone": "13957512468",
        "id_number": id_number("33068119900101123"),
        "email": "zhang.wei@example.cn",
        "address": "北京市朝阳区建国路88号",
    }


def pii_body(kind: Kind) -> dict[str, Any]:
    body: dict[str, Any] = {
        "summary": EVERYTHING,
        "persons": [person()],
        "evidence": [{"reference": EVERYTHING, "description": EVERYTHING}],
    }
    if kind is Kind.ASSISTANCE_REQUEST:
        body["questions"] = [EVERYTHING]
    return body


def _put(node: Any, path: tuple[str | int, ...], value: Any) -> None:
    for part in path[:-1]:
        node = node[part]
    last = path[-1]
    if isinstance(node, list) and isinstance(last, int) and last >= len(node):
        node.append(value)  # an empty list (handling) gets its first entry
    else:
        node[last] = value


def disputed_referrals(referral: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """Police referrals whose finding (threshold version, clause) differs from the evaluator's and
    holds personal data: delivered, the head decides (Decree 310 Art. 5), and the decision record
    names the disputed fields only, never their text."""
    for item in CORPUS:
        for where in ("threshold_version", "clause"):
            data = copy.deepcopy(referral)
            data["envelope"]["message_id"] = str(uuid.uuid4())
            if where == "clause":
                data["body"]["clauses"][0]["clause"] = item.value[:40]
            else:
                data["body"]["threshold_version"] = item.value
            yield f"referral body.{where}={item.kind}", json.dumps(data, ensure_ascii=False).encode()


def invalid_messages(base: dict[str, Any], referral: dict[str, Any]) -> Iterator[tuple[str, bytes]]:
    """(what, raw bytes) of messages the router must quarantine, personal data outside the body or
    in body fields the router compares (a referral's finding)."""

    def fresh() -> dict[str, Any]:
        data = copy.deepcopy(base)
        data["envelope"]["message_id"] = str(uuid.uuid4())
        return data

    def dump(data: dict[str, Any]) -> bytes:
        return json.dumps(data, ensure_ascii=False).encode()

    for item in CORPUS:
        for path in ENVELOPE_FIELDS:
            data = fresh()
            _put(data["envelope"], path, item.value)
            yield f"envelope.{'.'.join(map(str, path))}={item.kind}", dump(data)
        for where in ("top", "envelope", "case", "body", "person"):
            data = fresh()
            target = {
                "top": data,
                "envelope": data["envelope"],
                "case": data["envelope"]["case"],
                "body": data["body"],
                "person": data["body"]["persons"][0],
            }[where]
            target[f"{item.value}_{item.kind}"] = item.value
            yield f"unknown key in {where}={item.kind}", dump(data)
        data = fresh()
        data["body"]["persons"][0]["role"] = item.value
        yield f"body.persons.0.role={item.kind}", dump(data)
        # a key given twice, named with personal data
        raw = dump(fresh()).decode()
        key = json.dumps(item.value, ensure_ascii=False)
        raw = raw.replace('{"message_id"', f'{{{key}: 1, {key}: 2, "message_id"', 1)
        yield f"repeated key={item.kind}", raw.encode()
    data = fresh()
    data["envelope"]["sender"] = ADDRESSEE  # published as bureau-330681: refused at authentication
    yield "forged sender", dump(data)


class Captured:
    """Everything the system wrote outside message bodies, by source, plus the bodies (control)."""

    def __init__(self) -> None:
        self.outside: dict[str, str] = {}
        self.bodies: dict[str, str] = {}

    def add_queue(self, name: str, messages: list[Any]) -> None:
        for n, message in enumerate(messages):
            self.outside[f"{name}[{n}] properties"] = _props(message)
            self.bodies[f"{name}[{n}] body"] = _as_text(message.body)


@pytest.fixture
def deployment(provisioned: Deployment) -> Iterator[Deployment]:
    """The tracker here runs on a manual clock moved past a due time, and stamps its notices with it:
    the router accepts sent_at up to a year ahead of its own clock."""
    provisioned.start_router(clock_skew=timedelta(days=366))
    yield provisioned


@pytest.fixture
def log_stream(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    stream = io.StringIO()
    logs.configure(level="DEBUG", stream=stream)
    caplog.set_level(logging.INFO)
    try:
        yield stream
    finally:
        logs.configure()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with temporary_database("sqlite", tmp_path) as url:
        yield url


def _declare_tap(dep: Deployment) -> str:
    """A queue bound to every routing-log record (removed with the test's vhost)."""
    name = f"pii-tap-{uuid.uuid4().hex[:8]}"
    connection = pika.BlockingConnection(pika.URLParameters(dep.settings.amqp_url))
    channel = connection.channel()
    channel.queue_declare(name)
    channel.queue_bind(name, topology.ROUTING_LOG, "#")
    connection.close()
    return name


def _settled(dep: Deployment, expected: int, tracker: bool = True) -> bool:
    """The router handled `expected` inputs and (with a tracker running) the tracker read every record."""
    admin = dep.settings.amqp_url
    return (
        dep.router.counters.received >= expected
        and queue_depth(admin, topology.ROUTER_QUEUE) == 0
        and (not tracker or queue_depth(admin, topology.TRACKER_QUEUE) == 0)
    )


def _tables(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                f"table {name}": _as_text(
                    [list(row) for row in conn.execute(text(f'SELECT * FROM "{name}"'))]
                )
                for name in inspect(engine).get_table_names()
            }
    finally:
        engine.dispose()


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    main(list(argv))
    out, err = capsys.readouterr()
    return out + err


def test_personal_data_appears_only_in_bodies(
    deployment: Deployment,
    database: str,
    log_stream: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dep = deployment
    tap = _declare_tap(dep)
    clock = ManualClock()
    tracker = Running(dep, database, clock, [])
    publisher = Publisher(dep)
    try:
        # valid messages: personal data in the body and in AMQP properties
        notice = msg(
            Kind.CASE_NOTICE, SENDER, [ADDRESSEE], body=pii_body(Kind.CASE_NOTICE), case_id="ZJZJ-2019-42"
        )
        request = msg(
            Kind.ASSISTANCE_REQUEST,
            SENDER,
            [ADDRESSEE],
            body=pii_body(Kind.ASSISTANCE_REQUEST),
            case_id="ZJZJ-2019-43",
        )
        for n, message in enumerate((notice, request)):
            item = CORPUS[n]
            props = hostile_properties(item, str(message.envelope.message_id))
            if message is request:
                props["message_id"] = "王秀英 北京市朝阳区建国路88号"  # not the envelope's id, not a UUID
            publisher.publish(SENDER, message.model_dump_json(exclude_none=True).encode(), **props)
        # invalid messages: personal data outside the body, and in the properties again
        base = notice.model_dump(mode="json", exclude_none=True)
        referral = msg(Kind.POLICE_REFERRAL, SENDER, [], body=None, case_id="ZJZJ-2019-44")
        invalid = list(invalid_messages(base, referral.model_dump(mode="json", exclude_none=True)))
        disputed = list(disputed_referrals(referral.model_dump(mode="json", exclude_none=True)))
        for n, (_, raw) in enumerate(invalid + disputed):
            publisher.publish(SENDER, raw, **hostile_properties(CORPUS[n % len(CORPUS)]))
        assert wait_for(lambda: _settled(dep, publisher.sent), timeout=60)
        # the addressee answers the notice (a body with personal data again), then deadlines pass
        answer = msg(
            Kind.RECEIPT_ACK,
            ADDRESSEE,
            [],
            body={"summary": EVERYTHING},
            case_id="ZJZJ-2019-42",
            in_reply_to=notice.envelope.message_id,
        )
        publisher.publish(
            ADDRESSEE, answer.model_dump_json(exclude_none=True).encode(), **hostile_properties(CORPUS[3])
        )
        rid = str(request.envelope.message_id)
        assert wait_for(lambda: len(tracker.store.obligations(rid)) == 2)
        later = max(o.due_at for o in tracker.store.obligations(rid)) + timedelta(days=1)
        clock.set(later)
        assert wait_for(lambda: tracker.store.sent_notices() and dep.router.counters.routed >= 4, timeout=30)
        tracker.scans()
        assert wait_for(lambda: _settled(dep, publisher.sent), timeout=30)
    finally:
        publisher.close()
        tracker.stop()

    assert dep.router.counters.quarantined == len(invalid), "every invalid message is quarantined"
    assert dep.router.counters.by_rule.get("police.supervision_copy_disputed") == len(disputed)
    captured = Captured()
    captured.add_queue("quarantine", drain(dep.settings, topology.QUARANTINE, expect=len(invalid)))
    for address in DEFAULT_PARTICIPANTS:
        captured.add_queue(f"inbox {address}", drain(dep.settings, dep.inbox(address)))
    for queue in (tap, topology.DEAD_LETTER_QUEUE):
        for n, record in enumerate(drain(dep.settings, queue)):
            # a routing-log record is all metadata: its body is searched too
            captured.outside[f"{queue}[{n}]"] = _props(record) + _as_text(record.body)
    assert sum(k.startswith(tap) for k in captured.outside) >= len(invalid) + 3
    captured.outside["structlog"] = log_stream.getvalue()
    captured.outside["stdlib logging"] = "\n".join(r.getMessage() for r in caplog.records)
    captured.outside.update(_tables(database))

    monkeypatch.setenv("RB_TRACKER_DATABASE_URL", database)
    monkeypatch.setattr("broker.tracker.clock.SystemClock.now", lambda self: later)
    capsys.readouterr()
    ids = {str(m.envelope.message_id) for m in (notice, request, answer)} | {"ZJZJ-2019-42", "ZJZJ-2019-43"}
    for key in sorted(ids):
        captured.outside[f"trace {key}"] = _cli(capsys, "trace", key)
        captured.outside[f"trace --json {key}"] = _cli(capsys, "trace", "--json", key)
    for command in ("overdue", "stats"):
        captured.outside[command] = _cli(capsys, command)
        captured.outside[f"{command} --json"] = _cli(capsys, command, "--json")
    assert "assistance_reply" in captured.outside["overdue --json"]
    captured.outside["metrics"] = generate_latest(REGISTRY).decode()
    # the places searched did receive what they should (a search of empty sources proves nothing)
    assert '"quarantined"' in captured.outside["structlog"] and '"routed"' in captured.outside["structlog"]
    assert "escalation" in captured.outside["table tracker_notices"]
    assert "x-quarantine-reason" in captured.outside["quarantine[0] properties"]

    # the control: the corpus is there, in the bodies, and the search recognises every item
    in_bodies = {(kind, needle) for _, kind, needle in hits(captured.bodies)}
    assert in_bodies == {(item.kind, needle) for item in CORPUS for needle in item.needles}
    assert hits(captured.outside) == []


def test_a_message_id_property_that_is_not_a_uuid_is_not_copied(
    deployment: Deployment, log_stream: io.StringIO
) -> None:
    """The router once copied a quarantined input's AMQP message_id into the quarantine copy, its
    record and its log line, scrubbed for phone and ID shapes only: names and addresses passed."""
    dep = deployment
    tap = _declare_tap(dep)
    publisher = Publisher(dep)
    base = msg(Kind.CASE_NOTICE, SENDER, [ADDRESSEE], body=pii_body(Kind.CASE_NOTICE)).model_dump(
        mode="json", exclude_none=True
    )
    broken = copy.deepcopy(base)
    broken["envelope"]["kind"] = "love_letter"
    try:
        for item in CORPUS:
            for data in (base, broken):
                data["envelope"]["message_id"] = str(uuid.uuid4())
                raw = json.dumps(data, ensure_ascii=False).encode()
                publisher.publish(SENDER, raw, message_id=f"{item.value} {item.kind}")
        assert wait_for(lambda: _settled(dep, publisher.sent, tracker=False), timeout=60)
    finally:
        publisher.close()
    # the broker holds the copies before the router has counted them: wait for the count too
    assert wait_for(lambda: dep.router.counters.quarantined == len(CORPUS), timeout=10)
    captured = Captured()
    captured.add_queue("quarantine", drain(dep.settings, topology.QUARANTINE, expect=len(CORPUS)))
    for address in DEFAULT_PARTICIPANTS:
        captured.add_queue(f"inbox {address}", drain(dep.settings, dep.inbox(address)))
    for n, record in enumerate(drain(dep.settings, tap)):
        captured.outside[f"{tap}[{n}]"] = _props(record) + _as_text(record.body)
    captured.outside["structlog"] = log_stream.getvalue()
    assert hits(captured.outside) == []
