"""What every step of the tracker's store works with: the deadline rules, the registry, the calendar
as loaded, and the dialect's insert-or-ignore."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite

from broker.domain.jurisdictions import Registry
from broker.tracker.calendar import WorkCalendar
from broker.tracker.rules import Policy


@dataclass(frozen=True)
class Context:
    policy: Policy
    registry: Registry
    calendar: WorkCalendar
    """Shared with the store, which reloads it when an operator loads a year."""
    postgres: bool

    def insert_ignore(self, table: Table) -> postgresql.Insert | sqlite.Insert:
        """An INSERT whose ``on_conflict_do_nothing`` the dialect understands."""
        return postgresql.insert(table) if self.postgres else sqlite.insert(table)
