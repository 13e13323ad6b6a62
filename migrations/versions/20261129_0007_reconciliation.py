"""Three-way reconciliation (三方对账): runs, their per-agency totals and discrepancies; and
the money invariant in the database: per payment, the sum refunded never exceeds the amount
paid.

That sum is the amounts of the payment's active applications (pending, approved, at an agency,
refunded). The partial unique indexes of 0001 already allow at most one active application per
payment; the trigger added here refuses any application (INSERT, or UPDATE of its amount or
payment reference) asking more than its payment. Together: sum of active <= paid, on SQLite
and PostgreSQL, and no race can get past the unique index. (The trigger does not sum the
other applications itself, so that a second active application still fails on the unique
index, which the services report as 已申请.)

Revision ID: 0004_reconciliation
Revises: 0004_document_numbers
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_reconciliation"
down_revision = "0004_document_numbers"
branch_labels = None
depends_on = None

_KINDS = ("missing_at_agency", "unknown_to_us", "amount_differs", "account_differs", "paid_twice")
_AGENCIES = ("hrss", "medical_security", "bank")
_MESSAGE = "refund exceeds payment: an application asks more than its payment paid"
# (payment reference column, payment table, its key, what it paid)
_PAYMENTS = (
    ("pension_payment_id", "pension_payments", "payment_id", "p.amount_fen"),
    ("unit_line_id", "unit_payment_persons", "line_id", "p.amount_fen"),
    (
        "medical_payment_id",
        "medical_payments",
        "payment_id",
        "p.medical_amount_fen + p.ltc_amount_fen",
    ),
)
_COLUMNS = "amount_fen, pension_payment_id, unit_line_id, medical_payment_id"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _sqlite_exceeds() -> str:
    """SQLite WHEN clause: NEW asks more than the payment it names."""
    return " OR ".join(
        f"(NEW.{ref} IS NOT NULL AND NEW.amount_fen > "
        f"(SELECT {paid} FROM {table} p WHERE p.{key} = NEW.{ref}))"
        for ref, table, key, paid in _PAYMENTS
    )


def _postgres_function() -> str:
    branches = "\n    ".join(
        f"{'IF' if i == 0 else 'ELSIF'} NEW.{ref} IS NOT NULL THEN "
        f"SELECT {paid} INTO paid FROM {table} p WHERE p.{key} = NEW.{ref};"
        for i, (ref, table, key, paid) in enumerate(_PAYMENTS)
    )
    return f"""
CREATE FUNCTION applications_refund_within_payment() RETURNS trigger AS $$
DECLARE
    paid bigint;
BEGIN
    {branches}
    ELSE
        RETURN NEW;
    END IF;
    IF paid IS NOT NULL AND NEW.amount_fen > paid THEN
        RAISE EXCEPTION '{_MESSAGE}' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    op.create_table(
        "reconciliation_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ran_by", sa.String(60), nullable=False),
        sa.Column("discrepancy_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("discrepancy_count >= 0", name="discrepancy_count_nonneg"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_runs")),
    )
    op.create_index(
        op.f("ix_reconciliation_runs_day_id"), "reconciliation_runs", ["day", "id"], unique=False
    )
    op.create_table(
        "reconciliation_totals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("agency", sa.String(20), nullable=False),
        sa.Column("ours_count", sa.Integer(), nullable=False),
        sa.Column(
            "ours_amount_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("theirs_count", sa.Integer(), nullable=False),
        sa.Column(
            "theirs_amount_fen",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.CheckConstraint(_in("agency", _AGENCIES), name="agency"),
        sa.CheckConstraint("ours_count >= 0 AND theirs_count >= 0", name="counts_nonneg"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_totals_run_id_reconciliation_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_totals")),
    )
    op.create_index(
        "uq_reconciliation_totals_run_agency",
        "reconciliation_totals",
        ["run_id", "agency"],
        unique=True,
    )
    op.create_table(
        "reconciliation_discrepancies",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("agency", sa.String(20), nullable=False),
        sa.Column("application_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("ours_amount_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("ours_account", sa.String(40)),
        sa.Column("theirs_amount_fen", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("theirs_account", sa.String(40)),
        sa.CheckConstraint(_in("kind", _KINDS), name="kind"),
        sa.CheckConstraint(_in("agency", _AGENCIES), name="agency"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["reconciliation_runs.id"],
            name=op.f("fk_reconciliation_discrepancies_run_id_reconciliation_runs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliation_discrepancies")),
    )
    op.create_index(
        op.f("ix_reconciliation_discrepancies_run_id"),
        "reconciliation_discrepancies",
        ["run_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_reconciliation_discrepancies_application_id"),
        "reconciliation_discrepancies",
        ["application_id"],
        unique=False,
    )

    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER applications_refund_within_payment_insert BEFORE INSERT ON "
            f"applications WHEN {_sqlite_exceeds()} "
            f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )
        op.execute(
            "CREATE TRIGGER applications_refund_within_payment_update BEFORE UPDATE OF "
            f"{_COLUMNS} ON applications WHEN {_sqlite_exceeds()} "
            f"BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )
    else:
        op.execute(_postgres_function())
        op.execute(
            "CREATE TRIGGER applications_refund_within_payment BEFORE INSERT OR UPDATE OF "
            f"{_COLUMNS} ON applications FOR EACH ROW EXECUTE FUNCTION applications_refund_within_payment()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS applications_refund_within_payment_insert")
        op.execute("DROP TRIGGER IF EXISTS applications_refund_within_payment_update")
    else:
        op.execute("DROP TRIGGER IF EXISTS applications_refund_within_payment ON applications")
        op.execute("DROP FUNCTION IF EXISTS applications_refund_within_payment()")
    op.drop_table("reconciliation_discrepancies")
    op.drop_table("reconciliation_totals")
    op.drop_table("reconciliation_runs")
