"""Operator views of the tracker's state: obligations, the history of a message or a case, what is
overdue, per-party figures, the loaded calendar years. Read-only."""

from __future__ import annotations

from datetime import date, datetime
from statistics import median
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection, Engine

from broker.store.tracker.db import dt, ts
from broker.store.tracker.model import AuditEvent, Obligation, PartyStats, State, obligation_from_row
from broker.store.tracker.schema import audit, calendar_days, calendar_years, notices
from broker.store.tracker.schema import obligations as ob_table
from broker.tracker.calendar import OfficialDay


def holidays(engine: Engine) -> list[tuple[int, str, list[OfficialDay]]]:
    """Loaded years: (year, source, special days)."""
    with engine.connect() as conn:
        days, _ = calendar_rows(conn)
        years = conn.execute(select(calendar_years).order_by(calendar_years.c.year)).all()
    return [(y.year, y.source, [d for d in days if d.day.year == y.year]) for y in years]


def obligations(engine: Engine, regarding: str | None = None, case_id: str | None = None) -> list[Obligation]:
    query = select(ob_table)
    if regarding is not None:
        query = query.where(ob_table.c.regarding == regarding)
    if case_id is not None:
        query = query.where(ob_table.c.case_id == case_id)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(ob_table.c.start_at, ob_table.c.rule, ob_table.c.owed_by))
        return [obligation_from_row(row) for row in rows]


def obligation(engine: Engine, obligation_id: str) -> Obligation | None:
    with engine.connect() as conn:
        row = conn.execute(select(ob_table).where(ob_table.c.id == obligation_id)).first()
    return obligation_from_row(row) if row is not None else None


def sent_notices(engine: Engine) -> list[tuple[str, str, int, str, str, str]]:
    """(obligation id, notice, revision, recipient, state, message id) of every recorded notice."""
    query = select(
        notices.c.obligation_id,
        notices.c.notice,
        notices.c.revision,
        notices.c.recipient,
        notices.c.state,
        notices.c.message_id,
    )
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(query.order_by(notices.c.created_at))]


def trace(engine: Engine, key: str) -> list[AuditEvent]:
    """The history of a message (by id: what happened to it and what it caused) or of a case."""
    condition = or_(audit.c.message_id == key, audit.c.by_message == key, audit.c.case_id == key)
    with engine.connect() as conn:
        rows = conn.execute(select(audit).where(condition).order_by(audit.c.at, audit.c.id)).all()
    return [
        AuditEvent(
            dt(r.at), r.event, r.message_id, r.by_message, r.case_id, r.obligation_id, r.actor, r.detail
        )
        for r in rows
    ]


def overdue(
    engine: Engine, now: datetime, party: str | None = None, limit: int | None = None
) -> list[Obligation]:
    """Open chased obligations past their due time, oldest first; ``party`` is an address or a
    division code (every party at that code)."""
    condition = and_(
        ob_table.c.state == State.OPEN.value,
        ob_table.c.due_at <= ts(now),
        ob_table.c.chased.is_(True),
    )
    query = select(ob_table).where(condition)
    if party:
        query = query.where(party_filter(party))
    query = query.order_by(ob_table.c.due_at)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        return [obligation_from_row(r) for r in conn.execute(query)]


def open_and_overdue(engine: Engine, now: datetime) -> tuple[int, int]:
    """How many obligations are open, and how many of those are past due (both from the index on
    state and due time; open optional windows are counted as open until they lapse)."""
    is_open = ob_table.c.state == State.OPEN.value
    with engine.connect() as conn:
        open_ = conn.execute(select(func.count()).where(is_open)).scalar_one()
        late = conn.execute(
            select(func.count()).where(and_(is_open, ob_table.c.due_at <= ts(now)))
        ).scalar_one()
    return int(open_), int(late)


def stats(engine: Engine, now: datetime) -> list[PartyStats]:
    """Per party that owes: obligations, open, overdue, answered on time and late, the share answered
    on time (of those answered or past due) and the median time to answer."""
    at = ts(now)
    counts = select(
        ob_table.c.owed_by,
        ob_table.c.state,
        (ob_table.c.due_at <= at).label("past_due"),
        func.count().label("n"),
    ).where(ob_table.c.chased.is_(True))
    counts = counts.group_by(ob_table.c.owed_by, ob_table.c.state, "past_due")
    answered = select(ob_table.c.owed_by, (ob_table.c.closed_at - ob_table.c.start_at)).where(
        and_(
            ob_table.c.chased.is_(True),
            ob_table.c.state.in_([State.CLOSED.value, State.LATE.value]),
        )
    )
    tally: dict[str, dict[str, int]] = {}
    durations: dict[str, list[float]] = {}
    with engine.connect() as conn:
        for party, state, past_due, n in conn.execute(counts):
            t = tally.setdefault(party, {"all": 0, "open": 0, "overdue": 0, "closed": 0, "late": 0})
            t["all"] += n
            if state == State.OPEN.value:
                t["open"] += n
                t["overdue"] += n if past_due else 0
            elif state in (State.CLOSED.value, State.LATE.value):
                t[state] += n
        for party, seconds in conn.execute(answered):
            durations.setdefault(party, []).append(float(seconds))
    out = []
    for party in sorted(tally):
        t = tally[party]
        judged = t["closed"] + t["late"] + t["overdue"]
        out.append(
            PartyStats(
                party=party,
                obligations=t["all"],
                open=t["open"],
                overdue=t["overdue"],
                on_time=t["closed"],
                late=t["late"],
                share_on_time=t["closed"] / judged if judged else None,
                median_answer_s=median(durations[party]) if party in durations else None,
            )
        )
    return out


def calendar_rows(conn: Connection) -> tuple[list[OfficialDay], list[int]]:
    days = [
        OfficialDay(date.fromisoformat(r.day), bool(r.working), r.name)
        for r in conn.execute(select(calendar_days).order_by(calendar_days.c.day))
    ]
    years = [int(y) for y in conn.execute(select(calendar_years.c.year)).scalars()]
    return days, years


def party_filter(party: str) -> Any:
    if ":" in party:
        return ob_table.c.owed_by == party
    return ob_table.c.owed_by.like(f"%:{party}")
