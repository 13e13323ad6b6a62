"""Indexes for the hot paths of issue 12 (peak season at province scale).

- ``ix_applications_queue_created`` (created_at, id) and ``ix_applications_queue_amount``
  (amount_fen, id): the officer queue's sort orders (services/review_queue.SORTS, ties on
  the id), so a page walks an index in order and stops after its rows instead of sorting
  every application in scope (1.5 s at 1M applications).

Revision ID: 0016_hot_paths
Revises: 0005_correction
Create Date: 2026-11-29
"""

from alembic import op

revision = "0016_hot_paths"
down_revision = "0005_correction"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_applications_queue_created", "applications", ["created_at", "id"])
    op.create_index("ix_applications_queue_amount", "applications", ["amount_fen", "id"])


def downgrade() -> None:
    op.drop_index("ix_applications_queue_amount", table_name="applications")
    op.drop_index("ix_applications_queue_created", table_name="applications")
