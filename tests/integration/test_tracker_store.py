"""The tracker's state on SQLite and PostgreSQL: closing, late answers, answers before what they
answer, forwards, extensions, notices claimed exactly once, the calendar, the audit trail, the views."""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from broker.domain.case import CaseFacts
from broker.domain.messages import Kind
from broker.domain.referrals import referral_body
from broker.store.scratch import postgres_reachable, temporary_database
from broker.store.tracker.model import State
from broker.store.tracker.schema import VERSION_TABLE, metadata
from broker.store.tracker.store import TrackerStore
from broker.tools.records import OVER_THRESHOLD, Desk
from broker.tracker.calendar import BEIJING, parse_holiday_file
from broker.tracker.notices import Notice
from broker.tracker.record import Routed
from broker.tracker.rules import Policy

DATABASES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


def cst(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)  # type: ignore[misc]


@pytest.fixture(params=DATABASES)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgres" and not postgres_reachable():
        pytest.skip("no PostgreSQL at RB_TEST_POSTGRES_URL")
    with temporary_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def store(database: str) -> Iterator[TrackerStore]:
    s = TrackerStore(database)
    yield s
    s.close()


def ingest(store: TrackerStore, *records: Routed) -> None:
    for r in records:
        store.ingest([r], r.routed_at)


def states(store: TrackerStore, regarding: Routed) -> dict[tuple[str, str], State]:
    return {(o.rule, o.owed_by): o.state for o in store.obligations(regarding.message_id)}


def events(store: TrackerStore, key: str) -> list[str]:
    return [e.event for e in store.trace(key)]


# ---- schema ----


def test_migrations_build_exactly_the_declared_schema(store: TrackerStore) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        diff = compare_metadata(context, metadata)
    assert diff == []
    TrackerStore(store.url).close()  # a second start finds the schema current


def test_the_audit_trail_is_append_only(store: TrackerStore) -> None:
    desk = Desk()
    ingest(store, desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2)))
    for statement in ("UPDATE tracker_audit SET detail = 'x'", "DELETE FROM tracker_audit"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))


# ---- ingesting and closing ----


def test_a_receipt_closes_on_time_and_a_reply_closes_late_with_its_lateness(store: TrackerStore) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 20, 10))
    ack = desk.reply(request, Kind.RECEIPT_ACK, "bureau:330600", cst(2024, 9, 23, 9))
    reply = desk.reply(request, Kind.ASSISTANCE_REPLY, "bureau:330600", cst(2024, 10, 18, 12))
    ingest(store, request, ack, reply)
    by_rule = {o.rule: o for o in store.obligations(request.message_id)}
    assert by_rule["receipt"].state is State.CLOSED and by_rule["receipt"].closed_by == ack.message_id
    late = by_rule["assistance_reply"]
    assert late.state is State.LATE and late.closed_by == reply.message_id
    assert late.lateness == timedelta(days=1, hours=12)  # due 10-17 00:00, answered 10-18 12:00
    assert late.closed_at == reply.routed_at
    trail = store.trace(request.message_id)
    assert [e.event for e in trail].count("closed_late") == 1
    assert "late by 1d 12h 0m" in next(e.detail for e in trail if e.event == "closed_late")


def test_a_record_seen_twice_changes_nothing(store: TrackerStore) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2))
    ack = desk.reply(request, Kind.RECEIPT_ACK, "bureau:330600", cst(2024, 9, 3))
    first = store.ingest([request, ack], cst(2024, 9, 3))
    trail = store.trace(request.message_id)
    again = store.ingest([request, ack, request], cst(2024, 9, 4))
    assert (first.ingested, first.duplicates, again.ingested, again.duplicates) == (2, 0, 0, 3)
    assert store.trace(request.message_id) == trail


def test_only_the_party_that_owes_can_close(store: TrackerStore) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"], cst(2024, 9, 2))
    # the origin's provincial bureau got a copy; its receipt closes nothing
    copy_ack = desk.reply(request, Kind.RECEIPT_ACK, "bureau:330000", cst(2024, 9, 2, 12))
    ingest(store, request, copy_ack)
    assert set(states(store, request).values()) == {State.OPEN}
    assert "answered" in events(store, request.message_id)


