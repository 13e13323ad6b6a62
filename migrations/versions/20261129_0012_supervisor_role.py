"""officers.is_supervisor: the `supervisor` role, who reads the region's statistics (统计分析),
and an index for the statistics' month and time-to-refund figures.

Revision ID: 0005_supervisor_role
Revises: 0004_document_numbers
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_supervisor_role"
down_revision = "0004_document_numbers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("officers") as batch:
        batch.add_column(
            sa.Column(
                "is_supervisor", sa.Boolean(), nullable=False, server_default=sa.text("false")
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("officers") as batch:
        batch.drop_column("is_supervisor")
