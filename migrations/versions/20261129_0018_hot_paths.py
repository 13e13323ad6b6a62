"""Indexes for the hot paths of issue 12 (peak season at province scale).

- ``ix_applications_queue_created`` (created_at, id) and ``ix_applications_queue_amount``
  (amount_fen, id): the officer queue's sort orders (services/review_queue.SORTS, ties on
  the id), so a page walks an index in order and stops after its rows instead of sorting
  every application in scope (1.5 s at 1M applications).
- ``ix_applications_medical_payment`` (medical_payment_id): a person's medical payments look
  their applications up by payment (services/medical._latest_applications); the only index
  on the column was the partial unique one of the active applications, which that query
  cannot use, so every read scanned the whole applications table (not flat from 1M to 10M).

Revision ID: 0016_hot_paths
Revises: 0016_stats_summary
Create Date: 2026-11-29
"""

from alembic import op

revision = "0016_hot_paths"
down_revision = "0016_stats_summary"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_applications_queue_created", "applications", ["created_at", "id"])
    op.create_index("ix_applications_queue_amount", "applications", ["amount_fen", "id"])
    op.create_index("ix_applications_medical_payment", "applications", ["medical_payment_id"])


def downgrade() -> None:
    op.drop_index("ix_applications_medical_payment", table_name="applications")
    op.drop_index("ix_applications_queue_amount", table_name="applications")
    op.drop_index("ix_applications_queue_created", table_name="applications")