def test_an_answer_seen_before_what_it_answers_is_kept_and_matched(store: TrackerStore) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2))
    ack = desk.reply(request, Kind.RECEIPT_ACK, "bureau:330600", cst(2024, 9, 2, 12))
    reply = desk.reply(request, Kind.ASSISTANCE_REPLY, "bureau:330600", cst(2024, 9, 10))
    store.ingest([reply], cst(2024, 9, 10))
    store.ingest([ack], cst(2024, 9, 10))
    assert store.obligations(request.message_id) == []
    store.ingest([request], cst(2024, 9, 11))
    by_rule = {o.rule: o for o in store.obligations(request.message_id)}
    assert (by_rule["receipt"].state, by_rule["receipt"].closed_by) == (State.CLOSED, ack.message_id)
    assert (by_rule["assistance_reply"].state, by_rule["assistance_reply"].closed_by) == (
        State.CLOSED,
        reply.message_id,
    )


def test_a_forward_proves_the_hubs_receipt_and_the_local_reply_closes_both(store: TrackerStore) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"], cst(2024, 9, 2))
    forward = desk.forward(request, "bureau:440000", ["bureau:440300"], cst(2024, 9, 3))
    reply = desk.reply(forward, Kind.ASSISTANCE_REPLY, "bureau:440300", cst(2024, 9, 12))
    ingest(store, request, forward)
    assert states(store, request) == {
        ("receipt", "bureau:440000"): State.CLOSED,
        ("assistance_reply", "bureau:440000"): State.OPEN,
    }
    ingest(store, reply)
    assert set(states(store, request).values()) == {State.CLOSED}
    assert states(store, forward) == {
        ("receipt", "bureau:440300"): State.LATE,  # never acknowledged: the reply is a late receipt
        ("assistance_reply", "bureau:440300"): State.CLOSED,
    }


def test_the_forward_chain_closes_in_any_order(store: TrackerStore) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"], cst(2024, 9, 2))
    forward = desk.forward(request, "bureau:440000", ["bureau:440300"], cst(2024, 9, 3))
    reply = desk.reply(forward, Kind.ASSISTANCE_REPLY, "bureau:440300", cst(2024, 9, 12))
    ack = desk.reply(forward, Kind.RECEIPT_ACK, "bureau:440300", cst(2024, 9, 3, 12))
    ingest(store, reply, ack, forward, request)
    assert set(states(store, request).values()) == {State.CLOSED}
    assert set(states(store, forward).values()) == {State.CLOSED}


def test_a_police_referral_closes_the_transfer_decision_and_one_sent_first_prevents_it(
    store: TrackerStore,
) -> None:
    desk = Desk()
    notice = desk.send(
        Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2), "K-1", facts=OVER_THRESHOLD
    )
    referral = desk.send(
        Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 7), "K-1", facts=OVER_THRESHOLD
    )
    ingest(store, notice, referral)
    decision = {o.rule: o for o in store.obligations(notice.message_id)}["transfer_decision"]
    assert decision.state is State.LATE and decision.closed_by == referral.message_id  # due 09-06
    # the referral reached the tracker before the message showing the facts: nothing to decide
    other = Desk()
    late_notice = other.send(
        Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2), "K-2", facts=OVER_THRESHOLD
    )
    early_referral = other.send(
        Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 3), "K-2", facts=OVER_THRESHOLD
    )
    ingest(store, early_referral, late_notice)
    assert "transfer_decision" not in {o.rule for o in store.obligations(late_notice.message_id)}
    assert "threshold_reached" in events(store, "K-2")


