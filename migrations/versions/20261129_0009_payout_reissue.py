"""A failed payout (退付失败) stays an open case and can be re-issued to a corrected account.

- The one-open-application indexes now count `refund_failed` as open (domain.workflow.ACTIVE),
  so nobody can file a second application for a payment whose payout waits for a correction.
- An outbox message can be superseded (`superseded_at`): a re-issue writes a new payout for
  the same application, so "one request per application and agency" holds for the live
  (not superseded) request only.

Revision ID: 0004_payout_reissue
Revises: 0004_audit_chain
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_payout_reissue"
down_revision = "0004_audit_chain"
branch_labels = None
depends_on = None

# Written out, not imported: a migration must keep meaning what it meant when it was written.
_ACTIVE_BEFORE = "status IN ('pending_review', 'approved', 'at_agency', 'refunded')"
_ACTIVE_AFTER = "status IN ('pending_review', 'approved', 'at_agency', 'refunded', 'refund_failed')"
_ONE_ACTIVE = {
    "uq_applications_active_pension_payment": "pension_payment_id",
    "uq_applications_active_unit_line": "unit_line_id",
    "uq_applications_active_medical_payment": "medical_payment_id",
}
_LIVE = "superseded_at IS NULL"


def _rebuild_active_indexes(where: str) -> None:
    for name, column in _ONE_ACTIVE.items():
        op.drop_index(name, table_name="applications")
        op.create_index(
            name,
            "applications",
            [column],
            unique=True,
            sqlite_where=sa.text(where),
            postgresql_where=sa.text(where),
        )


def upgrade() -> None:
    _rebuild_active_indexes(_ACTIVE_AFTER)
    op.add_column(
        "outbox_messages", sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.drop_index("uq_outbox_messages_application_agency", table_name="outbox_messages")
    op.create_index(
        "uq_outbox_messages_application_agency",
        "outbox_messages",
        ["application_id", "agency"],
        unique=True,
        sqlite_where=sa.text(_LIVE),
        postgresql_where=sa.text(_LIVE),
    )


def downgrade() -> None:
    op.drop_index("uq_outbox_messages_application_agency", table_name="outbox_messages")
    op.create_index(
        "uq_outbox_messages_application_agency",
        "outbox_messages",
        ["application_id", "agency"],
        unique=True,
    )
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("superseded_at")
    _rebuild_active_indexes(_ACTIVE_BEFORE)
