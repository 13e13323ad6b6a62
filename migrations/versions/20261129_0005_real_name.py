"""Real-name registration (issue 8): persons and units get `verified_at`; units get their
办税员 on record (handler ID number, name, phone, from the `units` import); SMS verification
codes get a table (hashed codes, tries, expiry).

Accounts registered before this revision are unverified: they cannot log in (and their open
sessions end here) until their owner registers again with an SMS code and the real-name
check, which then takes the account over.

Revision ID: 0004_real_name
Revises: 0004_calendar_days
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_real_name"
down_revision = "0004_calendar_days"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("persons") as batch:
        batch.add_column(sa.Column("verified_at", _TZ, nullable=True))
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("handler_id_number", sa.String(18), nullable=True))
        batch.add_column(sa.Column("handler_name", sa.String(50), nullable=True))
        batch.add_column(sa.Column("handler_phone", sa.String(20), nullable=True))
        batch.add_column(sa.Column("verified_at", _TZ, nullable=True))
    op.create_table(
        "verification_codes",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _TZ, nullable=False),
        sa.Column("expires_at", _TZ, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", _TZ, nullable=True),
        sa.CheckConstraint(
            "purpose IN ('register', 'reset_password', 'change_phone')",
            name=op.f("ck_verification_codes_purpose"),
        ),
        sa.CheckConstraint(
            "attempts >= 0", name=op.f("ck_verification_codes_attempts_not_negative")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_codes")),
    )
    op.create_index(
        op.f("ix_verification_codes_phone_created_at"),
        "verification_codes",
        ["phone", "created_at"],
    )
    # Sessions of the accounts that are now unverified end at once.
    op.execute(
        "UPDATE auth_sessions SET revoked_at = CURRENT_TIMESTAMP "
        "WHERE revoked_at IS NULL AND account_kind IN ('person', 'unit')"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_verification_codes_phone_created_at"), "verification_codes")
    op.drop_table("verification_codes")
    with op.batch_alter_table("units") as batch:
        batch.drop_column("verified_at")
        batch.drop_column("handler_phone")
        batch.drop_column("handler_name")
        batch.drop_column("handler_id_number")
    with op.batch_alter_table("persons") as batch:
        batch.drop_column("verified_at")
