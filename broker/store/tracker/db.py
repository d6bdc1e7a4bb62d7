"""Database plumbing of the tracker: engines for SQLite and PostgreSQL, transactions that are retried
when PostgreSQL aborts them as serialization failures, migrations, and how times are stored.

SQLite: WAL, and every writing transaction starts with BEGIN IMMEDIATE, so writers queue for the
lock (busy_timeout) instead of failing half-way. PostgreSQL: transactions that must see each other's
effects (ingesting) run SERIALIZABLE and are retried; migrations run under an advisory lock.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import event, insert, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from broker.domain.address import Address
from broker.store.database import engine_for
from broker.store.tracker.schema import audit
from broker.tracker.calendar import BEIJING

T = TypeVar("T")

MAX_ATTEMPTS = 30
"""Tries of one transaction that PostgreSQL aborted as a serialization failure or deadlock."""
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "23505"})
"""serialization_failure, deadlock_detected, and unique_violation (a concurrent insert of the same
record or obligation: the retry sees it and skips)."""
MIGRATION_LOCK = 0x7472_6163_6B65_72
"""PostgreSQL advisory lock key ("tracker") held while migrating, so replicas starting together
migrate once."""


@dataclass
class Tx:
    """One transaction and the audit events it will append."""

    conn: Connection
    now: datetime
    events: list[dict[str, Any]] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    """What the transaction did (ingested, obligations, closed, ...)."""

    def audit(
        self,
        at: datetime,
        event: str,
        message_id: str,
        case_id: str,
        detail: str,
        actor: str | Address | None = None,
        by: str | None = None,
        obligation: str | None = None,
    ) -> None:
        self.events.append(
            {
                "at": ts(at),
                "event": event,
                "message_id": message_id,
                "by_message": by,
                "case_id": case_id,
                "obligation_id": obligation,
                "actor": str(actor) if actor is not None else None,
                "detail": detail,
            }
        )

    def flush(self) -> None:
        if self.events:
            self.conn.execute(insert(audit), self.events)
            self.events = []


def create(url: str) -> Engine:
    """An engine for the URL; in-memory SQLite shares one connection between threads."""
    engine = engine_for(url, busy_timeout_ms=10_000)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _: Any) -> None:
    # The driver's own transaction handling is off; _sqlite_begin starts each transaction, so a
    # writer takes the lock up front (BEGIN IMMEDIATE) and waits for busy_timeout instead of failing.
    dbapi_connection.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("tracker_write") else "BEGIN")


def retryable(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in RETRYABLE_SQLSTATES:
        return True
    return "database is locked" in str(exc.orig)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (Alembic); replicas starting together migrate once."""
    config = Config()
    config.set_main_option("script_location", "broker.store.tracker:migrations")
    with write_connection(engine) as conn, conn.begin():
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


@contextmanager
def write_connection(engine: Engine, serializable: bool = False) -> Iterator[Connection]:
    with engine.connect() as conn:
        options: dict[str, Any] = {"tracker_write": True}
        if serializable and engine.dialect.name == "postgresql":
            options["isolation_level"] = "SERIALIZABLE"
        yield conn.execution_options(**options)


def transaction(engine: Engine, work: Callable[[Tx], T], now: datetime, serializable: bool = False) -> T:
    """Run ``work`` in one writing transaction, with the audit events it appended; retried from the
    start when PostgreSQL aborts it as a serialization failure or deadlock."""
    delay = 0.002
    for attempt in itertools.count(1):
        try:
            with write_connection(engine, serializable) as conn, conn.begin():
                tx = Tx(conn, now)
                out = work(tx)
                tx.flush()
                return out
        except DBAPIError as exc:
            if attempt >= MAX_ATTEMPTS or not retryable(exc):
                raise
            time.sleep(random.uniform(0, delay))
            delay = min(delay * 2, 0.2)
    raise AssertionError("unreachable")


def ts(when: datetime) -> float:
    return when.timestamp()


def dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def local_time(when: datetime) -> str:
    return when.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M CST")


def duration_text(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    return f"{days}d {hours}h {rest // 60}m" if days else f"{hours}h {rest // 60}m"


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, StrEnum):
        return value.value
    return value
