"""The tracker's state in SQL: SQLite for one tracker, PostgreSQL for several replicas.

Every step is one transaction, so a tracker killed at any point leaves the state of a step either
done or not started:

- ingest(records): the messages, their obligations, what they close and their audit events are
  committed together; the worker acks the records only after the commit, and a record seen twice
  (redelivered) is recognised by its message id and skipped. On PostgreSQL the transaction is
  SERIALIZABLE and retried on a serialization failure: an answer and what it answers, ingested at the
  same moment by two trackers, cannot both miss each other.
- claim_notices(now): locks the obligations whose next notice is due (FOR UPDATE SKIP LOCKED, so two
  trackers split them), records each notice with its exact message bytes under a unique key
  (obligation, notice type, due time revision), and moves the obligation's next_notice_at on. The
  worker then publishes with confirms and calls mark_sent. A tracker that dies in between leaves the
  notice 'publishing' with a lease; when the lease expires any tracker publishes the same bytes again
  and the router drops the copy by its message id, so the recipient gets it once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Row, and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from broker.domain.address import Address
from broker.domain.jurisdictions import Registry, default_registry
from broker.domain.messages import Kind
from broker.store.tracker import db, views
from broker.store.tracker.db import Tx, dt, duration_text, local_time, transaction, ts
from broker.store.tracker.model import (
    OPEN_STATES,
    AuditEvent,
    ClaimedNotice,
    IngestResult,
    Obligation,
    PartyStats,
    State,
    due_text,
    obligation_from_row,
    routed_from_row,
)
from broker.store.tracker.schema import (
    calendar_days,
    calendar_years,
    extensions,
    messages,
    notices,
    obligations,
)
from broker.tracker.calendar import BEIJING, OfficialDay, WorkCalendar
from broker.tracker.notices import Notice, notice_message, recipient
from broker.tracker.record import Routed
from broker.tracker.rules import HANDED_AWAY_BY, DeadlineRule, NewObligation, Policy

log = structlog.get_logger("referral_broker.tracker.store")

DEFAULT_LEASE_S = 60.0
"""Wall-clock seconds a tracker has to publish a notice it claimed before another may publish it."""
CLAIM_BATCH = 500
"""Obligations one claim transaction handles; the worker claims again until nothing is due."""


class TrackerStore:
    def __init__(
        self,
        url: str,
        policy: Policy | None = None,
        registry: Registry | None = None,
        calendar: WorkCalendar | None = None,
        migrate: bool = True,
    ) -> None:
        self.url = url
        self.policy = policy or Policy()
        self.registry = registry or default_registry()
        self.calendar = calendar or WorkCalendar()
        self.engine = db.create(url)
        self.postgres = self.engine.dialect.name == "postgresql"
        self._insert_ignore = pg_insert if self.postgres else sqlite_insert
        self._insert_message = (
            self._insert_ignore(messages).on_conflict_do_nothing().returning(messages.c.message_id)
        )
        self._calendar_stamp: tuple[Any, ...] | None = None
        if migrate:
            self.migrate()
        self.refresh_calendar()

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> None:
        db.migrate(self.engine)

    # ---- ingesting decision records ----

    def ingest(self, records: Sequence[Routed], now: datetime) -> IngestResult:
        """Record routed messages, open their obligations, close what they answer. One transaction."""
        return transaction(self.engine, lambda tx: self._ingest(tx, records), now, serializable=True)

    def _ingest(self, tx: Tx, records: Sequence[Routed]) -> IngestResult:
        for record in records:
            tx.counts["ingested" if self._ingest_one(tx, record) else "duplicates"] += 1
        return IngestResult(**{k: tx.counts[k] for k in ("ingested", "duplicates", "obligations", "closed")})

    def _ingest_one(self, tx: Tx, r: Routed) -> bool:
        conn = tx.conn
        inserted = conn.execute(
            self._insert_message,
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
        tx.audit(tx.now, "received", r.message_id, r.case_id, f"{r.kind.value} from {r.sender}", r.sender)
        for d in r.deliveries:
            tx.audit(
                r.routed_at, "routed", r.message_id, r.case_id, f"to {d.to} by rule {d.rule.value}", d.to
            )
        if r.in_reply_to:
            tx.audit(
                r.routed_at,
                "answered",
                r.in_reply_to,
                r.case_id,
                f"{r.kind.value} from {r.sender}",
                r.sender,
                by=r.message_id,
            )
        if r.forwards:
            tx.audit(
                r.routed_at,
                "forwarded",
                r.forwards,
                r.case_id,
                f"forwarded by {r.sender}",
                r.sender,
                by=r.message_id,
            )
        if r.linked_to:
            for subject in (r.message_id, r.linked_to):
                tx.audit(
                    r.routed_at,
                    "referral_linked",
                    subject,
                    r.case_id,
                    f"referral {r.message_id} from {r.sender} joined to referral {r.linked_to} (same company "
                    "and facts)",
                    r.sender,
                    by=r.message_id,
                )
        created = [ob for ob in self.policy.obligations_for(r, self.calendar) if self._open(tx, ob, r)]
        self._apply(tx, r)
        if created:
            for earlier in self._earlier_related(conn, r.message_id):
                self._apply(tx, earlier)
        return True

    def _open(self, tx: Tx, ob: NewObligation, record: Routed) -> bool:
        conn = tx.conn
        rule = self.policy.rule(ob.rule)
        if conn.execute(select(obligations.c.id).where(obligations.c.id == ob.id)).first():
            return False
        if rule.closed_by_case_referral and self._case_referred(conn, ob.case_id):
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
        provisional = self._provisional(rule, ob.start_at, ob.due_at)
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
            self._close(tx, row, record, f"the {record.kind.value} itself")
        return True

    def _provisional(self, rule: DeadlineRule, start: datetime, due: datetime) -> bool:
        return self.calendar.provisional(start, due, rule.unit, rule.roll_to_working_day)

    def _case_referred(self, conn: Connection, case_id: str) -> bool:
        query = select(messages.c.message_id).where(
            and_(messages.c.case_id == case_id, messages.c.kind == Kind.POLICE_REFERRAL.value)
        )
        return conn.execute(query.limit(1)).first() is not None

    def _earlier_related(self, conn: Connection, message_id: str) -> list[Routed]:
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

    def _apply(self, tx: Tx, a: Routed) -> None:
        """Close and extend what message ``a`` answers, forwards or refers, as far as it is known."""
        conn = tx.conn
        if a.kind is Kind.POLICE_REFERRAL:
            per_case = [r.id for r in self.policy.rules if r.closed_by_case_referral]
            query = select(obligations).where(
                and_(
                    obligations.c.case_id == a.case_id,
                    obligations.c.rule.in_(per_case),
                    obligations.c.state.in_(OPEN_STATES),
                )
            )
            for row in conn.execute(query).all():
                # the head decided when approving; the referral may be routed later (24 h rule)
                decided = min(a.approved_at or a.routed_at, a.routed_at)
                at = max(decided, dt(row.start_at))
                self._close(tx, row, a, f"a police_referral for the case, approved {local_time(decided)}", at)
        if a.kind is Kind.TRANSFER_DECLINED or (
            a.kind in (Kind.CASE_TRANSFER, Kind.ESCALATION) and a.delivered_by(*HANDED_AWAY_BY)
        ):
            # Decree 310 Art. 5: the head's recorded decision not to transfer closes the duty; a bureau
            # that hands the case away hands the duty with it (the receiver owes it now, rules.py).
            how = (
                "the head's decision not to transfer, recorded (不予移送)"
                if a.kind is Kind.TRANSFER_DECLINED
                else f"the case was handed away ({a.kind.value}); the duty moved with it"
            )
            per_case = [r.id for r in self.policy.rules if r.closed_by_case_referral]
            query = select(obligations).where(
                and_(
                    obligations.c.case_id == a.case_id,
                    obligations.c.owed_by == str(a.sender),
                    obligations.c.rule.in_(per_case),
                    obligations.c.state.in_(OPEN_STATES),
                )
            )
            for row in conn.execute(query).all():
                self._close(tx, row, a, how, max(a.routed_at, dt(row.start_at)))
        if a.forwards:
            for row in self._owed(conn, a.forwards, str(a.sender)):
                if self.policy.rule(row.rule).closed_by_forward:
                    self._close(tx, row, a, f"the hub's forward ({a.kind.value})")
        if not a.in_reply_to:
            return
        for row in self._owed(conn, a.in_reply_to, str(a.sender)):
            if self.policy.closes(self.policy.rule(row.rule), a):
                self._close(tx, row, a, "")
        answered = self._message(conn, a.in_reply_to)
        if answered is not None and answered.forwards:
            # The router also delivered this answer to the origin: it answers the hub's obligation too.
            for row in self._owed(conn, answered.forwards, str(answered.sender)):
                if self.policy.closes(self.policy.rule(row.rule), a):
                    self._close(tx, row, a, f"the {a.kind.value} of {a.sender} to the hub's forward")
        if a.kind is Kind.EXTENSION_REQUEST:
            self._extend_by_notice(tx, a)
            decisions = select(messages).where(
                and_(messages.c.in_reply_to == a.message_id, messages.c.kind == Kind.EXTENSION_DECISION.value)
            )
            for row in conn.execute(decisions.order_by(messages.c.routed_at)).all():
                self._extend(tx, a, routed_from_row(row))
        elif (
            a.kind is Kind.EXTENSION_DECISION
            and answered is not None
            and answered.kind is Kind.EXTENSION_REQUEST
        ):
            self._extend(tx, answered, a)

    def _owed(self, conn: Connection, regarding: str, owed_by: str) -> list[Row[Any]]:
        return list(conn.execute(_OWED, {"regarding": regarding, "owed_by": owed_by}).all())

    def _message(self, conn: Connection, message_id: str) -> Routed | None:
        row = conn.execute(_MESSAGE, {"id": message_id}).first()
        return routed_from_row(row) if row is not None else None

    def _close(self, tx: Tx, row: Row[Any], answer: Routed, how: str, when: datetime | None = None) -> None:
        """Close an open obligation with this answer, at its routing time unless ``when`` says;
        ``how`` names the answer in the audit trail (default: its kind)."""
        at = ts(when or answer.routed_at)
        lateness = max(0.0, at - row.due_at)
        state = State.LATE if at > row.due_at else State.CLOSED
        result = tx.conn.execute(
            _CLOSE,
            {
                "obligation": row.id,
                "new_state": state.value,
                "at": at,
                "answer": answer.message_id,
                "lateness": lateness,
            },
        )
        if not result.rowcount:
            return
        tx.counts["closed"] += 1
        detail = f"{row.what} owed by {row.owed_by} to {row.owed_to} closed by {how or answer.kind.value}"
        if state is State.LATE:
            detail += f", late by {duration_text(lateness)}"
        tx.audit(
            dt(at),
            "closed_late" if state is State.LATE else "closed",
            row.regarding,
            row.case_id,
            detail,
            answer.sender,
            by=answer.message_id,
            obligation=row.id,
        )

    def _extend(self, tx: Tx, request: Routed, decision: Routed) -> None:
        """Apply a granted extension to the obligations the request was about."""
        conn = tx.conn
        assert request.in_reply_to is not None
        if not decision.extension_granted or not decision.extension_days:
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
        chain = [r for r in self._owed(conn, request.in_reply_to, str(request.sender))]
        asked = self._message(conn, request.in_reply_to)
        if asked is not None and asked.forwards:
            chain += self._owed(conn, asked.forwards, str(asked.sender))
        chain = [
            r
            for r in chain
            if self.policy.rule(r.rule).extendable and not self.policy.rule(r.rule).extended_by_notice
        ]
        granter = str(decision.sender)
        reach = next((i for i, r in enumerate(chain) if r.owed_to == granter), None)
        if reach is None:
            return
        for row in chain[: reach + 1]:
            self._extend_one(tx, row, request, decision)

    def _extend_by_notice(self, tx: Tx, notice: Routed) -> None:
        """Rules extended by notice (告知, SAMR procedure rules on assisted investigation): the notice,
        sent before expiry, moves the due time itself, no grant needed; for a forwarded request the
        hub's obligation too, as the origin gets the notice as well (reply.regional_origin)."""
        conn = tx.conn
        assert notice.in_reply_to is not None
        chain = self._owed(conn, notice.in_reply_to, str(notice.sender))
        asked = self._message(conn, notice.in_reply_to)
        if asked is not None and asked.forwards:
            chain += self._owed(conn, asked.forwards, str(asked.sender))
        for row in chain:
            if self.policy.rule(row.rule).extended_by_notice:
                self._extend_one(tx, row, notice, notice)

    def _extend_one(self, tx: Tx, row: Row[Any], request: Routed, decision: Routed) -> None:
        conn = tx.conn
        done = select(extensions.c.obligation_id).where(
            and_(extensions.c.obligation_id == row.id, extensions.c.decision_id == decision.message_id)
        )
        if conn.execute(done).first():
            return
        conn.execute(
            insert(extensions).values(
                obligation_id=row.id,
                decision_id=decision.message_id,
                extra_days=decision.extension_days or 0,
                applied_at=ts(tx.now),
            )
        )
        if ts(request.routed_at) > row.due_at:
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
        rule = self.policy.rule(row.rule)
        extra = row.extra_days + (decision.extension_days or 0)
        due = self.policy.due_at(rule, dt(row.start_at), extra, self.calendar)
        reminder = self.policy.reminder_at(dt(row.start_at), due)
        provisional = self._provisional(rule, dt(row.start_at), due)
        conn.execute(
            update(obligations)
            .where(obligations.c.id == row.id)
            .values(
                extra_days=extra,
                due_at=ts(due),
                reminder_at=ts(reminder),
                revision=row.revision + 1,
                state=State.OPEN.value,
                next_notice_at=ts(reminder),
                provisional=provisional,
            )
        )
        tx.audit(
            decision.routed_at,
            "extended",
            row.regarding,
            row.case_id,
            f"{decision.sender} {'gave notice of' if decision is request else 'granted'} "
            f"{decision.extension_days} more working days: {row.what} owed by "
            f"{row.owed_by} now due {due_text(due, provisional)}",
            decision.sender,
            by=decision.message_id,
            obligation=row.id,
        )

    # ---- chasing ----

    def claim_notices(
        self, now: datetime, claimant: str, lease_s: float = DEFAULT_LEASE_S, limit: int = CLAIM_BATCH
    ) -> list[ClaimedNotice]:
        """Record the notices due at ``now`` and claim them for publishing, with the notices whose
        claim lapsed (their tracker died before marking them sent). One transaction."""
        return transaction(self.engine, lambda tx: self._claim(tx, claimant, lease_s, limit), now)

    def _claim(self, tx: Tx, claimant: str, lease_s: float, limit: int) -> list[ClaimedNotice]:
        conn, now = tx.conn, tx.now
        wall = time.time()
        query = (
            select(obligations)
            .where(obligations.c.next_notice_at <= ts(now))
            .order_by(obligations.c.next_notice_at)
            .limit(limit)
        )
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        claimed: list[ClaimedNotice] = []
        for row in conn.execute(query).all():
            ob = obligation_from_row(row)
            if not ob.chased:
                lapsed = now >= ob.due_at
                conn.execute(
                    update(obligations)
                    .where(obligations.c.id == ob.id)
                    .values(
                        state=State.LAPSED.value if lapsed else ob.state.value,
                        next_notice_at=None if lapsed else ts(ob.due_at),
                    )
                )
                if lapsed:
                    tx.audit(
                        ob.due_at,
                        "window_lapsed",
                        ob.regarding,
                        ob.case_id,
                        f"{ob.what} window of {ob.owed_by} passed unused",
                        ob.owed_by,
                        obligation=ob.id,
                    )
                continue
            if now < ob.due_at:
                due_notices, next_at = [Notice.REMINDER], ts(ob.due_at)
            else:
                due_notices, next_at = [Notice.ESCALATION, Notice.OVERDUE], None
                if not self._notice_exists(conn, ob, Notice.REMINDER):
                    tx.audit(
                        now,
                        "reminder_skipped",
                        ob.regarding,
                        ob.case_id,
                        f"no reminder to {ob.owed_by}: the {ob.what} was already due when scanned",
                        ob.owed_by,
                        obligation=ob.id,
                    )
            for notice in due_notices:
                item = self._record_notice(tx, ob, notice, claimant, wall + lease_s)
                if item is not None:
                    claimed.append(item)
            conn.execute(
                update(obligations)
                .where(and_(obligations.c.id == ob.id, obligations.c.revision == ob.revision))
                .values(next_notice_at=next_at)
            )
        claimed += self._reclaim(conn, claimant, wall, lease_s, limit)
        return claimed

    def _notice_exists(self, conn: Connection, ob: Obligation, notice: Notice) -> bool:
        query = select(notices.c.message_id).where(
            and_(
                notices.c.obligation_id == ob.id,
                notices.c.notice == notice.value,
                notices.c.revision == ob.revision,
            )
        )
        return conn.execute(query).first() is not None

    def _record_notice(
        self, tx: Tx, ob: Obligation, notice: Notice, claimant: str, lease_until: float
    ) -> ClaimedNotice | None:
        try:
            owed_by, owed_to = Address.parse(ob.owed_by), Address.parse(ob.owed_to)
            to = recipient(notice, owed_by, owed_to, self.registry)
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
        statement = self._insert_ignore(notices).values(**values).on_conflict_do_nothing()
        if tx.conn.execute(statement.returning(notices.c.message_id)).first() is None:
            return None
        return ClaimedNotice(message_id, ob.id, notice, str(to), payload.encode("utf-8"))

    def _reclaim(
        self, conn: Connection, claimant: str, wall: float, lease_s: float, limit: int
    ) -> list[ClaimedNotice]:
        query = (
            select(notices)
            .where(and_(notices.c.state == "publishing", notices.c.lease_until < wall))
            .limit(limit)
        )
        if self.postgres:
            query = query.with_for_update(skip_locked=True)
        out = []
        for row in conn.execute(query).all():
            taken = conn.execute(
                update(notices)
                .where(
                    and_(
                        notices.c.message_id == row.message_id,
                        notices.c.state == "publishing",
                        notices.c.lease_until < wall,
                    )
                )
                .values(claimed_by=claimant, lease_until=wall + lease_s)
            )
            if taken.rowcount:
                out.append(
                    ClaimedNotice(
                        row.message_id,
                        row.obligation_id,
                        Notice(row.notice),
                        row.recipient,
                        row.payload.encode("utf-8"),
                    )
                )
        return out

    def mark_sent(self, notice: ClaimedNotice, claimant: str, now: datetime) -> bool:
        """The broker confirmed the notice: record it as sent (once) in the audit trail."""

        def work(tx: Tx) -> bool:
            done = tx.conn.execute(
                update(notices)
                .where(
                    and_(
                        notices.c.message_id == notice.message_id,
                        notices.c.state == "publishing",
                        notices.c.claimed_by == claimant,
                    )
                )
                .values(state="sent", sent_at=ts(now))
            )
            if not done.rowcount:
                return False
            row = tx.conn.execute(select(obligations).where(obligations.c.id == notice.obligation_id)).one()
            tx.audit(
                now,
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

        return transaction(self.engine, work, now)

    # ---- calendar ----

    def refresh_calendar(self) -> bool:
        """Reload operator-loaded years if they changed. Returns whether they did."""
        with self.engine.connect() as conn:
            stamp = tuple(conn.execute(select(func.count(), func.max(calendar_years.c.loaded_at))).one())
            if stamp == self._calendar_stamp:
                return False
            days, years = views.calendar_rows(conn)
        self.calendar.load(days, years)
        self._calendar_stamp = stamp
        return True

    def load_holidays(
        self, days: Sequence[OfficialDay], years: Sequence[int], source: str, now: datetime
    ) -> int:
        """Store a year's official holidays and working days (replacing those years), then recompute
        the due times of open obligations whose period touches them. Returns how many moved."""

        def work(tx: Tx) -> int:
            conn = tx.conn
            for year in years:
                conn.execute(
                    delete(calendar_days).where(
                        and_(
                            calendar_days.c.day >= f"{year:04d}-01-01",
                            calendar_days.c.day <= f"{year:04d}-12-31",
                        )
                    )
                )
                conn.execute(delete(calendar_years).where(calendar_years.c.year == year))
                conn.execute(
                    insert(calendar_years).values(year=year, loaded_at=time.time(), source=source[:300])
                )
            if days:
                conn.execute(
                    insert(calendar_days),
                    [{"day": d.day.isoformat(), "working": d.working, "name": d.name} for d in days],
                )
            all_days, all_years = views.calendar_rows(conn)
            self.calendar.load(all_days, all_years)
            return self._recompute(tx, min(years), max(years))

        try:
            return transaction(self.engine, work, now)
        finally:
            self._calendar_stamp = None
            self.refresh_calendar()

    def _recompute(self, tx: Tx, first_year: int, last_year: int) -> int:
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
                rule = self.policy.rule(ob.rule)
            except KeyError:
                continue
            due = self.policy.due_at(rule, ob.start_at, ob.extra_days, self.calendar)
            provisional = self._provisional(rule, ob.start_at, due)
            if ts(due) == row.due_at:
                if provisional != ob.provisional:
                    tx.conn.execute(
                        update(obligations)
                        .where(obligations.c.id == ob.id)
                        .values(provisional=provisional)
                    )
                    tx.audit(
                        tx.now,
                        "due_confirmed",
                        ob.regarding,
                        ob.case_id,
                        f"official calendar loaded: {ob.what} owed by {ob.owed_by} stays due "
                        f"{due_text(due, provisional)}",
                        obligation=ob.id,
                    )
                continue
            reminder = self.policy.reminder_at(ob.start_at, due)
            tx.conn.execute(
                update(obligations)
                .where(obligations.c.id == ob.id)
                .values(
                    due_at=ts(due),
                    reminder_at=ts(reminder),
                    revision=ob.revision + 1,
                    next_notice_at=ts(reminder if ob.chased else due),
                    provisional=provisional,
                )
            )
            tx.audit(
                tx.now,
                "due_recomputed",
                ob.regarding,
                ob.case_id,
                f"official calendar loaded: {ob.what} owed by {ob.owed_by} now due "
                f"{due_text(due, provisional)} (was {due_text(ob.due_at, ob.provisional)})",
                obligation=ob.id,
            )
            moved += 1
        return moved

    # ---- views ----

    def obligations(self, regarding: str | None = None, case_id: str | None = None) -> list[Obligation]:
        return views.obligations(self.engine, regarding, case_id)

    def obligation(self, obligation_id: str) -> Obligation | None:
        return views.obligation(self.engine, obligation_id)

    def sent_notices(self) -> list[tuple[str, str, int, str, str, str]]:
        return views.sent_notices(self.engine)

    def trace(self, key: str) -> list[AuditEvent]:
        return views.trace(self.engine, key)

    def overdue(self, now: datetime, party: str | None = None, limit: int | None = None) -> list[Obligation]:
        return views.overdue(self.engine, now, party, limit)

    def stats(self, now: datetime) -> list[PartyStats]:
        return views.stats(self.engine, now)

    def open_and_overdue(self, now: datetime) -> tuple[int, int]:
        return views.open_and_overdue(self.engine, now)

    def holidays(self) -> list[tuple[int, str, list[OfficialDay]]]:
        return views.holidays(self.engine)


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
