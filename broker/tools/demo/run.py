"""The demo's orchestration: scratch vhost, participants, workers, the replayed campaign, the proof.

1. a scratch vhost on the broker of RB_AMQP_URL (admin user), removed at the end unless kept;
2. every participant of the cast gets its own user, permissions and inbox (provisioning.py);
3. a private queue on rb.routing-log records every decision from the start;
4. the router and the tracker run as threads on a ScaledClock (simulated time × compression);
5. the campaign's cases open on working days of the simulated period but its last month; simulated
   recipients answer what they owe (some late, some never) until the period ends;
6. time freezes, everything in flight settles, the workers stop;
7. every inbox is read as the admin and checked against the promised copies: lost must be 0.
"""

from __future__ import annotations

import random
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from broker.domain.address import Address
from broker.domain.jurisdictions import default_registry
from broker.participants import Participants
from broker.router.bodies import Bodies
from broker.sealing import INTERNATIONAL
from broker.sealing.participant import Sealing
from broker.settings import Settings
from broker.tools.demo.agenda import Agenda
from broker.tools.demo.behaviour import Responder, Shares
from broker.tools.demo.campaign import CasePlan, plan_campaign
from broker.tools.demo.cast import Cast, default_cast
from broker.tools.demo.clock import ScaledClock
from broker.tools.demo.console import KeptConsole, start_console
from broker.tools.demo.defaults import (
    DEFAULT_CASES,
    DEFAULT_COMPRESSION,
    DEFAULT_DAYS,
    DEFAULT_SEED,
    DEFAULT_START,
)
from broker.tools.demo.desk import Desks
from broker.tools.demo.ledger import Ledger
from broker.tools.demo.measure import measure
from broker.tools.demo.provisioning import InboxType, provision_demo
from broker.tools.demo.report import Summary
from broker.tools.demo.script import Script
from broker.tools.demo.sealing import DemoKeys, demo_keys
from broker.tools.demo.simulation import Simulation
from broker.tools.demo.steps import CaseAction, CaseStep, Step
from broker.tools.demo.vhost import demo_vhost
from broker.tools.demo.workers import Workers, start_workers
from broker.tracker.calendar import WorkCalendar
from broker.transport.taps import LogTap, declare_audit_queue

SCAN_EVERY_SIM_S = 6 * 3600
"""The tracker scans every 6 simulated hours, within 0.1-0.5 real seconds."""
ANSWER_DAYS = 30
"""Simulated days at the end of the period in which no case opens."""


