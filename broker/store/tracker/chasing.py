"""Chasing: the notices due now are recorded with their exact bytes and claimed for publishing in one
transaction (closing.chase decides which), and marked sent once the broker confirmed them.

Two trackers split the due obligations (FOR UPDATE SKIP LOCKED on PostgreSQL). A notice is recorded
under a unique key (obligation, notice type, due time revision), so it is made once; a tracker that
dies before marking it sent leaves it 'publishing' with a lease, and once the lease expires any
tracker publishes the same bytes again (the router drops the copy by its message id).
"""

from __future__ import annotations

import time

import structlog
from sqlalchemy import and_, or_, select, update
from sqlalchemy.engine import Connection

from broker.domain.address import Address
from broker.store.tracker.context import Context
from broker.store.tracker.db import Tx, dt, ts
from broker.store.tracker.model import ClaimedNotice, Obligation, due_text, obligation_from_row
from broker.store.tracker.schema import notices, obligations
from broker.tracker import closing
from broker.tracker.closing import State
from broker.tracker.notices import Notice, Supervisor, notice_message, recipient

log = structlog.get_logger("referral_broker.tracker.store")


def claim(ctx: Context, tx: Tx, claimant: str, lease_s: float, limit: int) -> list[ClaimedNotice]:
    conn, now = tx.conn, tx.now
    wall = time.time()
    query = (
        select(obligations)
        .where(obligations.c.next_notice_at <= ts(now))
        .order_by(obligations.c.next_notice_at)
        .limit(limit)
    )
    if ctx.postgres:
        query = query.with_for_update(skip_locked=True)
    claimed = _reclaim(ctx, conn, claimant, wall, lease_s, limit)  # before this claim makes its own
    for row in conn.execute(query).all():
        ob = obligation_from_row(row)
        reminded = ob.chased and now >= ob.due_at and _notice_exists(conn, ob, Notice.REMINDER)
        chase = closing.chase(ob.chased, ob.due_at, now, reminded)
        if not ob.chased:
            _window(tx, ob, chase)
            continue
        if chase.reminder_missed:
            tx.audit(
                now,
                "reminder_skipped",
                ob.regarding,
                ob.case_id,
                f"no reminder to {ob.owed_by}: the {ob.what} was already due when scanned",
                ob.owed_by,
                obligation=ob.id,
            )
        for notice in chase.notices:
            item = _record_notice(ctx, tx, ob, notice, claimant, wall + lease_s)
            if item is not None:
                claimed.append(item)
        conn.execute(
            update(obligations)
            .where(and_(obligations.c.id == ob.id, obligations.c.revision == ob.revision))
            .values(next_notice_at=ts(chase.next_at) if chase.next_at is not None else None)
        )
    return claimed


def _window(tx: Tx, ob: Obligation, chase: closing.Chase) -> None:
    """An optional window is looked at once, at its due time, and lapses if still open then."""
    tx.conn.execute(
        update(obligations)
        .where(obligations.c.id == ob.id)
        .values(
            state=State.LAPSED.value if chase.lapsed else ob.state.value,
            next_notice_at=ts(chase.next_at) if chase.next_at is not None else None,
        )
    )
    if chase.lapsed:
        tx.audit(
            ob.due_at,
            "window_lapsed",
            ob.regarding,
            ob.case_id,
            f"{ob.what} window of {ob.owed_by} passed unused",
            ob.owed_by,
            obligation=ob.id,
        )


def _notice_exists(conn: Connection, ob: Obligation, notice: Notice) -> bool:
    query = select(notices.c.message_id).where(
        and_(
            notices.c.obligation_id == ob.id,
            notices.c.notice == notice.value,
            notices.c.revision == ob.revision,
        )
    )
    return conn.execute(query).first() is not None


