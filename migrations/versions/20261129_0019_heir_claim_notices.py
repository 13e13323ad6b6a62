"""A notice may tell about a 继承人代办 claim instead of an application: the heir learns that
the death registry verified or refused the claim (services/notifications.notify_heir_claim).

- ``notifications.application_id`` becomes nullable;
- ``notifications.heir_claim_id`` (nullable, foreign key to ``heir_claims``, indexed);
- ``ck_notifications_one_subject``: a notice is about exactly one application or one claim.

SQLite cannot alter a column or add a constraint in place: the table is rebuilt in batch
mode (nothing references ``notifications`` and it has no triggers, so copying it is safe).

Revision ID: 0019_heir_claim_notices
Revises: 0016_hot_paths
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_heir_claim_notices"
down_revision = "0016_hot_paths"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_ONE_SUBJECT = "(application_id IS NULL) <> (heir_claim_id IS NULL)"


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.alter_column("application_id", existing_type=ID, nullable=True)
        batch_op.add_column(sa.Column("heir_claim_id", ID, nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_heir_claim_id_heir_claims"),
            "heir_claims",
            ["heir_claim_id"],
            ["id"],
        )
        batch_op.create_index(batch_op.f("ix_notifications_heir_claim_id"), ["heir_claim_id"])
        batch_op.create_check_constraint(batch_op.f("ck_notifications_one_subject"), _ONE_SUBJECT)


def downgrade() -> None:
    # Only possible once no notice tells about a claim (application_id becomes required).
    with op.batch_alter_table("notifications") as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_notifications_one_subject"), type_="check")
        batch_op.drop_index(batch_op.f("ix_notifications_heir_claim_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_heir_claim_id_heir_claims"), type_="foreignkey"
        )
        batch_op.drop_column("heir_claim_id")
        batch_op.alter_column("application_id", existing_type=ID, nullable=False)
