"""The tracker's service without a broker: records ingested and settled, notices sent once, a refused
notice sent again at the next scan (by another tracker once its lease lapsed). A real SQLite store;
the broker's side (the delivered records, the confirmed publisher) is a fake behind the service's
own protocols."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from broker.domain.messages import Kind
from broker.store.tracker.model import Obligation
from broker.store.tracker.store import TrackerStore
from broker.tools.records import Desk
from broker.tracker.calendar import BEIJING
from broker.tracker.clock import ManualClock
from broker.tracker.record import Routed
from broker.tracker.service import Tracker, scan_due

AT = datetime(2024, 9, 2, 10, tzinfo=BEIJING)


@dataclass
class Record:
    """A delivered record and how it was settled."""

    body: bytes
    settled: str = ""

    def ack(self) -> None:
        assert not self.settled
        self.settled = "acked"

    def reject(self, requeue: bool = False) -> None:
        assert not self.settled and not requeue
        self.settled = "dead-lettered"


@dataclass
class Notices:
    """Confirms what it is given, or refuses the next `refuse` publishes."""

    refuse: int = 0
    confirmed: list[str] = field(default_factory=list)

    def publish(self, notices: Sequence[tuple[bytes, str]]) -> set[str]:
        refused = set()
        for payload, message_id in notices:
            json.loads(payload)  # the exact bytes of a message
            if self.refuse:
                self.refuse -= 1
                refused.add(message_id)
            else:
                self.confirmed.append(message_id)
        return refused


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TrackerStore]:
    store = TrackerStore(f"sqlite:///{tmp_path / 'tracker.sqlite3'}")
    yield store
    store.close()


def tracker(store: TrackerStore, clock: ManualClock, lease_s: float = 60.0) -> Tracker:
    return Tracker("amqp://system-000000:x@127.0.0.1:5672/unused", store, clock, lease_s=lease_s)


def delivered(desk: Desk, *routed: Routed) -> list[Record]:
    return [Record(json.dumps(desk.records[r.message_id]).encode()) for r in routed]


def test_records_are_acked_once_ingested_and_one_that_is_not_a_record_is_dead_lettered(
    store: TrackerStore,
) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], AT)
    ack = desk.reply(request, Kind.RECEIPT_ACK, "bureau:330600", AT + timedelta(hours=1))
    records = [*delivered(desk, request, ack), Record(b'{"event": "routed", "secret": 1}')]
    t = tracker(store, ManualClock(AT))
    t.ingest(records)
    assert [r.settled for r in records] == ["acked", "acked", "dead-lettered"]
    assert (t.counters.ingested, t.counters.rejected, t.counters.obligations, t.counters.closed) == (
        2,
        1,
        2,
        1,
    )
    assert "secret" not in str(store.trace(request.message_id))


def test_a_redelivered_record_is_acked_and_counted_as_a_duplicate(store: TrackerStore) -> None:
    desk = Desk()
    notice = desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], AT)
    t = tracker(store, ManualClock(AT))
    t.ingest(delivered(desk, notice))
    again = delivered(desk, notice)
    t.ingest(again)
    assert again[0].settled == "acked" and (t.counters.ingested, t.counters.duplicates) == (1, 1)
    assert len(store.obligations(notice.message_id)) == 1


def reminder_due(store: TrackerStore, lease_s: float) -> tuple[Tracker, ManualClock, Obligation]:
    """A tracker that took in a case notice, its clock just past the receipt's reminder time."""
    desk = Desk()
    notice = desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], AT)
    clock = ManualClock(AT)
    t = tracker(store, clock, lease_s=lease_s)
    t.ingest(delivered(desk, notice))
    (receipt,) = store.obligations(notice.message_id)
    clock.set(receipt.reminder_at + timedelta(seconds=1))
    return t, clock, receipt


def test_each_notice_is_sent_once_and_a_refused_one_again_at_the_next_scan(store: TrackerStore) -> None:
    t, clock, receipt = reminder_due(store, lease_s=60.0)
    refusing = Notices(refuse=1)
    assert t.scan_once(refusing) == 0 and refusing.confirmed == []
    other = Notices()
    assert tracker(store, clock).scan_once(other) == 0 and other.confirmed == []  # another's live claim
    assert t.scan_once(refusing) == 1 and t.scan_once(refusing) == 0  # its own claim, without the lease
    (reminder,) = refusing.confirmed
    assert [n[5] for n in store.sent_notices() if n[4] == "sent"] == [reminder]
    clock.set(receipt.due_at + timedelta(seconds=1))
    assert t.scan_once(refusing) == 2  # escalation and overdue
    assert t.counters.notices == 3


def test_a_refused_notice_is_taken_over_by_another_tracker_once_its_lease_lapsed(store: TrackerStore) -> None:
    gone, clock, _ = reminder_due(store, lease_s=0.2)
    assert gone.scan_once(Notices(refuse=1)) == 0
    time.sleep(0.3)
    taking_over = Notices()
    assert tracker(store, clock).scan_once(taking_over) == 1 and len(taking_over.confirmed) == 1


def test_a_scan_waits_for_the_consumer_to_catch_up_but_not_longer_than_five_intervals() -> None:
    interval = 30.0
    assert not scan_due(99.0, 100.0, interval, caught_up=True)  # not yet time
    assert scan_due(100.0, 100.0, interval, caught_up=True)
    assert not scan_due(100.0, 100.0, interval, caught_up=False)  # records waiting: read them first
    assert not scan_due(249.0, 100.0, interval, caught_up=False)
    assert scan_due(250.0, 100.0, interval, caught_up=False)  # a steady stream holds it back no longer


def test_the_tracker_scans_on_the_consumer_loops_turns_on_schedule(store: TrackerStore) -> None:
    notices = Notices()
    t = Tracker(
        "amqp://system-000000:x@127.0.0.1:5672/unused",
        store,
        ManualClock(AT),
        lambda confirms, user: notices,
        scan_interval_s=0.05,
    )
    assert t.consumer.on_turn is not None and t.consumer.poll_s == 0.05
    turn = t.consumer.on_turn
    turn(None, False)  # type: ignore[arg-type]  # the first turn of a session scans at once
    assert t.counters.scans == 1
    turn(None, True)  # type: ignore[arg-type]
    assert t.counters.scans == 1  # the next one only after the interval
    time.sleep(0.06)
    turn(None, False)  # type: ignore[arg-type]
    assert t.counters.scans == 1  # records waiting
    turn(None, True)  # type: ignore[arg-type]
    assert t.counters.scans == 2
    time.sleep(0.06 + 5 * 0.05)
    turn(None, False)  # type: ignore[arg-type]
    assert t.counters.scans == 3  # a steady stream of records holds it back five intervals at most


def test_a_record_the_consumer_loop_isolated_a_bug_on_is_dead_lettered_alone(store: TrackerStore) -> None:
    record = Record(b'{"event": "routed"}')
    t = tracker(store, ManualClock(AT))
    t.handle_alone(record, None, KeyError("secret"))  # type: ignore[arg-type]
    assert record.settled == "dead-lettered" and t.counters.rejected == 1
