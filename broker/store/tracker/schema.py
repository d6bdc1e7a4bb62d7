"""The tracker's tables (SQLAlchemy Core). Times are UTC epoch seconds (double precision), as in the
router's memory: one representation on SQLite and PostgreSQL, cheap to index and compare.

The schema's history lives in migrations/ (Alembic); a test checks that it matches these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

VERSION_TABLE = "tracker_alembic_version"
"""Alembic's version table, named so the tracker can share a database with other components."""

metadata = MetaData()

ID = String(36)
ADDRESS = String(40)
CASE_ID = String(64)

messages = Table(
    "tracker_messages",
    metadata,
    Column("message_id", ID, primary_key=True),
    Column("kind", String(40), nullable=False),
    Column("sender", ADDRESS, nullable=False),
    Column("case_id", CASE_ID, nullable=False),
    Column("in_reply_to", ID),
    Column("forwards", ID),
    Column("sent_at", Float, nullable=False),
    Column("routed_at", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("extension_days", Integer),
    Column("extension_granted", Boolean),
    Column("filing", String(20)),
    Column("complete", Boolean),
    Index("ix_tracker_messages_case_kind", "case_id", "kind"),
    Index("ix_tracker_messages_in_reply_to", "in_reply_to"),
    Index("ix_tracker_messages_forwards", "forwards"),
)
"""Every routed message the tracker has seen, by id: it deduplicates redelivered records, and keeps
answers that arrive before what they answer until that arrives."""

obligations = Table(
    "tracker_obligations",
    metadata,
    Column("id", ID, primary_key=True),
    Column("rule", String(40), nullable=False),
    Column("what", String(60), nullable=False),
    Column("regarding", ID, nullable=False),
    Column("case_id", CASE_ID, nullable=False),
    Column("owed_by", ADDRESS, nullable=False),
    Column("owed_to", ADDRESS, nullable=False),
    Column("basis", Text, nullable=False),
    Column("chased", Boolean, nullable=False),
    Column("start_at", Float, nullable=False),
    Column("extra_days", Integer, nullable=False),
    Column("due_at", Float, nullable=False),
    Column("reminder_at", Float, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("state", String(10), nullable=False),
    Column("next_notice_at", Float),
    Column("closed_at", Float),
    Column("closed_by", ID),
    Column("lateness_s", Float),
    Column("created_at", Float, nullable=False),
    Column("provisional", Boolean, nullable=False, server_default=false()),
    Index("ix_tracker_obligations_next_notice_at", "next_notice_at"),
    Index("ix_tracker_obligations_regarding_owed_by", "regarding", "owed_by"),
    Index("ix_tracker_obligations_case_id", "case_id"),
    Index("ix_tracker_obligations_state_due_at", "state", "due_at"),
    Index("ix_tracker_obligations_owed_by_state", "owed_by", "state"),
)
"""next_notice_at is when the scanner next has something to do for the obligation (NULL: nothing
more): the scan reads only the index range up to now, however many obligations are open. provisional:
the due time was counted on the statutory holidays of a year whose notice is not loaded (calendar.py);
loading the notice recomputes it and clears the flag."""

extensions = Table(
    "tracker_extensions",
    metadata,
    Column("obligation_id", ID, primary_key=True),
    Column("decision_id", ID, primary_key=True),
    Column("extra_days", Integer, nullable=False),
    Column("applied_at", Float, nullable=False),
)
"""Granted extensions applied to an obligation, so a decision seen twice moves the due time once."""

notices = Table(
    "tracker_notices",
    metadata,
    Column("message_id", ID, primary_key=True),
    Column("obligation_id", ID, nullable=False),
    Column("notice", String(12), nullable=False),
    Column("revision", Integer, nullable=False),
    Column("recipient", ADDRESS, nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(12), nullable=False),
    Column("claimed_by", String(80), nullable=False),
    Column("lease_until", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    UniqueConstraint("obligation_id", "notice", "revision", name="uq_tracker_notices_once"),
    Index("ix_tracker_notices_state_lease", "state", "lease_until"),
)
"""Each deadline notice, recorded (with its exact message bytes) in the transaction that claims it,
before it is published: the unique key makes it one per obligation, notice type and due time."""

audit = Table(
    "tracker_audit",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False),
    Column("message_id", ID, nullable=False),
    Column("by_message", ID),
    Column("case_id", CASE_ID, nullable=False),
    Column("obligation_id", ID),
    Column("event", String(40), nullable=False),
    Column("actor", ADDRESS),
    Column("detail", Text, nullable=False),
    Index("ix_tracker_audit_message_id", "message_id"),
    Index("ix_tracker_audit_by_message", "by_message"),
    Index("ix_tracker_audit_case_id", "case_id"),
)
"""Append-only: the tracker inserts and never updates or deletes. message_id is the message the
event is about; by_message the message that caused it (an answer, a forward, a notice)."""

calendar_days = Table(
    "tracker_calendar_days",
    metadata,
    Column("day", String(10), primary_key=True),
    Column("working", Boolean, nullable=False),
    Column("name", String(200), nullable=False),
)
"""Holidays and adjusted working days of the years operators loaded (ISO dates)."""

calendar_years = Table(
    "tracker_calendar_years",
    metadata,
    Column("year", Integer, primary_key=True, autoincrement=False),
    Column("loaded_at", Float, nullable=False),
    Column("source", String(300), nullable=False),
)
