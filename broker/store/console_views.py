"""What the operator console reads from the tracker's database beyond `broker.store.tracker.views`:
open obligations by due time within a province, and whether anything is known of a case. Read-only.

A province is the first two digits of a division code; an address is in it when its code starts
with them (`bureau:330681` is in 33). The national level (000000) is in no province.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Engine as Engine  # re-exported: the console's type for the database
from sqlalchemy.sql import ColumnElement

from broker.store.tracker.db import ts
from broker.store.tracker.model import Obligation, State, obligation_from_row
from broker.store.tracker.schema import audit
from broker.store.tracker.schema import obligations as ob_table

DEFAULT_LIMIT = 200
"""Rows one obligations page shows at most."""
SORTABLE = ("due_at", "start_at", "owed_by", "owed_to", "what", "case_id")
"""Columns open obligations can be ordered by (then by due time)."""


def in_province(column: ColumnElement[str], province: str) -> ColumnElement[bool]:
    return column.like(f"%:{province}____")


def open_obligations(
    engine: Engine,
    now: datetime,
    due_within: timedelta,
    province: str | None = None,
    party: str | None = None,
    sort: str = "due_at",
    descending: bool = False,
    limit: int = DEFAULT_LIMIT,
) -> list[Obligation]:
    """Open chased obligations overdue at `now` or due within `due_within` of it, ordered by `sort`
    (one of SORTABLE) then due time; only those owed by or to someone in `province`, and by
    `party` (an address or a division code)."""
    if sort not in SORTABLE:
        raise ValueError(f"sort: one of {', '.join(SORTABLE)}")
    query = select(ob_table).where(
        and_(
            ob_table.c.state == State.OPEN.value,
            ob_table.c.chased.is_(True),
            ob_table.c.due_at <= ts(now + due_within),
        )
    )
    if province is not None:
        query = query.where(
            or_(in_province(ob_table.c.owed_by, province), in_province(ob_table.c.owed_to, province))
        )
    if party:
        query = query.where(
            ob_table.c.owed_by == party if ":" in party else ob_table.c.owed_by.like(f"%:{party}")
        )
    column = ob_table.c[sort]
    query = query.order_by(column.desc() if descending else column, ob_table.c.due_at).limit(limit)
    with engine.connect() as conn:
        return [obligation_from_row(r) for r in conn.execute(query)]


def case_parties(engine: Engine, case_id: str) -> set[str]:
    """Every party the tracker has seen in a case: who owes and is owed, and the actors of its
    audit trail that are addresses (senders and recipients of its messages)."""
    with engine.connect() as conn:
        owed = conn.execute(
            select(ob_table.c.owed_by, ob_table.c.owed_to).where(ob_table.c.case_id == case_id)
        ).all()
        actors = conn.execute(
            select(audit.c.actor)
            .where(and_(audit.c.case_id == case_id, audit.c.actor.is_not(None)))
            .distinct()
        ).scalars()
        parties = {p for row in owed for p in row} | {a for a in actors if a}
    return {p for p in parties if ":" in p and not p.startswith("console:") and " " not in p}


def case_known(engine: Engine, case_id: str) -> bool:
    with engine.connect() as conn:
        seen = conn.execute(select(func.count()).where(audit.c.case_id == case_id)).scalar_one()
    return bool(seen)
