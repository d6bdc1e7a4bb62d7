"""Alembic environment: runs on the connection store.migrate() passes (inside its transaction and,
on PostgreSQL, under its advisory lock), never from alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from broker.store.tracker.schema import VERSION_TABLE, metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run the tracker's migrations through broker.store.tracker.store.migrate()")
context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
