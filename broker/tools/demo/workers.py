"""The router and the deadline tracker, as threads of the demo's process on the compressed clock."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from broker.participants import SYSTEM, Participants
from broker.router.bodies import Bodies
from broker.router.service import Router
from broker.settings import Settings
from broker.store.memory import SqlRoutingMemory
from broker.store.tracker.store import TrackerStore
from broker.tools.demo.clock import ScaledClock
from broker.tracker.rules import Policy
from broker.tracker.service import Tracker
from broker.transport.provision import ROUTER_USER


@dataclass
class Workers:
    router: Router
    tracker: Tracker
    store: TrackerStore
    memory: SqlRoutingMemory
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for name, target in (("demo-router", self.router.run), ("demo-tracker", self.tracker.run)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self.threads.append(thread)

    def check(self) -> None:
        """Raise if a worker thread died."""
        for thread in self.threads:
            if not thread.is_alive():
                raise RuntimeError(f"{thread.name} stopped unexpectedly (see its log lines above)")

    def stop(self, timeout_s: float = 20.0) -> None:
        self.tracker.stop()
        self.router.stop()
        for thread in self.threads:
            thread.join(timeout=timeout_s)
        self.threads.clear()

    def close(self) -> None:
        self.store.close()
        self.memory.close()


def start_workers(
    settings: Settings,
    participants: Participants,
    passwords: dict[str, str],
    clock: ScaledClock,
    workdir: Path,
    scan_interval_s: float,
    bodies: Bodies | None = None,
) -> Workers:
    def url(user: str) -> str:
        return settings.amqp_url_for(user, passwords[user])

    router_user = f"{participants.user_prefix}{ROUTER_USER}"
    memory = SqlRoutingMemory(f"sqlite:///{workdir / 'router.sqlite3'}")
    # two real seconds of thread timing, in simulated time, as the senders' allowed clock skew
    skew = timedelta(seconds=2 * clock.factor)
    router = Router(url(router_user), participants, memory, clock=clock.now, clock_skew=skew, bodies=bodies)
    store = TrackerStore(f"sqlite:///{workdir / 'tracker.sqlite3'}", Policy())
    tracker = Tracker(
        url(participants.username(SYSTEM)),
        store,
        clock=clock,
        scan_interval_s=scan_interval_s,
        name="demo-tracker",
    )
    workers = Workers(router, tracker, store, memory)
    workers.start()
    return workers
