"""Observability: the HTTP request id that wrote an outbox message (carried into the worker's
logs), one heartbeat row per dispatcher (read by /readyz) and an index on dispatch
attempts' time (the agency error rates of /metrics).

Revision ID: 0004_observability
Revises: 0004_payout_reissue
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_observability"
down_revision = "0004_payout_reissue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_messages") as batch:
        batch.add_column(sa.Column("origin_request_id", sa.String(64), nullable=True))
    op.create_index(op.f("ix_dispatch_attempts_at"), "dispatch_attempts", ["at"], unique=False)
    op.create_table(
        "worker_heartbeats",
        sa.Column("worker_id", sa.String(80), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_worker_heartbeats")),
    )
    op.create_index(
        op.f("ix_worker_heartbeats_seen_at"), "worker_heartbeats", ["seen_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_worker_heartbeats_seen_at"), table_name="worker_heartbeats")
    op.drop_table("worker_heartbeats")
    op.drop_index(op.f("ix_dispatch_attempts_at"), table_name="dispatch_attempts")
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("origin_request_id")
