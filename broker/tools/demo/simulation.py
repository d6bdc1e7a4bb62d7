"""The simulation loop: hand routed messages to the responder, perform the steps whose simulated
time has come, show progress; then let everything in flight settle."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from broker.tools.demo.agenda import Agenda
from broker.tools.demo.behaviour import Responder
from broker.tools.demo.clock import ScaledClock
from broker.tools.demo.desk import Desks
from broker.tools.demo.ledger import Ledger
from broker.tools.demo.script import Script
from broker.tools.demo.steps import Step
from broker.tools.demo.workers import Workers
from broker.tracker.calendar import BEIJING
from broker.tracker.record import parse_record
from broker.transport import topology
from broker.transport.taps import AUDIT_QUEUE, LogTap, depths

TICK_S = 0.005
"""Real seconds the loop sleeps between two looks at the agenda."""
SETTLE_S = 30.0
SETTLE_INPUTS_PER_S = 100.0
"""Settling waits at least SETTLE_S, and a second per this many inputs of the run."""


@dataclass
class Simulation:
    clock: ScaledClock
    agenda: Agenda[Step]
    responder: Responder
    script: Script
    ledger: Ledger
    desks: Desks
    tap: LogTap
    workers: Workers
    admin_url: str
    say: Callable[[str], None]
    progress_every_s: float = 3.0
    beyond_horizon: int = 0
    lags: list[float] = field(default_factory=list)
    """How late each step ran behind its simulated time, in simulated minutes."""

    def pump(self, end: datetime | None) -> None:
        """Take in the decision records received so far; with an end, schedule the answers they call for."""
        for record in self.tap.poll():
            self.ledger.observe(record)
            if end is None or record.get("event") != "routed":
                continue
            for when, step in self.responder.on_routed(parse_record(record)):
                if when < end:
                    self.agenda.at(when, step)
                else:
                    self.beyond_horizon += 1

    def run_until(self, end: datetime) -> None:
        self.clock.run()
        last = time.monotonic()
        self.progress()
        while (now := self.clock.now()) < end:
            self.pump(end)
            for when, step in self.agenda.due(now):
                self.lags.append((self.clock.now() - when).total_seconds() / 60)
                self.script.perform(step)
            if time.monotonic() - last >= self.progress_every_s:
                self.workers.check()
                self.progress()
                last = time.monotonic()
            time.sleep(TICK_S)
        self.progress()

    def progress(self) -> None:
        when = self.clock.now().astimezone(BEIJING).strftime("%Y-%m-%d %a %H:%M")
        router = self.workers.router.counters
        self.say(
            f"[{when}] published {self.desks.published + self.workers.tracker.counters.notices:>5}  "
            f"routed {router.routed:>5}  quarantined {router.quarantined:>3}  "
            f"answered {self.script.answered:>4}  notices {self.workers.tracker.counters.notices:>4}"
        )

    def sent_notice_ids(self) -> list[str]:
        return [n[5] for n in self.workers.store.sent_notices() if n[4] == "sent"]

    def settle(self, timeout_s: float | None = None) -> None:
        """Freeze simulated time, then wait until the router and the tracker are done with everything
        in flight: queues empty, every input decided, and two tracker scans with no new notice. The
        wait is bounded by SETTLE_S, or longer for a large run (a backlog takes longer to work off)."""
        self.clock.freeze()
        self.beyond_horizon += self.agenda.clear()
        if timeout_s is None:
            timeout_s = max(SETTLE_S, len(self.ledger.predicted) / SETTLE_INPUTS_PER_S)
        deadline = time.monotonic() + timeout_s
        tracker = self.workers.tracker.counters
        notices, quiet_from = tracker.notices, tracker.scans
        pending = "nothing yet"
        while time.monotonic() < deadline:
            self.workers.check()
            self.pump(None)
            if tracker.notices != notices:  # the tracker is still sending: wait for quiet scans again
                notices, quiet_from = tracker.notices, tracker.scans
            inputs = [*self.ledger.predicted, *self.sent_notice_ids()]
            queues = depths(self.admin_url, [topology.ROUTER_QUEUE, topology.TRACKER_QUEUE])
            if (
                not any(queues.values())
                and not self.ledger.undecided(inputs)
                and tracker.scans >= quiet_from + 2
            ):
                return
            pending = (
                f"queued {queues}, {len(self.ledger.undecided(inputs))} inputs without a decision record, "
                f"{tracker.scans - quiet_from} quiet tracker scans"
            )
            time.sleep(0.1)
        self.say(
            f"warning: the router and tracker did not settle in {timeout_s:.0f} s ({pending}); "
            "counting what arrived"
        )

    def drain_log(self, timeout_s: float = 10.0) -> None:
        """After the workers stopped: take in the last decision records."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.pump(None)
            if not depths(self.admin_url, [AUDIT_QUEUE])[AUDIT_QUEUE]:
                time.sleep(0.2)
                self.pump(None)
                return
            time.sleep(0.05)
