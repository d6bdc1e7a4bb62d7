"""The proof at the end of a run: every inbox read against what was promised, and the counts.

Called once the simulation settled and the workers stopped; builds the Summary from measurements
only (the routing log, the inboxes, the router's counters, the tracker's store), never from what
the simulation meant to do.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from statistics import median

from broker.participants import Participants
from broker.tools.demo.campaign import CasePlan
from broker.tools.demo.fidelity import compare
from broker.tools.demo.report import Summary, by_coordination
from broker.tools.demo.simulation import Simulation
from broker.tracker.calendar import BEIJING
from broker.transport import topology
from broker.transport.taps import depths, read_inboxes


def measure(
    sim: Simulation, plans: list[CasePlan], participants: Participants, start: datetime, compression: float
) -> Summary:
    sim.drain_log()
    ledger, workers = sim.ledger, sim.workers
    notice_ids = sim.sent_notice_ids()
    bodies: Counter[str] = Counter()
    found = read_inboxes(sim.admin_url, list(participants), sim.desks.settings.inbox_secret, bodies)
    verdict = ledger.verdict(found, notice_ids)
    sinks = depths(sim.admin_url, [topology.UNROUTABLE, topology.DEAD_LETTER_QUEUE])
    frozen = sim.clock.now()
    stats = workers.store.stats(frozen)
    notices = Counter(n[1] for n in workers.store.sent_notices() if n[4] == "sent")
    router = workers.router.counters
    routed_records = list(ledger.routed.values())
    filings = Counter((r.get("filing") or {}).get("decision") for r in routed_records)
    referrals = sum(1 for r in routed_records if r.get("kind") == "police_referral")
    by_participants = sim.desks.published
    unaccounted = max(verdict.unaccounted, verdict.inputs - router.routed - router.quarantined)
    notes = []
    if sim.beyond_horizon:
        notes.append(f"answers falling after the simulated period, not sent: {sim.beyond_horizon}")
    if sim.desks.republished:
        notes.append(f"messages published again after a dropped connection: {sim.desks.republished}")
    if verdict.surprises:
        notes.append(f"messages routed otherwise than the routing rules predict: {verdict.surprises}")
    if sim.lags:
        lags = sorted(sim.lags)
        p99 = lags[min(len(lags) - 1, round(0.99 * (len(lags) - 1)))]
        notes.append(
            f"steps ran behind their simulated time by {median(lags):.0f} simulated minutes (median), "
            f"{p99:.0f} (99th percentile), {lags[-1]:.0f} (most)"
        )
    return Summary(
        cases=len(plans),
        cases_over_threshold=sum(p.over_threshold for p in plans),
        records_involved=sum(p.records for p in plans),
        participants=len(participants),
        simulated_from=start.astimezone(BEIJING).strftime("%Y-%m-%d"),
        simulated_to=frozen.astimezone(BEIJING).strftime("%Y-%m-%d"),
        compression=compression,
        wall_s=0.0,
        published=by_participants + len(notice_ids),
        published_by_participants=by_participants,
        published_by_tracker=len(notice_ids),
        routed=router.routed,
        quarantined=router.quarantined,
        duplicates=router.duplicates,
        routed_by_coordination=by_coordination(routed_records),
        quarantined_by_stage=dict(Counter(str(r.get("stage")) for r in ledger.quarantined.values())),
        obligations=sum(s.obligations for s in stats),
        acknowledged=sum(s.on_time + s.late for s in stats),
        answered_in_time=sum(s.on_time for s in stats),
        answered_late=sum(s.late for s in stats),
        overdue=sum(s.overdue for s in stats),
        escalated=sum(notices.values()),
        reminders=notices["reminder"],
        escalations=notices["escalation"],
        overdue_notices=notices["overdue"],
        police_referrals=referrals,
        filed=filings["filed"],
        not_filed=filings["not_filed"],
        copies_expected=verdict.copies_expected,
        copies_found=verdict.copies_found,
        duplicate_copies=verdict.duplicate_copies,
        missing=verdict.missing,
        unaccounted=unaccounted,
        surprises=verdict.surprises,
        unroutable=sinks[topology.UNROUTABLE],
        dead_lettered=sinks[topology.DEAD_LETTER_QUEUE],
        lost=verdict.missing + unaccounted,
        bodies=dict(bodies),
        fidelity=compare(plans, ledger.routed, ledger.book, referrals),
        notes=notes,
    )
