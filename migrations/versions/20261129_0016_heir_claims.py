"""继承人代办 (issue 10, part 7): ``heir_claims`` (an heir's claim to a deceased insured
person's payments, confirmed by the death registry), ``heir_claim_events`` (its
transitions: who, when, from, to, why), ``applications.heir_claim_id`` (the claim an heir
applied under) and the 风险提示 rule ``heir_claim`` switched on.

``applications`` gets its column by a plain ADD COLUMN (no batch mode): recreating the
table on SQLite would drop its triggers. SQLite accepts a REFERENCES clause there because
the column's default is NULL.

Revision ID: 0016_heir_claims
Revises: 0005_correction
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0016_heir_claims"
down_revision = "0005_correction"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TZ = sa.DateTime(timezone=True)
_RELATIONSHIPS = "relationship IN ('spouse', 'child', 'parent', 'other')"
_STATUSES = "status IN ('pending_verification', 'verified', 'refused')"


def upgrade() -> None:
    op.create_table(
        "heir_claims",
        sa.Column("id", ID, nullable=False),
        sa.Column("heir_person_id", ID, nullable=False),
        sa.Column("relationship", sa.String(length=8), nullable=False),
        sa.Column("deceased_id_number", sa.String(length=18), nullable=False),
        sa.Column("deceased_name", sa.String(length=50), nullable=False),
        sa.Column("death_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("confirmation_result", sa.String(length=200), nullable=True),
        sa.Column("confirmed_at", TZ, nullable=True),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
        sa.CheckConstraint(_RELATIONSHIPS, name=op.f("ck_heir_claims_relationship")),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_heir_claims_status")),
        sa.CheckConstraint(
            "length(deceased_id_number) = 18",
            name=op.f("ck_heir_claims_deceased_id_number_length"),
        ),
        sa.ForeignKeyConstraint(
            ["heir_person_id"], ["persons.id"], name=op.f("fk_heir_claims_heir_person_id_persons")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heir_claims")),
    )
    with op.batch_alter_table("heir_claims") as batch_op:
        batch_op.create_index(batch_op.f("ix_heir_claims_heir_person_id"), ["heir_person_id"])
        batch_op.create_index(
            batch_op.f("ix_heir_claims_deceased_id_number"), ["deceased_id_number"]
        )
    op.create_table(
        "heir_claim_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("heir_claim_id", ID, nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("actor_kind", sa.String(length=12), nullable=False),
        sa.Column("actor_id", sa.String(length=40), nullable=True),
        sa.Column("from_status", sa.String(length=24), nullable=True),
        sa.Column("to_status", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["heir_claim_id"],
            ["heir_claims.id"],
            name=op.f("fk_heir_claim_events_heir_claim_id_heir_claims"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heir_claim_events")),
    )
    with op.batch_alter_table("heir_claim_events") as batch_op:
        batch_op.create_index(batch_op.f("ix_heir_claim_events_heir_claim_id"), ["heir_claim_id"])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE applications ADD COLUMN heir_claim_id INTEGER "
            "CONSTRAINT fk_applications_heir_claim_id_heir_claims REFERENCES heir_claims (id)"
        )
    else:
        op.add_column("applications", sa.Column("heir_claim_id", ID, nullable=True))
        op.create_foreign_key(
            op.f("fk_applications_heir_claim_id_heir_claims"),
            "applications",
            "heir_claims",
            ["heir_claim_id"],
            ["id"],
        )
    op.execute("UPDATE risk_rules SET enabled = true WHERE code = 'heir_claim'")


def downgrade() -> None:
    op.execute("UPDATE risk_rules SET enabled = false WHERE code = 'heir_claim'")
    op.drop_column("applications", "heir_claim_id")
    op.drop_table("heir_claim_events")
    op.drop_table("heir_claims")
