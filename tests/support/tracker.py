"""The tracker in a thread of the test, with the real publisher remembering what the broker confirmed,
and a crash that stands for the process dying."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from broker.store.tracker.store import TrackerStore
from broker.tracker.clock import ManualClock
from broker.tracker.service import ConfirmedNotices, Tracker
from broker.transport.confirms import ConfirmedPublisher
from tests.support.deployment import Deployment
from tests.support.waiting import wait_for


class RecordingPublisher(ConfirmedNotices):
    """The real publisher, remembering every message id it got a confirm for."""

    def __init__(self, confirms: ConfirmedPublisher, user: str, log: list[str]) -> None:
        super().__init__(confirms, user)
        self.log = log

    def publish(self, notices: Sequence[tuple[bytes, str]]) -> set[str]:
        refused = super().publish(notices)
        self.log.extend(message_id for _, message_id in notices if message_id not in refused)
        return refused


class Crash(Exception):
    """Stands for the process dying."""


class Running:
    """A tracker in a thread, on a shared manual clock."""

    def __init__(
        self,
        dep: Deployment,
        database: str,
        clock: ManualClock,
        published: list[str],
        publisher: type[RecordingPublisher] = RecordingPublisher,
        lease_s: float = 60.0,
    ) -> None:
        url = dep.url_for("system:000000")
        self.store = TrackerStore(database)
        self.tracker = Tracker(
            url,
            self.store,
            clock,
            lambda confirms, user: publisher(confirms, user, published),
            scan_interval_s=0.05,
            prefetch=16,
            lease_s=lease_s,
        )
        self.crashed = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self.tracker.run()
        except Crash:
            self.crashed = True

    def scans(self, n: int = 3) -> None:
        """Wait until this tracker scanned n more times."""
        target = self.tracker.counters.scans + n
        assert wait_for(lambda: self.tracker.counters.scans >= target, timeout=10)

    def stop(self) -> None:
        self.tracker.stop()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "tracker did not stop"
        self.store.close()
