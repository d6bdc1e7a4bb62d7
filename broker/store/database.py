"""SQLAlchemy engines for the workers' state, made one way: SQLite (WAL) or PostgreSQL."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool


def engine_for(url: str, busy_timeout_ms: int = 5000) -> Engine:
    """An engine for the URL. In-memory SQLite shares one connection between threads (or each
    thread would see its own empty database); file SQLite runs in WAL mode with
    synchronous=NORMAL, which survives a killed process, the case that matters here (an OS crash
    may lose the last commits, which are then redelivered and deduplicated downstream). A SQLite
    file is created mode 600: it holds case ids, addresses and the audit trail."""
    _private_sqlite_file(url)
    if url in ("sqlite://", "sqlite:///:memory:"):
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    else:
        engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        def pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            # the wait first: switching to WAL takes a lock, and a second process opening the same
            # new file at that moment would otherwise fail at once with "database is locked"
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        event.listen(engine, "connect", pragmas)
    return engine


def _private_sqlite_file(url: str) -> None:
    """Create a SQLite database file mode 600 before SQLite would create it with the umask's mode
    (644 with the usual 022); its -wal and -shm files inherit the mode. A file an earlier version
    left readable by others is tightened."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    if parsed.database == ":memory:" or parsed.database.startswith("file:"):
        return
    path = Path(parsed.database)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            os.chmod(file, 0o600)
