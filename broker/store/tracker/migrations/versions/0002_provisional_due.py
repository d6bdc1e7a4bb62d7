"""Obligations say whether their due time is provisional (counted on the statutory holidays of a
year whose State Council notice was not loaded yet).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("tracker_obligations") as batch:
        batch.add_column(sa.Column("provisional", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("tracker_obligations") as batch:
        batch.drop_column("provisional")
