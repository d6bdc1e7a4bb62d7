"""The tracker's first schema: messages, obligations, extensions, notices, audit, calendar.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

ID = sa.String(36)
ADDRESS = sa.String(40)
CASE_ID = sa.String(64)


def upgrade() -> None:
    op.create_table(
        "tracker_messages",
        sa.Column("message_id", ID, primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("sender", ADDRESS, nullable=False),
        sa.Column("case_id", CASE_ID, nullable=False),
        sa.Column("in_reply_to", ID),
        sa.Column("forwards", ID),
        sa.Column("sent_at", sa.Float, nullable=False),
        sa.Column("routed_at", sa.Float, nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("extension_days", sa.Integer),
        sa.Column("extension_granted", sa.Boolean),
        sa.Column("filing", sa.String(20)),
        sa.Column("complete", sa.Boolean),
    )
    op.create_index("ix_tracker_messages_case_kind", "tracker_messages", ["case_id", "kind"])
    op.create_index("ix_tracker_messages_in_reply_to", "tracker_messages", ["in_reply_to"])
    op.create_index("ix_tracker_messages_forwards", "tracker_messages", ["forwards"])

    op.create_table(
        "tracker_obligations",
        sa.Column("id", ID, primary_key=True),
        sa.Column("rule", sa.String(40), nullable=False),
        sa.Column("what", sa.String(60), nullable=False),
        sa.Column("regarding", ID, nullable=False),
        sa.Column("case_id", CASE_ID, nullable=False),
        sa.Column("owed_by", ADDRESS, nullable=False),
        sa.Column("owed_to", ADDRESS, nullable=False),
        sa.Column("basis", sa.Text, nullable=False),
        sa.Column("chased", sa.Boolean, nullable=False),
        sa.Column("start_at", sa.Float, nullable=False),
        sa.Column("extra_days", sa.Integer, nullable=False),
        sa.Column("due_at", sa.Float, nullable=False),
        sa.Column("reminder_at", sa.Float, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("next_notice_at", sa.Float),
        sa.Column("closed_at", sa.Float),
        sa.Column("closed_by", ID),
        sa.Column("lateness_s", sa.Float),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_tracker_obligations_next_notice_at", "tracker_obligations", ["next_notice_at"])
    op.create_index(
        "ix_tracker_obligations_regarding_owed_by", "tracker_obligations", ["regarding", "owed_by"]
    )
    op.create_index("ix_tracker_obligations_case_id", "tracker_obligations", ["case_id"])
    op.create_index("ix_tracker_obligations_state_due_at", "tracker_obligations", ["state", "due_at"])
    op.create_index("ix_tracker_obligations_owed_by_state", "tracker_obligations", ["owed_by", "state"])

    op.create_table(
        "tracker_extensions",
        sa.Column("obligation_id", ID, primary_key=True),
        sa.Column("decision_id", ID, primary_key=True),
        sa.Column("extra_days", sa.Integer, nullable=False),
        sa.Column("applied_at", sa.Float, nullable=False),
    )

    op.create_table(
        "tracker_notices",
        sa.Column("message_id", ID, primary_key=True),
        sa.Column("obligation_id", ID, nullable=False),
        sa.Column("notice", sa.String(12), nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("recipient", ADDRESS, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("claimed_by", sa.String(80), nullable=False),
        sa.Column("lease_until", sa.Float, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("sent_at", sa.Float),
        sa.UniqueConstraint("obligation_id", "notice", "revision", name="uq_tracker_notices_once"),
    )
    op.create_index("ix_tracker_notices_state_lease", "tracker_notices", ["state", "lease_until"])

    op.create_table(
        "tracker_audit",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("by_message", ID),
        sa.Column("case_id", CASE_ID, nullable=False),
        sa.Column("obligation_id", ID),
        sa.Column("event", sa.String(40), nullable=False),
        sa.Column("actor", ADDRESS),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_tracker_audit_message_id", "tracker_audit", ["message_id"])
    op.create_index("ix_tracker_audit_by_message", "tracker_audit", ["by_message"])
    op.create_index("ix_tracker_audit_case_id", "tracker_audit", ["case_id"])
    _append_only("tracker_audit")

    op.create_table(
        "tracker_calendar_days",
        sa.Column("day", sa.String(10), primary_key=True),
        sa.Column("working", sa.Boolean, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "tracker_calendar_years",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("loaded_at", sa.Float, nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
    )


def _append_only(table: str) -> None:
    """The audit trail refuses UPDATE and DELETE, whoever connects."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{table} is append-only'; END $$"
        )
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    for table in (
        "tracker_calendar_years",
        "tracker_calendar_days",
        "tracker_notices",
        "tracker_extensions",
        "tracker_obligations",
        "tracker_messages",
    ):
        op.drop_table(table)
    op.drop_table("tracker_audit")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION tracker_audit_append_only()")