def test_a_transfer_sent_more_than_24_hours_after_its_approval_is_recorded_late(store: TrackerStore) -> None:
    desk = Desk()
    body = referral_body(CaseFacts.model_validate(OVER_THRESHOLD), "head", "2024-09-02T09:00:00+08:00")
    notice = desk.send(
        Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 1, 10), "D-1", facts=OVER_THRESHOLD
    )
    referral = desk.send(
        Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 5, 15), "D-1", body=body, facts=OVER_THRESHOLD
    )
    ingest(store, notice, referral)
    (dispatch,) = [o for o in store.obligations(referral.message_id) if o.rule == "transfer_dispatch"]
    assert dispatch.state is State.LATE and dispatch.lateness == timedelta(days=2, hours=6)
    # the head decided on 09-02, within the 3 days: the decision is on time though the dispatch is not
    (decision,) = [o for o in store.obligations(notice.message_id) if o.rule == "transfer_decision"]
    assert decision.state is State.CLOSED and decision.closed_at == cst(2024, 9, 2, 9)
    chased = {c[0] for c in claim_all(store, cst(2024, 9, 30))}
    assert {o.rule for o in store.obligations() if o.id in chased} == {
        "receipt",  # of the case notice, never acknowledged
        "police_receipt",
        "filing_decision",
    }


# ---- extensions ----


def test_an_extension_notice_in_time_moves_the_due_time_without_a_grant(store: TrackerStore) -> None:
    """SAMR procedure rules, assisted investigation: needing longer than 15 working days, the assisting
    bureau tells the requester (告知) before expiry; it asks nobody's leave."""
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 20, 10))
    notice = desk.reply(
        request,
        Kind.EXTENSION_REQUEST,
        "bureau:330600",
        cst(2024, 10, 14, 10),
        {"extra_working_days": 5, "reason": "r"},
    )
    answer = desk.reply(
        notice, Kind.EXTENSION_DECISION, "bureau:330681", cst(2024, 10, 15, 10), {"granted": False}
    )
    # the answer is seen first, then the notice, then what it is about: applied once, answer or not
    store.ingest([answer], cst(2024, 10, 15))
    store.ingest([notice], cst(2024, 10, 15))
    store.ingest([request], cst(2024, 10, 15))
    store.ingest([answer, notice], cst(2024, 10, 16))
    reply = {o.rule: o for o in store.obligations(request.message_id)}["assistance_reply"]
    assert reply.due_at == cst(2024, 10, 24) and reply.extra_days == 5 and reply.revision == 1
    assert reply.state is State.OPEN
    assert events(store, request.message_id).count("extended") == 1


def test_an_extension_asked_after_the_due_time_is_not_applied(store: TrackerStore) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 20, 10))
    ask = desk.reply(request, Kind.EXTENSION_REQUEST, "bureau:330600", cst(2024, 10, 17, 9))
    grant = desk.reply(ask, Kind.EXTENSION_DECISION, "bureau:330681", cst(2024, 10, 17, 10))
    ingest(store, request, ask, grant)
    reply = {o.rule: o for o in store.obligations(request.message_id)}["assistance_reply"]
    assert reply.due_at == cst(2024, 10, 17) and reply.extra_days == 0
    assert "extension_not_applied" in events(store, request.message_id)


def test_a_grant_is_needed_only_where_the_policy_says_extensions_are_granted(store: TrackerStore) -> None:
    """The grant model stays available by configuration (extended_by_notice: false)."""
    policy = Policy.from_overrides({"rules": {"assistance_reply": {"extended_by_notice": False}}})
    granted = TrackerStore(store.url, policy=policy)
    try:
        desk = Desk()
        request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 20, 10))
        ask = desk.reply(request, Kind.EXTENSION_REQUEST, "bureau:330600", cst(2024, 10, 10))
        refuse = desk.reply(
            ask, Kind.EXTENSION_DECISION, "bureau:330681", cst(2024, 10, 11), {"granted": False}
        )
        ingest(granted, request, ask, refuse)
        reply = {o.rule: o for o in granted.obligations(request.message_id)}["assistance_reply"]
        assert reply.due_at == cst(2024, 10, 17)
        assert "extension_refused" in events(granted, request.message_id)
    finally:
        granted.close()


