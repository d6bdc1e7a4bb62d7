"""The tracker's database as the operator views open it: it must exist and hold the tracker's
tables (the views never create an empty database, which would only answer "nothing known")."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from broker.store.tracker import db
from broker.store.tracker.schema import audit
from broker.tracker.settings import TrackerSettings


class TrackerDatabaseError(RuntimeError):
    """The operator views' database is not there, or is not a tracker's; the text says what to set."""


def existing_engine(announce: bool = True) -> Any:
    """An engine on the tracker's database (RB_TRACKER_DATABASE_URL), which must already hold the
    tracker's tables: the operator views never create an empty database, which would only answer
    "nothing known" about everything. Says on stderr which database it reads."""
    url_text = TrackerSettings().database_url
    try:
        url = make_url(url_text)
    except ArgumentError:
        raise TrackerDatabaseError(
            "RB_TRACKER_DATABASE_URL is not a database URL; write e.g. sqlite:///tracker.sqlite3 or "
            "postgresql+psycopg://user@host/db"
        ) from None
    shown = url.render_as_string(hide_password=True)
    fix = "point RB_TRACKER_DATABASE_URL at the database the tracker (`referral-broker track`) writes"
    local = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if local and not Path(str(url.database)).is_file():
        raise TrackerDatabaseError(f"no tracker database at {shown} (the file does not exist); {fix}")
    if announce:
        print(f"reading the tracker database {shown}", file=sys.stderr)
    try:
        engine = db.create(url_text)
        with engine.connect() as conn:
            present = inspect(conn).has_table(audit.name)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        raise TrackerDatabaseError(f"cannot read the tracker database {shown}: {reason}; {fix}") from None
    if not present:
        raise TrackerDatabaseError(f"{shown} holds no tracker tables; {fix}")
    return engine
