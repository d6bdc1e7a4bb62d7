"""What the router remembers of the messages it routed, in SQLite (one router) or PostgreSQL (several).

It serves three purposes: replies find the sender of what they answer; the no-re-transfer rule
finds who holds a case by transfer (by case id, or by what the case is about: `case_subjects`, in
their own table, which an older database gains when a router first opens it); a message delivered
twice (a redelivery after a crash, or a publisher that sent it again) is recognised by its id and
not routed twice. Records are kept for RETENTION_DAYS after routing and pruned after that.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import orjson
from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from broker.domain.address import Address
from broker.domain.messages import Handling, Kind
from broker.domain.routing import RECEIVES_CASE, RoutedRecord, Rule
from broker.router.ports import Seen, State
from broker.store.database import engine_for

__all__ = ["RETENTION_DAYS", "Seen", "SqlRoutingMemory", "State"]

RETENTION_DAYS = 400
"""How long routed message ids are remembered: longer than any reply or transfer chain runs
(15 working days plus extensions), and past a year so yearly reports can replay them."""

PRUNE_CHUNK = 500
"""Ids per DELETE … IN (…) while pruning: under SQLite's and PostgreSQL's limits on parameters."""

metadata = MetaData()

routed = Table(
    "routed_messages",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("sender", String(40), nullable=False),
    Column("case_id", String(64), nullable=False, index=True),
    Column("to_json", Text, nullable=False),
    Column("handling_json", Text, nullable=False),
    Column("forwards", String(36)),
    Column("digest", String(64), nullable=False),
    Column("fingerprint", String(64), index=True),
    Column("state", String(10), nullable=False),
    Column("routed_at", Float, nullable=False, index=True),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("recipient", String(40), primary_key=True),
    Column("rule", String(60), nullable=False),
    Column("confirmed", Integer, nullable=False, default=0),
    Index("ix_deliveries_recipient_rule", "recipient", "rule"),
)
"""`confirmed` is read only while its message is `routing`: once the message is `routed`, every
delivery of it is confirmed, and the column is not rewritten to say so."""


subjects = Table(
    "case_subjects",
    metadata,
    Column("message_id", String(36), primary_key=True),
    Column("subject", String(80), primary_key=True),
    Index("ix_case_subjects_subject", "subject"),
)
"""What each routed case-bearing message is about (company credit code and violation). A table of
its own, not a column, so a database written before it is extended by create_all alone; messages
routed before it match by case id only."""


class SqlRoutingMemory:
    """The router's outbox and routing index (broker/router/ports.py) backed by SQL, shared by every
    router replica that uses the same database."""

    def __init__(self, url: str) -> None:
        self.engine: Engine = engine_for(url)
        try:
            metadata.create_all(self.engine)
        except (OperationalError, ProgrammingError):
            # another router starting on the same database created a table between our check and
            # our CREATE: the check now sees it
            metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def original(self, message_id: UUID) -> RoutedRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(routed).where(routed.c.message_id == str(message_id))).first()
            if row is None:
                return None
            rows = conn.execute(select(deliveries).where(deliveries.c.message_id == str(message_id))).all()
            about = conn.execute(
                select(subjects.c.subject).where(subjects.c.message_id == str(message_id))
            ).scalars()
            held = frozenset(about)
        return RoutedRecord(
            message_id=UUID(row.message_id),
            kind=Kind(row.kind),
            sender=Address.parse(row.sender),
            case_id=row.case_id,
            to=tuple(Address.parse(a) for a in orjson.loads(row.to_json)),
            handling=frozenset(Handling(h) for h in orjson.loads(row.handling_json)),
            forwards=UUID(row.forwards) if row.forwards else None,
            deliveries=tuple((Address.parse(d.recipient), Rule(d.rule)) for d in rows),
            fingerprint=row.fingerprint,
            subjects=held,
        )

    def referral(self, fingerprint: str) -> RoutedRecord | None:
        query = (
            select(routed.c.message_id)
            .where(and_(routed.c.fingerprint == fingerprint, routed.c.kind == Kind.POLICE_REFERRAL.value))
            .order_by(routed.c.routed_at)
            .limit(1)
        )
        with self.engine.connect() as conn:
            first = conn.execute(query).scalar()
        return self.original(UUID(first)) if first else None

    def received_by_transfer(self, case_id: str, bureau: Address) -> RoutedRecord | None:
        query = (
            select(deliveries.c.message_id)
            .join(routed, routed.c.message_id == deliveries.c.message_id)
            .where(
                and_(
                    routed.c.case_id == case_id,
                    deliveries.c.recipient == str(bureau),
                    deliveries.c.rule.in_([r.value for r in RECEIVES_CASE]),
                )
            )
            .order_by(routed.c.routed_at.desc())
            .limit(1)
        )
        return self._latest(query)

    def subject_received_by_transfer(self, about: frozenset[str], bureau: Address) -> RoutedRecord | None:
        if not about:
            return None
        query = (
            select(deliveries.c.message_id)
            .join(subjects, subjects.c.message_id == deliveries.c.message_id)
            .join(routed, routed.c.message_id == deliveries.c.message_id)
            .where(
                and_(
                    subjects.c.subject.in_(sorted(about)),
                    deliveries.c.recipient == str(bureau),
                    deliveries.c.rule.in_([r.value for r in RECEIVES_CASE]),
                )
            )
            .order_by(routed.c.routed_at.desc())
            .limit(1)
        )
        return self._latest(query)

    def _latest(self, query: Select[Any]) -> RoutedRecord | None:
        with self.engine.connect() as conn:
            found = conn.execute(query).scalar()
        return self.original(UUID(found)) if found else None

    def seen(self, message_ids: list[UUID]) -> dict[UUID, Seen]:
        """What is remembered of these messages (one query); unknown ids are absent."""
        if not message_ids:
            return {}
        keys = [str(m) for m in message_ids]
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(routed.c.message_id, routed.c.state, routed.c.digest).where(
                    routed.c.message_id.in_(keys)
                )
            ).all()
            if not rows:
                return {}
            # a routed message has nothing pending (and a redelivered one is a duplicate)
            routing = [r.message_id for r in rows if r.state == State.ROUTING.value]
            pending_rows = (
                conn.execute(
                    select(deliveries.c.message_id, deliveries.c.recipient).where(
                        and_(deliveries.c.message_id.in_(routing), deliveries.c.confirmed == 0)
                    )
                ).all()
                if routing
                else []
            )
        pending: dict[str, set[Address]] = {}
        for row in pending_rows:
            pending.setdefault(row.message_id, set()).add(Address.parse(row.recipient))
        return {
            UUID(r.message_id): Seen(State(r.state), r.digest, frozenset(pending.get(r.message_id, ())))
            for r in rows
        }

    def begin(self, records: list[tuple[RoutedRecord, str]]) -> set[UUID]:
        """Record decisions (with their digests) before publishing, in one transaction.

        Returns the ids recorded now; an id another router replica recorded first is left out.
        """
        if not records:
            return set()
        try:
            with self.engine.begin() as conn:
                self._insert(conn, records)
            return {r.message_id for r, _ in records}
        except IntegrityError:
            pass
        recorded = set()
        for record in records:  # a race with another replica: settle it message by message
            try:
                with self.engine.begin() as conn:
                    self._insert(conn, [record])
                recorded.add(record[0].message_id)
            except IntegrityError:
                continue
        return recorded

    @staticmethod
    def _insert(conn: Any, records: list[tuple[RoutedRecord, str]]) -> None:
        now = time.time()
        # each id is turned into its text once, not once per table and row
        keyed = [(str(r.message_id), r, digest) for r, digest in records]
        conn.execute(
            insert(routed),
            [
                {
                    "message_id": key,
                    "kind": r.kind.value,
                    "sender": str(r.sender),
                    "case_id": r.case_id,
                    "to_json": orjson.dumps([str(a) for a in r.to]).decode(),
                    "handling_json": orjson.dumps(sorted(h.value for h in r.handling)).decode(),
                    "forwards": str(r.forwards) if r.forwards else None,
                    "digest": digest,
                    "fingerprint": r.fingerprint,
                    "state": State.ROUTING.value,
                    "routed_at": now,
                }
                for key, r, digest in keyed
            ],
        )
        rows = [
            {"message_id": key, "recipient": str(a), "rule": rule.value, "confirmed": 0}
            for key, r, _ in keyed
            for a, rule in r.deliveries
        ]
        if rows:
            conn.execute(insert(deliveries), rows)
        about = [{"message_id": key, "subject": s} for key, r, _ in keyed for s in sorted(r.subjects)]
        if about:
            conn.execute(insert(subjects), about)

    def confirmed(self, done: dict[UUID, list[Address]], finished: set[UUID]) -> None:
        """Mark confirmed deliveries and the messages whose every output is confirmed, in one transaction.

        A finished message is marked `routed`, which says that all its deliveries are confirmed
        (`deliveries`); only partly confirmed messages (an output was refused) are marked recipient
        by recipient.
        """
        finished_keys = [str(m) for m in finished]
        with self.engine.begin() as conn:
            if finished_keys:
                conn.execute(
                    update(routed)
                    .where(routed.c.message_id.in_(finished_keys))
                    .values(state=State.ROUTED.value)
                )
            for message_id, recipients in done.items():
                if message_id in finished or not recipients:
                    continue
                conn.execute(
                    update(deliveries)
                    .where(
                        and_(
                            deliveries.c.message_id == str(message_id),
                            deliveries.c.recipient.in_([str(a) for a in recipients]),
                        )
                    )
                    .values(confirmed=1)
                )

    def prune(self, older_than_days: float = RETENTION_DAYS, limit: int | None = None) -> int:
        """Forget the messages routed more than `older_than_days` ago, the oldest first, at most
        `limit` of them (None: all) in one transaction; returns how many were forgotten."""
        cutoff = time.time() - older_than_days * 86400
        old = select(routed.c.message_id).where(routed.c.routed_at < cutoff)
        if limit is not None:
            old = old.order_by(routed.c.routed_at).limit(limit)
        forgotten = 0
        with self.engine.begin() as conn:
            keys = list(conn.execute(old).scalars())
            for start in range(0, len(keys), PRUNE_CHUNK):
                chunk = keys[start : start + PRUNE_CHUNK]
                conn.execute(delete(deliveries).where(deliveries.c.message_id.in_(chunk)))
                conn.execute(delete(subjects).where(subjects.c.message_id.in_(chunk)))
                # counted as deleted: a router sharing the database may have pruned some first
                forgotten += int(
                    conn.execute(delete(routed).where(routed.c.message_id.in_(chunk))).rowcount or 0
                )
        return forgotten
