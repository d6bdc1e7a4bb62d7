"""What a routed message does to the obligations already open: close them, or move their due time.

Which obligations it reaches is found here, in SQL; what happens to each is decided by the pure
rules of broker/tracker/closing.py, and persisted here with its audit event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, bindparam, insert, select, update
from sqlalchemy.engine import Connection

from broker.domain.messages import Kind
from broker.store.tracker.context import Context
from broker.store.tracker.db import Tx, dt, duration_text, local_time, ts
from broker.store.tracker.model import due_text, routed_from_row
from broker.store.tracker.schema import extensions, messages, obligations
from broker.tracker import closing
from broker.tracker.closing import OPEN_STATES, Owed, State
from broker.tracker.record import Routed

# ---- statements of the ingest path, built once (building them per record costs more than running them) ----

_MESSAGE = select(messages).where(messages.c.message_id == bindparam("id"))
_OWED = (
    select(obligations)
    .where(
        and_(
            obligations.c.regarding == bindparam("regarding"),
            obligations.c.owed_by == bindparam("owed_by"),
            obligations.c.state.in_(OPEN_STATES),
        )
    )
    .order_by(obligations.c.rule)
)
_CLOSE = (
    update(obligations)
    .where(and_(obligations.c.id == bindparam("obligation"), obligations.c.state.in_(OPEN_STATES)))
    .values(
        state=bindparam("new_state"),
        closed_at=bindparam("at"),
        closed_by=bindparam("answer"),
        lateness_s=bindparam("lateness"),
        next_notice_at=None,
    )
)


def owed_of(row: Row[Any]) -> Owed:
    return Owed(row.id, row.rule, row.owed_to, dt(row.start_at), dt(row.due_at), row.extra_days)


def apply(ctx: Context, tx: Tx, a: Routed) -> None:
    """Close and extend what message ``a`` answers, forwards or refers, as far as it is known."""
    _per_case(ctx, tx, a)
    conn = tx.conn
    if a.forwards:
        for row in _owed(conn, a.forwards, str(a.sender)):
            if ctx.policy.rule(row.rule).closed_by_forward:
                close(tx, row, a, f"the hub's forward ({a.kind.value})")
    if not a.in_reply_to:
        return
    for row in _owed(conn, a.in_reply_to, str(a.sender)):
        if ctx.policy.closes(ctx.policy.rule(row.rule), a):
            close(tx, row, a, "")
    answered = _message(conn, a.in_reply_to)
    if answered is not None and answered.forwards:
        # The router also delivered this answer to the origin: it answers the hub's obligation too.
        for row in _owed(conn, answered.forwards, str(answered.sender)):
            if ctx.policy.closes(ctx.policy.rule(row.rule), a):
                close(tx, row, a, f"the {a.kind.value} of {a.sender} to the hub's forward")
    _extensions(ctx, tx, a, answered)


def _extensions(ctx: Context, tx: Tx, a: Routed, answered: Routed | None) -> None:
    """An extension request moves what it is about by notice, and by the decisions on it already
    seen; a decision on a request already seen applies to what the request was about."""
    if a.kind is Kind.EXTENSION_REQUEST:
        _extend_by_notice(ctx, tx, a)
        decisions = select(messages).where(
            and_(messages.c.in_reply_to == a.message_id, messages.c.kind == Kind.EXTENSION_DECISION.value)
        )
        for row in tx.conn.execute(decisions.order_by(messages.c.routed_at)).all():
            _extend(ctx, tx, a, routed_from_row(row))
    elif (
        a.kind is Kind.EXTENSION_DECISION and answered is not None and answered.kind is Kind.EXTENSION_REQUEST
    ):
        _extend(ctx, tx, answered, a)


def _per_case(ctx: Context, tx: Tx, a: Routed) -> None:
    """Obligations owed per case (the transfer decision) that a referral, a recorded decision not to
    transfer, or handing the case away closes."""
    referral = a.kind is Kind.POLICE_REFERRAL
    how_away = closing.hands_duty_away(a)
    if not referral and how_away is None:
        return  # most records: no statement to build
    per_case = [r.id for r in ctx.policy.rules if r.closed_by_case_referral]
    scope = [
        obligations.c.case_id == a.case_id,
        obligations.c.rule.in_(per_case),
        obligations.c.state.in_(OPEN_STATES),
    ]
    if referral:
        decided = closing.referral_decided_at(a)
        for row in tx.conn.execute(select(obligations).where(and_(*scope))).all():
            how = f"a police_referral for the case, approved {local_time(decided)}"
            close(tx, row, a, how, closing.closed_at(decided, owed_of(row)))
    if how_away is not None:
        query = select(obligations).where(and_(*scope, obligations.c.owed_by == str(a.sender)))
        for row in tx.conn.execute(query).all():
            close(tx, row, a, how_away, closing.closed_at(a.routed_at, owed_of(row)))


def _owed(conn: Connection, regarding: str, owed_by: str) -> list[Row[Any]]:
    return list(conn.execute(_OWED, {"regarding": regarding, "owed_by": owed_by}).all())


def _message(conn: Connection, message_id: str) -> Routed | None:
    row = conn.execute(_MESSAGE, {"id": message_id}).first()
    return routed_from_row(row) if row is not None else None


def close(tx: Tx, row: Row[Any], answer: Routed, how: str, when: datetime | None = None) -> None:
    """Close an open obligation with this answer, at its routing time unless ``when`` says;
    ``how`` names the answer in the audit trail (default: its kind)."""
    done = closing.closing(dt(row.due_at), when or answer.routed_at)
    lateness = done.lateness.total_seconds()
    result = tx.conn.execute(
        _CLOSE,
        {
            "obligation": row.id,
            "new_state": done.state.value,
            "at": ts(done.at),
            "answer": answer.message_id,
            "lateness": lateness,
        },
    )
    if not result.rowcount:
        return
    tx.counts["closed"] += 1
    late = done.state is State.LATE
    detail = f"{row.what} owed by {row.owed_by} to {row.owed_to} closed by {how or answer.kind.value}"
    if late:
        detail += f", late by {duration_text(lateness)}"
    tx.audit(
        done.at,
        "closed_late" if late else "closed",
        row.regarding,
        row.case_id,
        detail,
        answer.sender,
        by=answer.message_id,
        obligation=row.id,
    )


def _chain(conn: Connection, request: Routed) -> list[Row[Any]]:
    """The obligations an extension request is about: the requester's, and for a forwarded request
    the hub's, as the origin gets the request too (reply.regional_origin)."""
    assert request.in_reply_to is not None
    chain = _owed(conn, request.in_reply_to, str(request.sender))
    asked = _message(conn, request.in_reply_to)
    if asked is not None and asked.forwards:
        chain += _owed(conn, asked.forwards, str(asked.sender))
    return chain


