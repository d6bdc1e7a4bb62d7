"""Throw-away databases for tests and the tracker's benchmark: a SQLite file, or a PostgreSQL
schema dropped afterwards (RB_TEST_POSTGRES_URL names the server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal
from urllib.parse import quote

from sqlalchemy import create_engine, text

TEST_POSTGRES_URL = os.environ.get(
    "RB_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
"""RB_TEST_POSTGRES_URL: the PostgreSQL database tests create their schemas in."""


@contextmanager
def temporary_database(kind: Literal["sqlite", "postgres"], directory: Path) -> Iterator[str]:
    """A database URL for one test: a SQLite file under ``directory``, or a fresh PostgreSQL schema
    (dropped afterwards) that the URL selects with search_path."""
    tag = uuid.uuid4().hex[:12]
    if kind == "sqlite":
        yield f"sqlite:///{directory / f'tracker-{tag}.sqlite3'}"
        return
    schema = f"tracker_test_{tag}"
    admin = create_engine(TEST_POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        separator = "&" if "?" in TEST_POSTGRES_URL else "?"
        yield f"{TEST_POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def postgres_reachable() -> bool:
    try:
        engine = create_engine(TEST_POSTGRES_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False
