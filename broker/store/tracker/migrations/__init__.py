"""Alembic migrations of the tracker's schema; store.migrate() runs them (see env.py)."""
