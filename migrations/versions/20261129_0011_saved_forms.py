"""saved_forms: what someone typed into a form whose session ended before it was sent, kept on
the server for the same account until they log in again (services/saved_forms.py).

Revision ID: 0004_saved_forms
Revises: 0004_observability
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_saved_forms"
down_revision = "0004_observability"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "saved_forms",
        sa.Column("id", ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_kind", sa.String(length=10), nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("fields", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "account_kind IN ('person', 'unit', 'officer')",
            name=op.f("ck_saved_forms_account_kind"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_forms")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_saved_forms_token_hash")),
    )
    with op.batch_alter_table("saved_forms") as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_forms_expires_at"), ["expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("saved_forms") as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_forms_expires_at"))
    op.drop_table("saved_forms")
