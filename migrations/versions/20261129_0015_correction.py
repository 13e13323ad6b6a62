"""退回补正 (domain.md "Outcomes a person can act on"): two new application states and what
the officer asked to fix.

- ``returned`` (待补正) and ``lapsed`` (逾期未补正) join the status check constraint.
- A returned application is open: the one-open-application indexes now count ``returned``
  (domain.workflow.ACTIVE), keeping ``refund_failed`` (migration 0008).
- ``applications.correction_fields``: the fields the officer asked the applicant to fix.

SQLite cannot alter a CHECK constraint; rebuilding ``applications`` (batch mode) would drop
its triggers and, with foreign keys on, trip over the rows that reference it. Widening an
IN list only loosens the constraint and leaves every stored row valid, so the table's
definition is edited in place (SQLite's documented ``writable_schema`` procedure for
changes that do not touch the stored content), and the schema version is bumped so every
connection re-reads it.

Revision ID: 0005_correction
Revises: 0005_notifications
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_correction"
down_revision = "0005_notifications"
branch_labels = None
depends_on = None

# Written out, not imported: a migration must keep meaning what it meant when it was written.
_STATUSES_BEFORE = (
    "pending_review",
    "cancelled",
    "rejected",
    "approved",
    "at_agency",
    "agency_rejected",
    "refunded",
    "refund_failed",
)
_STATUSES_AFTER = (*_STATUSES_BEFORE, "returned", "lapsed")
_ACTIVE_BEFORE = ("pending_review", "approved", "at_agency", "refunded", "refund_failed")
_ACTIVE_AFTER = (*_ACTIVE_BEFORE, "returned")
_ONE_ACTIVE = {
    "uq_applications_active_pension_payment": "pension_payment_id",
    "uq_applications_active_unit_line": "unit_line_id",
    "uq_applications_active_medical_payment": "medical_payment_id",
}
_CHECK = "ck_applications_status"


def _in(values: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(v) for v in values)})"


def _rebuild_active_indexes(statuses: tuple[str, ...]) -> None:
    where = _in(statuses)
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


def _replace_status_check(before: tuple[str, ...], after: tuple[str, ...]) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f(_CHECK), "applications", type_="check")
        op.create_check_constraint(op.f(_CHECK), "applications", _in(after))
        return
    sql = bind.execute(
        sa.text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'applications'")
    ).scalar_one()
    if _in(before) not in sql:
        raise RuntimeError(f"{_CHECK} is not the one this migration expects")
    version = bind.execute(sa.text("PRAGMA schema_version")).scalar_one()
    bind.execute(sa.text("PRAGMA writable_schema = ON"))
    bind.execute(
        sa.text(
            "UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'applications'"
        ),
        {"sql": sql.replace(_in(before), _in(after))},
    )
    bind.execute(sa.text(f"PRAGMA schema_version = {int(version) + 1}"))
    bind.execute(sa.text("PRAGMA writable_schema = OFF"))


def upgrade() -> None:
    _replace_status_check(_STATUSES_BEFORE, _STATUSES_AFTER)
    _rebuild_active_indexes(_ACTIVE_AFTER)
    op.add_column("applications", sa.Column("correction_fields", sa.String(80), nullable=True))


def downgrade() -> None:
    # Only possible once no application is returned or lapsed (the old check refuses them).
    op.drop_column("applications", "correction_fields")
    _rebuild_active_indexes(_ACTIVE_BEFORE)
    _replace_status_check(_STATUSES_AFTER, _STATUSES_BEFORE)
