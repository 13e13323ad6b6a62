"""officers.is_supervisor: the `supervisor` role, who reads the region's statistics (统计分析),
and three covering indexes on applications the statistics' statements read alone (by
region/status/kind/channel; by created_at for the months; refunded by day paid and applied).

Revision ID: 0005_supervisor_role
Revises: 0005_risk_flags
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_supervisor_role"
down_revision = "0005_risk_flags"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_applications_stats_groups": ["region_code", "status", "kind", "channel", "amount_fen"],
    "ix_applications_stats_created": ["created_at", "region_code", "amount_fen"],
    "ix_applications_stats_refunded": ["status", "refund_date", "created_at", "region_code"],
}


def upgrade() -> None:
    with op.batch_alter_table("officers") as batch:
        batch.add_column(
            sa.Column(
                "is_supervisor", sa.Boolean(), nullable=False, server_default=sa.text("false")
            )
        )
    for name, columns in _INDEXES.items():
        op.create_index(name, "applications", columns)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="applications")
    with op.batch_alter_table("officers") as batch:
        batch.drop_column("is_supervisor")
