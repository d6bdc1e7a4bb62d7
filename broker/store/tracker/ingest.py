"""Ingesting decision records: each routed message once, its audit events, the obligations it opens
(broker/tracker/rules.py decides which), and what it closes or extends (answers.py)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from broker.domain.messages import Kind
from broker.store.tracker import answers
from broker.store.tracker.context import Context
from broker.store.tracker.db import Tx, ts
from broker.store.tracker.model import IngestResult, due_text, routed_from_row
from broker.store.tracker.schema import audit, messages, obligations
from broker.tracker import closing
from broker.tracker.closing import State
from broker.tracker.record import Quarantined, Record, Routed
from broker.tracker.rules import NewObligation

# built once per dialect: building it per record costs more than running it
_INSERT_MESSAGE = {
    postgres: (postgresql.insert(messages) if postgres else sqlite.insert(messages))
    .on_conflict_do_nothing()
    .returning(messages.c.message_id)
    for postgres in (True, False)
}


def ingest(ctx: Context, tx: Tx, records: Sequence[Record]) -> IngestResult:
    for record in records:
        if isinstance(record, Quarantined):
            new = _note_quarantined(tx, record)
        else:
            new = _ingest_one(ctx, tx, record)
        tx.counts["ingested" if new else "duplicates"] += 1
    return IngestResult(**{k: tx.counts[k] for k in ("ingested", "duplicates", "obligations", "closed")})


def _ingest_one(ctx: Context, tx: Tx, r: Routed) -> bool:
    inserted = tx.conn.execute(
        _INSERT_MESSAGE[ctx.postgres],
        {
            "message_id": r.message_id,
            "kind": r.kind.value,
            "sender": str(r.sender),
            "case_id": r.case_id,
            "in_reply_to": r.in_reply_to,
            "forwards": r.forwards,
            "sent_at": ts(r.sent_at),
            "routed_at": ts(r.routed_at),
            "received_at": ts(tx.now),
            "extension_days": r.extension_days,
            "extension_granted": r.extension_granted,
            "filing": r.filing,
            "complete": r.complete,
        },
    )
    if inserted.first() is None:
        return False  # seen before: a redelivered record
    _audit_routing(tx, r)
    created = [ob for ob in ctx.policy.obligations_for(r, ctx.calendar) if _open(ctx, tx, ob, r)]
    answers.apply(ctx, tx, r)
    if created:
        for earlier in _earlier_related(tx.conn, r.message_id):
            answers.apply(ctx, tx, earlier)
    return True


def _audit_routing(tx: Tx, r: Routed) -> None:
    tx.audit(tx.now, "received", r.message_id, r.case_id, f"{r.kind.value} from {r.sender}", r.sender)
    for d in r.deliveries:
        tx.audit(r.routed_at, "routed", r.message_id, r.case_id, f"to {d.to} by rule {d.rule.value}", d.to)
    if r.in_reply_to:
        detail = f"{r.kind.value} from {r.sender}"
        tx.audit(r.routed_at, "answered", r.in_reply_to, r.case_id, detail, r.sender, by=r.message_id)
    if r.forwards:
        detail = f"forwarded by {r.sender}"
        tx.audit(r.routed_at, "forwarded", r.forwards, r.case_id, detail, r.sender, by=r.message_id)
    if r.linked_to:
        detail = (
            f"referral {r.message_id} from {r.sender} joined to referral {r.linked_to} (same company "
            "and facts)"
        )
        for subject in (r.message_id, r.linked_to):
            tx.audit(r.routed_at, "referral_linked", subject, r.case_id, detail, r.sender, by=r.message_id)


def _open(ctx: Context, tx: Tx, ob: NewObligation, record: Routed) -> bool:
    conn = tx.conn
    rule = ctx.policy.rule(ob.rule)
    if conn.execute(select(obligations.c.id).where(obligations.c.id == ob.id)).first():
        return False
    if rule.closed_by_case_referral and _case_referred(conn, ob.case_id):
        tx.audit(
            ob.start_at,
            "threshold_reached",
            ob.regarding,
            ob.case_id,
            f"case reaches the criminal threshold; a police referral for it was already sent ({rule.id} "
            "not opened)",
            ob.owed_by,
        )
        return False
    provisional = closing.provisional(rule, ob.start_at, ob.due_at, ctx.calendar)
    conn.execute(
        insert(obligations).values(
            id=ob.id,
            rule=ob.rule,
            what=ob.what,
            regarding=ob.regarding,
            case_id=ob.case_id,
            owed_by=str(ob.owed_by),
            owed_to=str(ob.owed_to),
            basis=ob.basis,
            chased=ob.chased,
            start_at=ts(ob.start_at),
            extra_days=0,
            due_at=ts(ob.due_at),
            reminder_at=ts(ob.reminder_at),
            revision=0,
            state=State.OPEN.value,
            next_notice_at=ts(ob.reminder_at if ob.chased else ob.due_at),
            created_at=ts(tx.now),
            provisional=provisional,
        )
    )
    kind = "obligation" if ob.chased else "optional window"
    tx.audit(
        ob.start_at,
        "obligation_opened",
        ob.regarding,
        ob.case_id,
        f"{kind} {ob.what}: {ob.owed_by} owes {ob.owed_to}, due {due_text(ob.due_at, provisional)} "
        f"({ob.rule})",
        ob.owed_by,
        obligation=ob.id,
    )
    tx.counts["obligations"] += 1
    if rule.closed_by_itself:
        row = conn.execute(select(obligations).where(obligations.c.id == ob.id)).one()
        answers.close(tx, row, record, f"the {record.kind.value} itself")
    return True


def _case_referred(conn: Connection, case_id: str) -> bool:
    query = select(messages.c.message_id).where(
        and_(messages.c.case_id == case_id, messages.c.kind == Kind.POLICE_REFERRAL.value)
    )
    return conn.execute(query.limit(1)).first() is not None


def _earlier_related(conn: Connection, message_id: str) -> list[Routed]:
    """Messages already seen that answer or forward this one, and answers to those forwards."""
    forwards = select(messages.c.message_id).where(messages.c.forwards == message_id)
    query = select(messages).where(
        or_(
            messages.c.in_reply_to == message_id,
            messages.c.forwards == message_id,
            messages.c.in_reply_to.in_(forwards),
        )
    )
    rows = conn.execute(query.order_by(messages.c.routed_at, messages.c.message_id)).all()
    return [routed_from_row(row) for row in rows]


def _note_quarantined(tx: Tx, q: Quarantined) -> bool:
    """The router's verdict in the audit trail, once: a redelivered record, or the row an operator
    command wrote first on seeing the message in the quarantine (operator_audit.py), is not
    written again."""
    known = tx.conn.execute(
        select(audit.c.id).where(and_(audit.c.message_id == q.message_id, audit.c.event == "quarantined"))
    ).first()
    if known is not None:
        return False
    tx.conn.execute(
        insert(audit).values(
            at=ts(q.quarantined_at),
            message_id=q.message_id,
            by_message=q.notice_id,
            case_id=q.case_id,
            obligation_id=None,
            event="quarantined",
            actor=q.sender,
            detail=q.detail,
        )
    )
    return True
