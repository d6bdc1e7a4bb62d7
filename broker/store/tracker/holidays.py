"""Operator-loaded calendar years: stored, and the due times of the open obligations they touch
recomputed (closing.schedule decides the new times)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, insert, select, update

from broker.store.tracker import views
from broker.store.tracker.context import Context
from broker.store.tracker.db import Tx, ts
from broker.store.tracker.model import due_text, obligation_from_row
from broker.store.tracker.schema import calendar_days, calendar_years, obligations
from broker.tracker import closing
from broker.tracker.calendar import BEIJING, OfficialDay
from broker.tracker.closing import State


def load(ctx: Context, tx: Tx, days: Sequence[OfficialDay], years: Sequence[int], source: str) -> int:
    """Replace the years' special days, reload the calendar and recompute. Returns how many moved."""
    conn = tx.conn
    for year in years:
        conn.execute(
            delete(calendar_days).where(
                and_(calendar_days.c.day >= f"{year:04d}-01-01", calendar_days.c.day <= f"{year:04d}-12-31")
            )
        )
        conn.execute(delete(calendar_years).where(calendar_years.c.year == year))
        conn.execute(insert(calendar_years).values(year=year, loaded_at=time.time(), source=source[:300]))
    if days:
        conn.execute(
            insert(calendar_days),
            [{"day": d.day.isoformat(), "working": d.working, "name": d.name} for d in days],
        )
    all_days, all_years = views.calendar_rows(conn)
    ctx.calendar.load(all_days, all_years)
    return _recompute(ctx, tx, min(years), max(years))


def _recompute(ctx: Context, tx: Tx, first_year: int, last_year: int) -> int:
    begin = ts(datetime(first_year, 1, 1, tzinfo=BEIJING))
    end = ts(datetime(last_year + 1, 1, 1, tzinfo=BEIJING))
    query = select(obligations).where(
        and_(
            obligations.c.state == State.OPEN.value,
            obligations.c.due_at >= begin,
            obligations.c.start_at < end,
        )
    )
    moved = 0
    for row in tx.conn.execute(query).all():
        ob = obligation_from_row(row)
        try:
            rule = ctx.policy.rule(ob.rule)
        except KeyError:
            continue
        new = closing.schedule(ctx.policy, rule, ob.start_at, ob.extra_days, ctx.calendar)
        if ts(new.due_at) == row.due_at:
            if new.provisional != ob.provisional:
                tx.conn.execute(
                    update(obligations).where(obligations.c.id == ob.id).values(provisional=new.provisional)
                )
                tx.audit(
                    tx.now,
                    "due_confirmed",
                    ob.regarding,
                    ob.case_id,
                    f"official calendar loaded: {ob.what} owed by {ob.owed_by} stays due "
                    f"{due_text(new.due_at, new.provisional)}",
                    obligation=ob.id,
                )
            continue
        tx.conn.execute(
            update(obligations)
            .where(obligations.c.id == ob.id)
            .values(
                due_at=ts(new.due_at),
                reminder_at=ts(new.reminder_at),
                revision=ob.revision + 1,
                next_notice_at=ts(new.reminder_at if ob.chased else new.due_at),
                provisional=new.provisional,
            )
        )
        tx.audit(
            tx.now,
            "due_recomputed",
            ob.regarding,
            ob.case_id,
            f"official calendar loaded: {ob.what} owed by {ob.owed_by} now due "
            f"{due_text(new.due_at, new.provisional)} (was {due_text(ob.due_at, ob.provisional)})",
            obligation=ob.id,
        )
        moved += 1
    return moved