def _record_notice(
    ctx: Context, tx: Tx, ob: Obligation, notice: Notice, claimant: str, lease_until: float
) -> ClaimedNotice | None:
    try:
        owed_by, owed_to = Address.parse(ob.owed_by), Address.parse(ob.owed_to)
        to = recipient(notice, owed_by, owed_to, ctx.registry, _supervisor(ctx, ob))
        message = None
        if to is not None:
            message = notice_message(
                notice,
                to=to,
                obligation_id=ob.id,
                what=ob.what,
                regarding=ob.regarding,
                case_id=ob.case_id,
                owed_by=owed_by,
                owed_to=owed_to,
                due_at=ob.due_at,
                basis=ob.basis,
                sent_at=tx.now,  # the tracker's clock, which the router's must agree with
                provisional=ob.provisional,
            )
    except ValueError as exc:
        # e.g. a division code retired since the message was routed: report it, keep chasing others
        log.warning("notice not made", obligation_id=ob.id, notice=notice.value, error=str(exc)[:200])
        why = f"it cannot be addressed ({type(exc).__name__}: {str(exc)[:200]})"
        to, message = None, None
    else:
        why = "it has no superior bureau"
    if to is None or message is None:
        tx.audit(
            tx.now,
            f"{notice.value}_skipped",
            ob.regarding,
            ob.case_id,
            f"no {notice.value} for {ob.what} owed by {ob.owed_by}: {why}",
            ob.owed_by,
            obligation=ob.id,
        )
        return None
    message_id = str(message.envelope.message_id)
    payload = message.model_dump_json(exclude_none=True)
    values = {
        "message_id": message_id,
        "obligation_id": ob.id,
        "notice": notice.value,
        "revision": ob.revision,
        "recipient": str(to),
        "payload": payload,
        "state": "publishing",
        "claimed_by": claimant,
        "lease_until": lease_until,
        "created_at": ts(tx.now),
    }
    statement = ctx.insert_ignore(notices).values(**values).on_conflict_do_nothing()
    if tx.conn.execute(statement.returning(notices.c.message_id)).first() is None:
        return None
    return ClaimedNotice(message_id, ob.id, notice, str(to), payload.encode("utf-8"))


def _supervisor(ctx: Context, ob: Obligation) -> Supervisor:
    """Who the obligation's rule escalates to; the default for a rule this tracker does not know."""
    rule = next((r for r in ctx.policy.rules if r.id == ob.rule), None)
    return rule.escalated_to if rule is not None else Supervisor.SUPERIOR_BUREAU


def _reclaim(
    ctx: Context, conn: Connection, claimant: str, wall: float, lease_s: float, limit: int
) -> list[ClaimedNotice]:
    """Notices whose claim lapsed (their tracker died before marking them sent), and this tracker's
    own unfinished claims: a scan claims again only after its last claim's notices were marked or
    given up (refused by the broker, or the database went away before they were marked), so none of
    its own is being published now, and waiting out its lease would only delay them."""
    lapsed = and_(
        notices.c.state == "publishing", or_(notices.c.lease_until < wall, notices.c.claimed_by == claimant)
    )
    query = select(notices).where(lapsed).limit(limit)
    if ctx.postgres:
        query = query.with_for_update(skip_locked=True)
    out = []
    for row in conn.execute(query).all():
        taken = conn.execute(
            update(notices)
            .where(and_(notices.c.message_id == row.message_id, lapsed))
            .values(claimed_by=claimant, lease_until=wall + lease_s)
        )
        if taken.rowcount:
            payload = row.payload.encode("utf-8")
            out.append(
                ClaimedNotice(row.message_id, row.obligation_id, Notice(row.notice), row.recipient, payload)
            )
    return out


def mark_sent(tx: Tx, notice: ClaimedNotice, claimant: str) -> bool:
    """The broker confirmed the notice: record it as sent (once) in the audit trail."""
    done = tx.conn.execute(
        update(notices)
        .where(
            and_(
                notices.c.message_id == notice.message_id,
                notices.c.state == "publishing",
                notices.c.claimed_by == claimant,
            )
        )
        .values(state="sent", sent_at=ts(tx.now))
    )
    if not done.rowcount:
        return False
    row = tx.conn.execute(select(obligations).where(obligations.c.id == notice.obligation_id)).one()
    tx.audit(
        tx.now,
        f"{notice.notice.value}_sent",
        row.regarding,
        row.case_id,
        f"{notice.notice.value} about {row.what} owed by {row.owed_by} "
        f"(due {due_text(dt(row.due_at), bool(row.provisional))}) sent to {notice.recipient}",
        notice.recipient,
        by=notice.message_id,
        obligation=row.id,
    )
    return True
