"""Operators and the quarantine, end to end on a real RabbitMQ: the operator's user (made by
`provision`) follows the routing log and lists, shows and discards quarantined input; a message
quarantined for an unprovisioned recipient is routed once after `provision` adds the recipient and
an operator replays it (as the router's user), and a second replay routes nothing; a participant
cannot get a message replayed as someone else; every action is in `trace`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest

from broker.domain.factory import new_message
from broker.domain.messages import Kind
from broker.limits import UserLimits
from broker.participants import Participants
from broker.store.tracker.store import TrackerStore
from broker.tools.contract.examples import CASE_FACTS
from broker.transport import topology
from broker.transport.provision import OPERATOR_USER, provision
from tests.support.deployment import DEFAULT_PARTICIPANTS, TEST_LIMITS_CONNECTIONS, Deployment
from tests.support.queues import drain
from tests.support.waiting import wait_for

pytestmark = pytest.mark.rabbitmq

CASE = "ZJZJ-2019-42"
NEWCOMER = "bureau:330603"
"""Keqiao: not provisioned at first, so a notice to it is quarantined at the routing stage."""


@pytest.fixture
def ops(deployment: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    tracker_db = f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
    TrackerStore(tracker_db).close()  # the tracker's database, with its audit trail
    monkeypatch.setenv("RB_TRACKER_DATABASE_URL", tracker_db)
    monkeypatch.setenv("RB_USER_PREFIX", deployment.settings.user_prefix)
    yield deployment


def operator_url(dep: Deployment) -> str:
    user = f"{dep.settings.user_prefix}{OPERATOR_USER}"
    return dep.settings.amqp_url_for(user, dep.passwords[user])


def cli(url: str, *argv: str, monkeypatch: pytest.MonkeyPatch, capsys: Any) -> tuple[int, str, str]:
    from broker.cli.main import main

    monkeypatch.setenv("RB_AMQP_URL", url)
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def quarantined(dep: Deployment, count: int) -> bool:
    """`count` messages held in rb.quarantine, and the router done with them (counted and logged:
    its log line would otherwise land in the output of the next command the test reads)."""
    with pika.BlockingConnection(pika.URLParameters(dep.settings.amqp_url)) as conn:
        depth = conn.channel().queue_declare(topology.QUARANTINE, passive=True).method.message_count
    return int(depth) == count and (dep.router is None or dep.router.counters.quarantined >= count)


def listed(dep: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: Any, *argv: str) -> list[dict[str, Any]]:
    code, out, err = cli(
        operator_url(dep), "quarantine", "list", "--json", *argv, monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 0, err
    result: list[dict[str, Any]] = json.loads(out)
    return result


def test_operator_tails_lists_shows_and_a_replay_after_provisioning_routes_once(
    ops: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    dep = ops
    env = {**os.environ, "RB_AMQP_URL": operator_url(dep)}
    tail = subprocess.Popen(
        [sys.executable, "-m", "broker.cli", "tail", "--case", CASE, "--count", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert tail.stderr is not None
        first = tail.stderr.readline()
        assert "following" in first, first + tail.stderr.read()
        notice = new_message(
            Kind.CASE_NOTICE, "bureau:330681", [NEWCOMER], CASE, {"summary": "x"}, case=CASE_FACTS
        )
        dep.client("bureau:330681").publish(notice)
        out, err = tail.communicate(timeout=60)
    finally:
        if tail.poll() is None:
            tail.kill()
            tail.wait()
    assert tail.returncode == 0, err
    record = json.loads(out.splitlines()[0])
    message_id = str(notice.envelope.message_id)
    assert record["event"] == "quarantined" and record["stage"] == "routing"
    assert (record["kind"], record["sender"], record["case_id"]) == ("case_notice", "bureau:330681", CASE)
    assert record["quarantine_id"] == record["message_id"] == message_id

    [held] = listed(dep, monkeypatch, capsys, "--stage", "routing", "--sender", "330681")
    assert (held["id"], held["kind"], held["case_id"], held["field"]) == (
        message_id,
        "case_notice",
        CASE,
        "envelope.to",
    )
    assert listed(dep, monkeypatch, capsys, "--stage", "contract") == []

    code, out, err = cli(
        operator_url(dep), "quarantine", "show", message_id, monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 0, err
    assert "x-quarantine-reason" in out and '"summary"' not in out  # no body unless asked
    code, _, err = cli(
        operator_url(dep), "quarantine", "show", message_id, "--body", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 2 and "--reason" in err

    # the operator's user cannot replay: it may publish nowhere, nor as anyone else
    code, _, err = cli(
        operator_url(dep),
        "quarantine",
        "replay",
        message_id,
        "--reason",
        "try",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code != 0 and "router's user" in err, err
    assert wait_for(lambda: quarantined(dep, 1))

    # the cause is fixed: the recipient is provisioned, the router restarted with it
    dep.stop_router()
    dep.participants = Participants.of([*DEFAULT_PARTICIPANTS, NEWCOMER], dep.settings.user_prefix)
    limits = UserLimits(TEST_LIMITS_CONNECTIONS, 2 * TEST_LIMITS_CONNECTIONS)
    dep.passwords.update(provision(dep.settings, dep.participants, limits=limits).created)
    dep.start_router()

    code, out, err = cli(
        dep.router_url,
        "quarantine",
        "replay",
        message_id,
        "--reason",
        "Keqiao provisioned",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0, err
    got = drain(dep.settings, dep.inbox(NEWCOMER), expect=1, timeout=20)
    assert [m.properties["message_id"] for m in got] == [message_id]
    assert (
        got[0].properties["user_id"] == f"{dep.settings.user_prefix}bureau-330681"
    )  # the sender's proof kept

    code, _, err = cli(
        dep.router_url,
        "quarantine",
        "replay",
        message_id,
        "--reason",
        "again",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 1 and "not held" in err
    time.sleep(1.0)
    assert drain(dep.settings, dep.inbox(NEWCOMER)) == []  # routed once
    assert quarantined(dep, 0)

    events = [e.event for e in TrackerStore(os.environ["RB_TRACKER_DATABASE_URL"]).trace(message_id)]
    assert events[0] == "quarantined"
    assert {"operator_shown", "operator_replayed"} <= set(events)
    code, out, _ = cli(operator_url(dep), "trace", message_id, monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0 and "operator_replayed" in out and "Keqiao provisioned" in out


def test_unreadable_input_gets_a_digest_id_and_is_discarded_with_a_reason(
    ops: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    dep = ops
    dep.client("bureau:330681").publish(b"not json at all", message_id="not-a-uuid")
    assert wait_for(lambda: quarantined(dep, 1))
    [held] = listed(dep, monkeypatch, capsys)
    assert held["id"].startswith("sha256:") and len(held["id"]) == len("sha256:") + 16
    assert held["stage"] == "contract" and held["kind"] is None
    code, _out, err = cli(
        operator_url(dep),
        "quarantine",
        "discard",
        held["id"],
        "--reason",
        "test junk",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0, err
    assert wait_for(lambda: quarantined(dep, 0))
    events = [
        (e.event, e.detail) for e in TrackerStore(os.environ["RB_TRACKER_DATABASE_URL"]).trace(held["id"])
    ]
    assert events[0][0] == "quarantined"
    assert ("operator_discarded", "discarded from rb.quarantine: test junk") in events
    code, out, _ = cli(operator_url(dep), "trace", held["id"], monkeypatch=monkeypatch, capsys=capsys)
    assert code == 0 and held["id"][:15] in out and "operator_discarded" in out


def test_a_participant_cannot_get_a_message_replayed_as_someone_else(
    ops: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    dep = ops
    forger = f"{dep.settings.user_prefix}bureau-330681"
    victim = f"{dep.settings.user_prefix}bureau-330600"
    forged = new_message(
        Kind.CASE_NOTICE, "bureau:330600", ["bureau:330602"], CASE, {"summary": "x"}, case=CASE_FACTS
    )
    body = forged.model_dump_json(exclude_none=True).encode()
    with pika.BlockingConnection(pika.URLParameters(dep.url_for("bureau:330681"))) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        headers = {"x-original-user-id": victim, "x-quarantine-digest": "0" * 64}
        props = pika.BasicProperties(
            user_id=forger, message_id=str(forged.envelope.message_id), headers=headers
        )
        channel.basic_publish(topology.INBOUND_EXCHANGE, "", body, props)
    assert wait_for(lambda: quarantined(dep, 1))
    [held] = listed(dep, monkeypatch, capsys)
    assert (
        held["stage"] == "authentication" and held["user_id"] == forger
    )  # the router's word, not the header
    code, _, err = cli(
        dep.router_url,
        "quarantine",
        "replay",
        held["id"],
        "--reason",
        "x",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0, err
    assert wait_for(lambda: quarantined(dep, 1))  # checked again, refused again: sender is not its user
    assert drain(dep.settings, dep.inbox("bureau:330602"), timeout=1) == []
    [again] = listed(dep, monkeypatch, capsys)
    assert again["user_id"] == forger and again["stage"] == "authentication"


def test_dead_letter_list_and_discard_as_the_operator(
    ops: Deployment, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    dep = ops
    with pika.BlockingConnection(pika.URLParameters(dep.settings.amqp_url)) as conn:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish(
            topology.DEAD_LETTER, "", b'{"envelope": {}}', pika.BasicProperties(delivery_mode=2)
        )
    code, out, err = cli(
        operator_url(dep), "dead-letter", "list", "--json", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 0, err
    [held] = json.loads(out)
    assert held["stage"] == "dead-letter"
    code, _, err = cli(
        operator_url(dep),
        "dead-letter",
        "discard",
        held["id"],
        "--reason",
        "test",
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert code == 0, err
    code, out, _ = cli(
        operator_url(dep), "dead-letter", "list", "--json", monkeypatch=monkeypatch, capsys=capsys
    )
    assert json.loads(out) == []
