"""The 消息中心: ``notifications``, one row per notice to a person or unit about their
application, with the state of its SMS (sent by the worker, never in the request).

Revision ID: 0005_notifications
Revises: 0005_supervisor_role
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_notifications"
down_revision = "0005_supervisor_role"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", ID, nullable=False),
        sa.Column("recipient_kind", sa.String(length=10), nullable=False),
        sa.Column("recipient_id", ID, nullable=False),
        sa.Column("application_id", ID, nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("body", sa.String(length=500), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("read_at", TZ, nullable=True),
        sa.Column("sms_state", sa.String(length=10), nullable=False),
        sa.Column("sms_attempts", sa.Integer(), nullable=False),
        sa.Column("sms_next_at", TZ, nullable=True),
        sa.Column("sms_claimed_until", TZ, nullable=True),
        sa.CheckConstraint(
            "recipient_kind IN ('person', 'unit')", name=op.f("ck_notifications_recipient_kind")
        ),
        sa.CheckConstraint(
            "sms_state IN ('pending', 'sent', 'failed', 'none')",
            name=op.f("ck_notifications_sms_state"),
        ),
        sa.CheckConstraint("sms_attempts >= 0", name=op.f("ck_notifications_sms_attempts_nonneg")),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_notifications_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_notifications_recipient_kind_recipient_id_created_at"),
            ["recipient_kind", "recipient_id", "created_at"],
        )
        batch_op.create_index(batch_op.f("ix_notifications_application_id"), ["application_id"])
        batch_op.create_index(
            batch_op.f("ix_notifications_sms_state_sms_next_at"), ["sms_state", "sms_next_at"]
        )


def downgrade() -> None:
    op.drop_table("notifications")