def test_an_extension_notice_on_a_forwarded_request_moves_both_obligations(store: TrackerStore) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"], cst(2024, 9, 2, 10))
    forward = desk.forward(request, "bureau:440000", ["bureau:440300"], cst(2024, 9, 3, 10))
    notice = desk.reply(forward, Kind.EXTENSION_REQUEST, "bureau:440300", cst(2024, 9, 20))
    ingest(store, request, forward, notice)  # the origin gets the notice too (reply.regional_origin)
    hub = {o.rule: o for o in store.obligations(request.message_id)}["assistance_reply"]
    local = {o.rule: o for o in store.obligations(forward.message_id)}["assistance_reply"]
    assert (hub.extra_days, local.extra_days) == (10, 10)


def test_with_granted_extensions_the_origin_granting_moves_both_obligations(database: str) -> None:
    store = TrackerStore(
        database, policy=Policy.from_overrides({"rules": {"assistance_reply": {"extended_by_notice": False}}})
    )
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"], cst(2024, 9, 2, 10))
    forward = desk.forward(request, "bureau:440000", ["bureau:440300"], cst(2024, 9, 3, 10))
    ask = desk.reply(forward, Kind.EXTENSION_REQUEST, "bureau:440300", cst(2024, 9, 20))
    grant = desk.reply(ask, Kind.EXTENSION_DECISION, "bureau:330681", cst(2024, 9, 21))
    ingest(store, request, forward, ask, grant)
    hub = {o.rule: o for o in store.obligations(request.message_id)}["assistance_reply"]
    local = {o.rule: o for o in store.obligations(forward.message_id)}["assistance_reply"]
    assert (hub.extra_days, local.extra_days) == (10, 10)
    # a hub granting its bureau more time does not extend what the hub owes the origin
    other = Desk()
    request = other.send(
        Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"], cst(2024, 9, 2, 10), "C-2"
    )
    forward = other.forward(request, "bureau:440000", ["bureau:440300"], cst(2024, 9, 3, 10))
    ask = other.reply(forward, Kind.EXTENSION_REQUEST, "bureau:440300", cst(2024, 9, 20))
    grant = other.reply(ask, Kind.EXTENSION_DECISION, "bureau:440000", cst(2024, 9, 21))
    ingest(store, request, forward, ask, grant)
    hub = {o.rule: o for o in store.obligations(request.message_id)}["assistance_reply"]
    local = {o.rule: o for o in store.obligations(forward.message_id)}["assistance_reply"]
    assert (hub.extra_days, local.extra_days) == (0, 10)
    store.close()


# ---- notices ----


def claim_all(store: TrackerStore, now: datetime, claimant: str = "t1") -> list[tuple[str, Notice, str]]:
    claimed = store.claim_notices(now, claimant)
    for c in claimed:
        assert store.mark_sent(c, claimant, now)
    return [(c.obligation_id, c.notice, c.recipient) for c in claimed]


def test_reminder_then_escalation_and_overdue_each_once(store: TrackerStore) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 20, 10))
    ack = desk.reply(request, Kind.RECEIPT_ACK, "bureau:330600", cst(2024, 9, 20, 11))
    ingest(store, request, ack)
    reply = {o.rule: o for o in store.obligations(request.message_id)}["assistance_reply"]
    assert claim_all(store, reply.reminder_at - timedelta(seconds=1)) == []
    assert claim_all(store, reply.reminder_at) == [(reply.id, Notice.REMINDER, "bureau:330600")]
    assert claim_all(store, reply.due_at - timedelta(seconds=1)) == []
    assert sorted(claim_all(store, reply.due_at)) == [
        (reply.id, Notice.ESCALATION, "bureau:330000"),
        (reply.id, Notice.OVERDUE, "bureau:330681"),
    ]
    assert claim_all(store, reply.due_at + timedelta(days=30)) == []
    trail = events(store, request.message_id)
    assert (trail.count("reminder_sent"), trail.count("escalation_sent"), trail.count("overdue_sent")) == (
        1,
        1,
        1,
    )
    assert [o.id for o in store.overdue(reply.due_at)] == [reply.id]
    assert store.overdue(reply.due_at, "330681") == []
    assert [o.id for o in store.overdue(reply.due_at, "bureau:330600")] == [reply.id]


