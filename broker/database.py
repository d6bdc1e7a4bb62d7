"""SQLAlchemy engines for the workers' state, made one way: SQLite (WAL) or PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool


def engine_for(url: str, busy_timeout_ms: int = 5000) -> Engine:
    """An engine for the URL. In-memory SQLite shares one connection between threads (or each
    thread would see its own empty database); file SQLite runs in WAL mode with
    synchronous=NORMAL, which survives a killed process, the case that matters here (an OS crash
    may lose the last commits, which are then redelivered and deduplicated downstream)."""
    if url in ("sqlite://", "sqlite:///:memory:"):
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        def pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.close()

        event.listen(engine, "connect", pragmas)
    return engine