def _extend(ctx: Context, tx: Tx, request: Routed, decision: Routed) -> None:
    """Apply a granted extension to the obligations the request was about."""
    assert request.in_reply_to is not None
    if closing.extension_refused(decision):
        tx.audit(
            decision.routed_at,
            "extension_refused",
            request.in_reply_to,
            request.case_id,
            f"{decision.sender} refused the extension {request.sender} asked for",
            decision.sender,
            by=decision.message_id,
        )
        return
    rows = {row.id: row for row in _chain(tx.conn, request)}
    reached = closing.granted_reach([owed_of(row) for row in rows.values()], ctx.policy, str(decision.sender))
    for owed in reached:
        _extend_one(ctx, tx, rows[owed.id], request, decision)


def _extend_by_notice(ctx: Context, tx: Tx, notice: Routed) -> None:
    """Rules extended by notice (告知, SAMR procedure rules on assisted investigation): the notice,
    sent before expiry, moves the due time itself, no grant needed."""
    rows = {row.id: row for row in _chain(tx.conn, notice)}
    for owed in closing.notice_reach([owed_of(row) for row in rows.values()], ctx.policy):
        _extend_one(ctx, tx, rows[owed.id], notice, notice)


def _extend_one(ctx: Context, tx: Tx, row: Row[Any], request: Routed, decision: Routed) -> None:
    conn = tx.conn
    done = select(extensions.c.obligation_id).where(
        and_(extensions.c.obligation_id == row.id, extensions.c.decision_id == decision.message_id)
    )
    if conn.execute(done).first():
        return
    days = decision.extension_days or 0
    conn.execute(
        insert(extensions).values(
            obligation_id=row.id, decision_id=decision.message_id, extra_days=days, applied_at=ts(tx.now)
        )
    )
    extended = closing.extend(owed_of(row), request.routed_at, days, ctx.policy, ctx.calendar)
    if extended is None:
        tx.audit(
            decision.routed_at,
            "extension_not_applied",
            row.regarding,
            row.case_id,
            f"{request.sender} asked for more time after the due time {local_time(dt(row.due_at))}; "
            "an extension must be asked before expiry",
            decision.sender,
            by=decision.message_id,
            obligation=row.id,
        )
        return
    new = extended.schedule
    conn.execute(
        update(obligations)
        .where(obligations.c.id == row.id)
        .values(
            extra_days=extended.extra_days,
            due_at=ts(new.due_at),
            reminder_at=ts(new.reminder_at),
            revision=row.revision + 1,
            state=State.OPEN.value,
            next_notice_at=ts(new.reminder_at),
            provisional=new.provisional,
        )
    )
    tx.audit(
        decision.routed_at,
        "extended",
        row.regarding,
        row.case_id,
        f"{decision.sender} {'gave notice of' if decision is request else 'granted'} "
        f"{decision.extension_days} more working days: {row.what} owed by "
        f"{row.owed_by} now due {due_text(new.due_at, new.provisional)}",
        decision.sender,
        by=decision.message_id,
        obligation=row.id,
    )