def test_a_granted_extension_earns_a_new_reminder_for_the_new_due_time(store: TrackerStore) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 20, 10))
    ack = desk.reply(request, Kind.RECEIPT_ACK, "bureau:330600", cst(2024, 9, 20, 11))
    ingest(store, request, ack)
    reply = {o.rule: o for o in store.obligations(request.message_id)}["assistance_reply"]
    assert [n for _, n, _ in claim_all(store, reply.reminder_at)] == [Notice.REMINDER]
    ask = desk.reply(request, Kind.EXTENSION_REQUEST, "bureau:330600", cst(2024, 10, 14))
    grant = desk.reply(ask, Kind.EXTENSION_DECISION, "bureau:330681", cst(2024, 10, 15))
    ingest(store, ask, grant)
    extended = store.obligation(reply.id)
    assert extended is not None and extended.due_at == cst(2024, 10, 31)
    assert claim_all(store, cst(2024, 10, 17, 12)) == []  # no longer due
    assert [n for _, n, _ in claim_all(store, extended.reminder_at)] == [Notice.REMINDER]
    assert Counter((o, n, r) for o, n, r, *_ in store.sent_notices()) == {
        (reply.id, "reminder", 0): 1,
        (reply.id, "reminder", 1): 1,
    }


def test_an_answer_stops_the_chase_and_a_window_lapses_unchased(store: TrackerStore) -> None:
    desk = Desk()
    referral = desk.send(Kind.POLICE_REFERRAL, "bureau:330681", [], cst(2024, 9, 2), facts=OVER_THRESHOLD)
    decision = desk.reply(
        referral,
        Kind.FILING_DECISION,
        "police:330681",
        cst(2024, 9, 3),
        {"decision": "not_filed", "reasons": "r"},
    )
    ingest(store, referral, decision)
    assert claim_all(store, cst(2024, 12, 1)) == []  # receipt and decision answered, the window unchased
    window = {o.rule: o for o in store.obligations(decision.message_id)}["reconsideration_window"]
    assert window.state is State.LAPSED and store.overdue(cst(2024, 12, 1)) == []
    late = desk.reply(decision, Kind.RECONSIDERATION_REQUEST, "bureau:330681", cst(2024, 9, 10))
    ingest(store, late)
    assert store.obligation(window.id).state is State.LATE  # type: ignore[union-attr]


def test_the_national_bureau_has_no_superior_to_escalate_to(store: TrackerStore) -> None:
    desk = Desk()
    notice = desk.send(Kind.CASE_NOTICE, "bureau:330000", ["bureau:000000"], cst(2024, 9, 2, 10))
    ingest(store, notice)
    assert [n for _, n, _ in claim_all(store, cst(2024, 9, 10))] == [Notice.OVERDUE]
    assert "escalation_skipped" in events(store, notice.message_id)


def test_a_claim_whose_tracker_died_is_published_again_with_the_same_bytes(store: TrackerStore) -> None:
    desk = Desk()
    notice = desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2, 10))
    ingest(store, notice)
    (lost,) = store.claim_notices(cst(2024, 9, 3, 17), "dead", lease_s=0.0)  # never marked sent
    (again,) = store.claim_notices(cst(2024, 9, 3, 18), "alive")
    assert again.notice is Notice.REMINDER
    assert (again.message_id, again.payload) == (lost.message_id, lost.payload)
    assert not store.mark_sent(lost, "dead", cst(2024, 9, 3, 18))  # the lease was taken over
    assert store.mark_sent(again, "alive", cst(2024, 9, 3, 18))
    assert store.claim_notices(cst(2024, 9, 3, 19), "third", lease_s=0.0) == []


