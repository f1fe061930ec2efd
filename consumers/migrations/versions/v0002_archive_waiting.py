"""The archive marks the entries that hold waiting events, so that a worker starting on
it (the next batch run on the embedded broker) finds them without reading the whole table:
a drain must reach a case number request or an event kept waiting by an earlier run.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("state_archive") as table:
        table.add_column(
            sa.Column("waiting", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_index("ix_state_archive_waiting", "state_archive", ["store", "partition", "waiting"])


def downgrade() -> None:
    op.drop_index("ix_state_archive_waiting", table_name="state_archive")
    with op.batch_alter_table("state_archive") as table:
        table.drop_column("waiting")
