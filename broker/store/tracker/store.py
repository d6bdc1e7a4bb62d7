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

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from broker.domain.jurisdictions import Registry, default_registry
from broker.store.tracker import chasing, db, holidays, ingest, views
from broker.store.tracker.context import Context
from broker.store.tracker.db import transaction
from broker.store.tracker.model import AuditEvent, ClaimedNotice, IngestResult, Obligation, PartyStats
from broker.store.tracker.schema import calendar_years
from broker.tracker.calendar import OfficialDay, WorkCalendar
from broker.tracker.record import Record
from broker.tracker.rules import Policy

DEFAULT_LEASE_S = 60.0
"""Wall-clock seconds a tracker has to publish a notice it claimed before another may publish it."""
CLAIM_BATCH = 500
"""Obligations one claim transaction handles; the worker claims again until nothing is due."""


class TrackerStore:
    """The tracker's state, one transaction per step: ingest.py, answers.py, chasing.py,
    holidays.py do the steps; views.py answers the operators."""

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
        self.context = Context(self.policy, self.registry, self.calendar, self.postgres)
        self._calendar_stamp: tuple[Any, ...] | None = None
        if migrate:
            self.migrate()
        self.refresh_calendar()

    def close(self) -> None:
        self.engine.dispose()

    def migrate(self) -> None:
        db.migrate(self.engine)

    def ingest(self, records: Sequence[Record], now: datetime) -> IngestResult:
        """Record routed messages, open their obligations, close what they answer, and note the
        quarantined ones in the audit trail. One transaction."""
        return transaction(
            self.engine, lambda tx: ingest.ingest(self.context, tx, records), now, serializable=True
        )

    def claim_notices(
        self, now: datetime, claimant: str, lease_s: float = DEFAULT_LEASE_S, limit: int = CLAIM_BATCH
    ) -> list[ClaimedNotice]:
        """Record the notices due at ``now`` and claim them for publishing, with the notices whose
        claim lapsed (their tracker died before marking them sent). One transaction."""
        return transaction(
            self.engine, lambda tx: chasing.claim(self.context, tx, claimant, lease_s, limit), now
        )

    def mark_sent(self, notice: ClaimedNotice, claimant: str, now: datetime) -> bool:
        """The broker confirmed the notice: record it as sent (once) in the audit trail."""
        return bool(self.mark_all_sent([notice], claimant, now))

    def mark_all_sent(
        self, confirmed: Sequence[ClaimedNotice], claimant: str, now: datetime
    ) -> list[ClaimedNotice]:
        """The notices of one publish the broker confirmed, recorded as sent in one transaction;
        returns those marked (not one whose claim another tracker took over)."""
        if not confirmed:
            return []
        return transaction(
            self.engine, lambda tx: [n for n in confirmed if chasing.mark_sent(tx, n, claimant)], now
        )

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
        try:
            return transaction(
                self.engine, lambda tx: holidays.load(self.context, tx, days, years, source), now
            )
        finally:
            self._calendar_stamp = None
            self.refresh_calendar()

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