def test_two_claimers_at_once_record_each_notice_once(store: TrackerStore) -> None:
    desk = Desk()
    records = [
        desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2, 10), f"N-{n}")
        for n in range(60)
    ]
    store.ingest(records, cst(2024, 9, 2, 10))
    other = TrackerStore(store.url)
    got: dict[str, list[tuple[str, Notice, str]]] = {}
    start = threading.Barrier(2)

    def claimer(s: TrackerStore, name: str) -> None:
        start.wait()
        got[name] = []
        for hour in (30, 41, 41, 24 * 8, 24 * 8):  # the reminders are due at 9-03 16:24
            got[name] += claim_all(s, cst(2024, 9, 2) + timedelta(hours=hour), name)

    threads = [threading.Thread(target=claimer, args=(s, n)) for s, n in ((store, "a"), (other, "b"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    everything = got["a"] + got["b"]
    assert len(everything) == len(set(everything)) == 60 * 3  # reminder, escalation, overdue each


# ---- calendar ----

HOLIDAYS_2027 = "2027-01-01,holiday,New Year's Day\n2027-01-04,holiday,example extra day off\n"


def test_loading_a_year_recomputes_the_open_deadlines_that_cross_it(store: TrackerStore) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2026, 12, 28, 10))
    ingest(store, request)
    reply = {o.rule: o for o in store.obligations(request.message_id)}["assistance_reply"]
    # 2027 unknown: statutory holidays only, 12-29 .. 12-31, 01-01 off, 01-04 .. 01-19
    assert reply.due_at == cst(2027, 1, 20) and reply.provisional
    days, years = parse_holiday_file(HOLIDAYS_2027)
    assert store.load_holidays(days, years, "2027.csv", cst(2026, 12, 29)) >= 1
    moved = store.obligation(reply.id)
    assert moved is not None and moved.due_at == cst(2027, 1, 21) and moved.revision == 1
    assert not moved.provisional
    assert "due_recomputed" in events(store, request.message_id)
    # another process (a second tracker) picks the loaded year up from the database
    other = TrackerStore(store.url)
    assert not other.calendar.is_workday(datetime(2027, 1, 4).date())
    assert [y for y, _, _ in other.holidays()] == [2027]
    other.close()


NOTICE_2027 = "2027-01-01,holiday,New Year's Day\n2027-01-02,holiday,New Year\n2027-01-03,holiday,New Year\n"


def test_a_due_time_on_the_statutory_fallback_is_provisional_everywhere_until_the_notice(
    store: TrackerStore,
) -> None:
    desk = Desk()
    request = desk.send(Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2026, 12, 20, 10))
    ingest(store, request)
    by_rule = {o.rule: o for o in store.obligations(request.message_id)}
    reply = by_rule["assistance_reply"]
    assert reply.due_at == cst(2027, 1, 12) and reply.provisional  # 15 working days: 01-11, not 01-08
    assert not by_rule["receipt"].provisional  # due in 2026
    assert reply.to_dict()["provisional"] is True
    opened = [e.detail for e in store.trace(request.message_id) if e.obligation_id == reply.id]
    assert "due 2027-01-12 00:00 CST PROVISIONAL" in opened[0]
    [late] = [o for o in store.overdue(cst(2027, 1, 13)) if o.id == reply.id]
    assert late.provisional
    claimed = [c for c in store.claim_notices(cst(2027, 1, 13), "t") if c.obligation_id == reply.id]
    assert claimed and all(b"PROVISIONAL due time" in c.payload for c in claimed)
    for c in claimed:
        store.mark_sent(c, "t", cst(2027, 1, 13))
    assert any(
        "PROVISIONAL" in e.detail for e in store.trace(request.message_id) if e.event.endswith("_sent")
    )
    # the notice (here: the same New Year, no bridging day) confirms the due time and clears the mark
    days, years = parse_holiday_file(NOTICE_2027)
    assert store.load_holidays(days, years, "2027.csv", cst(2027, 1, 13)) == 0
    confirmed = store.obligation(reply.id)
    assert confirmed is not None and confirmed.due_at == cst(2027, 1, 12) and not confirmed.provisional
    assert "due_confirmed" in events(store, request.message_id)


# ---- views ----


