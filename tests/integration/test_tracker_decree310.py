"""Decree 310 Art. 5 in the tracker's store: the 不予移送 record closes the transfer decision, and a
bureau handing its case away hands the duty with it (issue 15)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from broker.domain.messages import Kind
from broker.store.scratch import postgres_reachable, temporary_database
from broker.store.tracker.model import State
from broker.store.tracker.store import TrackerStore
from broker.tools.records import OVER_THRESHOLD, Desk
from broker.tracker.calendar import BEIJING
from broker.tracker.notices import Notice
from broker.tracker.record import Routed

DECLINED = {"decided_by": "head", "decided_at": "2024-09-03T09:00:00+08:00", "reasons": "not criminal"}


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)  # type: ignore[misc]


@pytest.fixture(params=[pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrackerStore]:
    if request.param == "postgres" and not postgres_reachable():
        pytest.skip("no PostgreSQL at RB_TEST_POSTGRES_URL")
    with temporary_database(request.param, tmp_path) as url:
        s = TrackerStore(url)
        yield s
        s.close()


def ingest(store: TrackerStore, *records: Routed) -> None:
    for r in records:
        store.ingest([r], r.routed_at)


def decisions(store: TrackerStore, regarding: Routed) -> dict[str, State]:
    return {
        o.owed_by: o.state for o in store.obligations(regarding.message_id) if o.rule == "transfer_decision"
    }


def test_a_recorded_decision_not_to_transfer_closes_the_transfer_decision(store: TrackerStore) -> None:
    desk = Desk()
    notice = desk.send(
        Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2, 10), "D-1", facts=OVER_THRESHOLD
    )
    declined = desk.send(
        Kind.TRANSFER_DECLINED,
        "bureau:330681",
        [],
        cst(2024, 9, 3),
        "D-1",
        body=DECLINED,
        facts=OVER_THRESHOLD,
    )
    ingest(store, notice)
    assert decisions(store, notice) == {"bureau:330681": State.OPEN}
    ingest(store, declined)
    assert decisions(store, notice) == {"bureau:330681": State.CLOSED}


def test_a_bureau_handing_its_case_away_hands_the_duty_with_it(store: TrackerStore) -> None:
    desk = Desk()
    notice = desk.send(
        Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2, 10), "D-2", facts=OVER_THRESHOLD
    )
    escalation = desk.send(Kind.ESCALATION, "bureau:330681", [], cst(2024, 9, 3), "D-2", facts=OVER_THRESHOLD)
    ingest(store, notice, escalation)
    assert decisions(store, notice) == {"bureau:330681": State.CLOSED}
    assert decisions(store, escalation) == {"bureau:330600": State.OPEN}


def claim_all(store: TrackerStore, now: datetime) -> set[tuple[str, Notice, str]]:
    claimed = store.claim_notices(now, "t1")
    for c in claimed:
        assert store.mark_sent(c, "t1", now)
    return {(c.obligation_id, c.notice, c.recipient) for c in claimed}


def test_a_late_filing_decision_escalates_to_the_procuratorate_and_the_bureau_is_told(
    store: TrackerStore,
) -> None:
    # Decree 310 Art. 8 (3 days), Art. 9 and Art. 17: late police answer to the procuratorate's 立案监督
    desk = Desk()
    referral = desk.send(
        Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 2, 10), "P-1", facts=OVER_THRESHOLD
    )
    receipt = desk.reply(referral, Kind.POLICE_RECEIPT, "police:330681", cst(2024, 9, 2, 11))
    ingest(store, referral, receipt)
    filing = {o.rule: o for o in store.obligations(referral.message_id)}["filing_decision"]
    due = {n for n in claim_all(store, filing.due_at) if n[0] == filing.id}
    assert due == {
        (filing.id, Notice.ESCALATION, "procuratorate:330681"),
        (filing.id, Notice.OVERDUE, "bureau:330681"),
    }
    trail = [e for e in store.trace(referral.message_id) if e.event == "escalation_sent"]
    assert [e.actor for e in trail] == ["procuratorate:330681"]


def test_a_supervised_case_is_tracked_listed_overdue_escalated_and_closed_by_its_results(
    store: TrackerStore,
) -> None:
    # 督办 (issue 15): the supervised bureau owes the supervising bureau a supervision_report
    desk = Desk()
    supervise = {"directive_type": "directive", "instructions": "督办: report the results."}
    directive = desk.send(
        Kind.DIRECTIVE,
        "bureau:330000",
        ["bureau:330681"],
        cst(2024, 9, 2, 10),
        "S-1",
        supervise,
        OVER_THRESHOLD,
    )
    ack = desk.reply(directive, Kind.RECEIPT_ACK, "bureau:330681", cst(2024, 9, 2, 11))
    ingest(store, directive, ack)
    report = {o.rule: o for o in store.obligations(directive.message_id)}["supervision_report"]
    assert (report.owed_by, report.owed_to, report.state) == ("bureau:330681", "bureau:330000", State.OPEN)
    assert report.id in [o.id for o in store.overdue(report.due_at, "bureau:330681")]
    due = {n for n in claim_all(store, report.due_at) if n[0] == report.id}
    assert due == {
        (report.id, Notice.ESCALATION, "bureau:330600"),  # the supervised county's superior
        (report.id, Notice.OVERDUE, "bureau:330000"),
    }
    results = desk.reply(
        directive,
        Kind.SUPERVISION_REPORT,
        "bureau:330681",
        report.due_at + timedelta(hours=1),
        {"results": "Fined ¥50,000."},
    )
    ingest(store, results)
    closed = {o.rule: o for o in store.obligations(directive.message_id)}["supervision_report"]
    assert closed.state is State.LATE
    assert report.id not in [o.id for o in store.overdue(report.due_at)]