@dataclass(frozen=True)
class DemoOptions:
    cases: int = DEFAULT_CASES
    compression: float = DEFAULT_COMPRESSION
    days: int = DEFAULT_DAYS
    start: datetime = DEFAULT_START
    seed: int = DEFAULT_SEED
    shares: Shares = field(default_factory=Shares)
    keep: bool = False
    inboxes: InboxType = InboxType.CLASSIC
    progress_every_s: float = 3.0
    sealed: bool = True
    """Bodies sealed for their recipients and a router taking sealed ones only; False: plaintext
    bodies and the router's transitional mode."""

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    @property
    def open_days(self) -> int:
        """Cases open on the working days of the period but its last month (at most its second half),
        so that what they start can play out before it ends."""
        return max(1, self.days - min(self.days // 2, ANSWER_DAYS))

    @property
    def scan_interval_s(self) -> float:
        return min(0.5, max(0.1, SCAN_EVERY_SIM_S / self.compression))


def _opening_steps(plan: CasePlan, rng: random.Random) -> list[tuple[datetime, Step]]:
    """When each of the case's own messages goes out, after it opens."""

    def later(low: float, high: float) -> datetime:
        return plan.opens_at + timedelta(days=rng.uniform(low, high))

    steps: list[tuple[datetime, Step]] = [(plan.opens_at, CaseStep(plan, CaseAction.OPEN))]
    if plan.assistance_from is not None:
        steps.append((later(0.5, 4), CaseStep(plan, CaseAction.ASSIST)))
    if plan.department is not None:
        steps.append((later(0.2, 3), CaseStep(plan, CaseAction.COORDINATE)))
    if plan.joint_with is not None:
        steps += [(later(0.5, 10), CaseStep(plan, CaseAction.JOIN)) for _ in range(plan.joint_actions)]
    if plan.transfer_to is not None:
        steps.append((later(1, 5), CaseStep(plan, CaseAction.TRANSFER)))
    if plan.directive:
        steps.append((later(1, 6), CaseStep(plan, CaseAction.DIRECT)))
    if plan.bad is not None:
        steps.append((later(0.1, 2), CaseStep(plan, CaseAction.MISBEHAVE)))
    return steps


@contextmanager
def _workdir(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="rb-demo-"))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def _masked(settings: Settings) -> str:
    _, password = settings.admin_credentials
    shown = password if password == "guest" else "PASSWORD"
    return settings.amqp_url.replace(f":{quote(password, safe='')}@", f":{shown}@")  # every address


def _tail_command(settings: Settings) -> str:
    """A `tail` command line that runs as printed: the CLI by its path (`deploy/demo.sh` does not put
    the virtualenv on PATH) and the URL quoted for the shell."""
    cli = Path(sys.executable).parent / "referral-broker"
    program = str(cli) if cli.exists() else "referral-broker"
    return f"RB_AMQP_URL={shlex.quote(_masked(settings))} {shlex.quote(program)} tail"


def run_demo(
    settings: Settings,
    options: DemoOptions,
    say: Callable[[str], None] = print,
    on_kept: Callable[[Summary, KeptConsole], None] | None = None,
) -> Summary:
    """Run the demo. With options.keep, an operator console runs over it from the start; once the
    summary is made, `on_kept` gets both (the demo's CLI prints the summary and serves the console
    until Ctrl-C), and the console stops when it returns."""
    started = time.monotonic()
    registry = default_registry()
    cast = default_cast(registry)
    calendar = WorkCalendar()
    clock = ScaledClock(options.start, options.compression)
    plans = plan_campaign(options.cases, cast, options.start, options.open_days, calendar, options.seed)
    real_s = clock.real_seconds(options.end - options.start)
    say(
        f"referral-broker demo: {options.cases} cases of the 2019 campaign over {options.days} simulated "
        f"days from {options.start.date()}, compressed ×{options.compression:,.0f} (about {real_s:.0f} s)"
    )
    kept: KeptConsole | None = None
    with demo_vhost(settings, options.keep) as scratch, _workdir(options.keep) as workdir:
        participants = Participants.of(cast.addresses, scratch.user_prefix)
        passwords = provision_demo(scratch, participants, options.inboxes)
        say(
            f"provisioned {len(participants)} participants in vhost {scratch.vhost!r}, each with its own "
            f"user and {options.inboxes.value} inbox ({time.monotonic() - started:.1f} s)"
        )
        say(f"follow it live from another terminal: {_tail_command(scratch)}")
        declare_audit_queue(scratch.amqp_url)
        tap = LogTap(scratch.amqp_url)
        tap.start()
        sealing = demo_keys(participants.addresses, options.start, clock) if options.sealed else None
        say(
            f"bodies sealed for their recipients ({INTERNATIONAL.id}; keys for {len(participants)} "
            "participants, a signed key directory); the router takes sealed bodies only"
            if sealing is not None
            else "bodies in clear: the router's transitional mode (--plaintext-bodies)"
        )
        workers = start_workers(
            scratch,
            participants,
            passwords,
            clock,
            workdir,
            options.scan_interval_s,
            sealing.bodies if sealing is not None else Bodies(),
        )
        try:
            if options.keep:
                kept = start_console(scratch, participants, passwords, clock.now, workdir)
                say(f"or in a browser: {kept.url} (the operator's password is in {kept.login_file})")
            summary = _simulate(
                scratch, options, cast, participants, passwords, clock, plans, tap, workers, say, sealing
            )
        except BaseException:
            if kept is not None:
                kept.stop()
            raise
        finally:
            tap.stop()
            workers.stop()
            workers.close()
        if kept is not None:
            kept.freeze(clock.now())
            example = next((p.case_id for p in plans if p.over_threshold), plans[0].case_id)
            summary.afterwards = _kept_hints(scratch, workdir, example) + kept.hints()
    summary.wall_s = round(time.monotonic() - started, 1)
    if kept is not None:
        try:
            if on_kept is not None:
                on_kept(summary, kept)
        finally:
            kept.stop()
    return summary


def _simulate(
    scratch: Settings,
    options: DemoOptions,
    cast: Cast,
    participants: Participants,
    passwords: dict[str, str],
    clock: ScaledClock,
    plans: list[CasePlan],
    tap: LogTap,
    workers: Workers,
    say: Callable[[str], None],
    sealing: DemoKeys | None,
) -> Summary:
    rng = random.Random(options.seed + 1)
    ledger = Ledger(cast.registry, participants.addresses)

    def sealing_of(address: Address) -> Sealing | None:
        return None if sealing is None else sealing.for_party(address, ledger.memory)

    desks = Desks(scratch, participants, passwords, clock, ledger.before_publish, sealing=sealing_of)
    agenda: Agenda[Step] = Agenda()
    for plan in plans:
        for when, step in _opening_steps(plan, rng):
            agenda.at(when, step)
    responder = Responder(
        workers.store.policy,
        workers.store.calendar,
        options.shares,
        {p.case_id: p for p in plans},
        options.seed + 2,
    )
    script = Script(cast, desks, clock, ledger.book, random.Random(options.seed + 3))
    sim = Simulation(
        clock,
        agenda,
        responder,
        script,
        ledger,
        desks,
        tap,
        workers,
        scratch.amqp_url,
        say,
        options.progress_every_s,
    )
    try:
        sim.run_until(options.end)
        sim.settle()
    finally:
        desks.close()
        workers.stop()
    return measure(sim, plans, participants, options.start, options.compression)


def _kept_hints(scratch: Settings, workdir: Path, case_id: str) -> list[str]:
    db = f"RB_TRACKER_DATABASE_URL=sqlite:///{workdir / 'tracker.sqlite3'}"
    return [
        f"kept vhost {scratch.vhost!r} (every inbox still full) and the databases in {workdir}:",
        f"  queues:    {scratch.api_url}/#/queues/{quote(scratch.vhost, safe='')}",
        f"  a case:    {db} referral-broker trace {case_id}",
        f"  per party: {db} referral-broker stats",
        f"  live log:  {_tail_command(scratch)}   (while something publishes)",
        f"  remove:    referral-broker demo --remove {scratch.vhost}",
    ]