def test_trace_of_a_message_and_of_its_case(store: TrackerStore) -> None:
    desk = Desk()
    request = desk.send(
        Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:440300"], cst(2024, 9, 2, 10), "Z-1"
    )
    forward = desk.forward(request, "bureau:440000", ["bureau:440300"], cst(2024, 9, 2, 15))
    ack = desk.reply(forward, Kind.RECEIPT_ACK, "bureau:440300", cst(2024, 9, 3, 9))
    ingest(store, request, forward, ack)
    trail = store.trace(request.message_id)
    assert [e.event for e in trail][:4] == ["received", "routed", "routed", "obligation_opened"]
    assert {e.actor for e in trail if e.event == "routed"} == {"bureau:440000", "bureau:330000"}
    assert ("forwarded", forward.message_id) in {(e.event, e.by_message) for e in trail}
    whole = store.trace("Z-1")
    assert {e.message_id for e in whole} >= {request.message_id, forward.message_id}
    assert ("answered", "bureau:440300") in {(e.event, e.actor) for e in whole}
    assert all(a.at <= b.at for a, b in itertools.pairwise(whole))
    assert store.trace("no-such-thing") == []


def test_stats_per_party(store: TrackerStore) -> None:
    desk = Desk()
    now = cst(2024, 9, 20)
    on_time = desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2, 10), "S-1")
    late = desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2, 10), "S-2")
    never = desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2, 10), "S-3")
    pending = desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330602"], cst(2024, 9, 19, 10), "S-4")
    ingest(
        store,
        on_time,
        late,
        never,
        pending,
        desk.reply(on_time, Kind.RECEIPT_ACK, "bureau:330600", cst(2024, 9, 2, 12)),
        desk.reply(late, Kind.RECEIPT_ACK, "bureau:330600", cst(2024, 9, 5, 10)),
    )
    stats = {s.party: s for s in store.stats(now)}
    city = stats["bureau:330600"]
    assert (city.obligations, city.on_time, city.late, city.open, city.overdue) == (3, 1, 1, 1, 1)
    assert city.share_on_time == pytest.approx(1 / 3)
    assert city.median_answer_s == pytest.approx((2 * 3600 + 3 * 86400) / 2)
    district = stats["bureau:330602"]
    assert (district.open, district.overdue, district.share_on_time, district.median_answer_s) == (
        1,
        0,
        None,
        None,
    )


def test_an_answer_and_what_it_answers_ingested_at_once_by_two_trackers_still_meet(
    store: TrackerStore,
) -> None:
    desk = Desk()
    pairs = []
    for n in range(40):
        request = desk.send(
            Kind.ASSISTANCE_REQUEST, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2), f"R-{n}"
        )
        pairs.append((request, desk.reply(request, Kind.RECEIPT_ACK, "bureau:330600", cst(2024, 9, 2, 1))))
    other = TrackerStore(store.url)
    barrier = threading.Barrier(2)

    def run(s: TrackerStore, side: int) -> None:
        for pair in pairs:
            barrier.wait()
            s.ingest([pair[side]], cst(2024, 9, 2, 2))

    threads = [threading.Thread(target=run, args=(s, i)) for i, s in enumerate((store, other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    receipts = [o for o in store.obligations() if o.rule == "receipt"]
    assert len(receipts) == 40 and {o.state for o in receipts} == {State.CLOSED}


def test_a_notice_that_cannot_be_addressed_is_skipped_and_the_scan_goes_on(store: TrackerStore) -> None:
    from broker.domain.jurisdictions import default_registry

    desk = Desk()
    first = desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330600"], cst(2024, 9, 2, 10), "A-1")
    second = desk.send(Kind.CASE_NOTICE, "bureau:330681", ["bureau:330602"], cst(2024, 9, 2, 10), "A-2")
    ingest(store, first, second)
    retired = default_registry().retired_codes()[0]  # the code was retired after the message was routed
    with store.engine.begin() as conn:
        conn.execute(
            text("UPDATE tracker_obligations SET owed_by = :by WHERE case_id = 'A-1'"),
            {"by": f"bureau:{retired}"},
        )
    claimed = claim_all(store, cst(2024, 9, 3, 20))
    assert [(n, r) for _, n, r in claimed] == [(Notice.REMINDER, "bureau:330602")]
    assert "reminder_skipped" in events(store, "A-1")
