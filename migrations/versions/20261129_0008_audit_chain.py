"""The tamper-evident audit log (services/audit.py): audit_log (hash-chained rows),
audit_chain_head (the one row writers lock to append in turn), audit_checkpoints (anchors);
officers.is_auditor. audit_log, audit_checkpoints and security_events (the reveal log) are
append-only like application_events: the database refuses UPDATE and DELETE on them. The
grants that keep the app's own role from TRUNCATE are in docs/database-roles.md.

Revision ID: 0004_audit_chain
Revises: 0004_reconciliation
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_audit_chain"
down_revision = "0004_reconciliation"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TZ = sa.DateTime(timezone=True)
_APPEND_ONLY = ("audit_log", "audit_checkpoints", "security_events")


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", _ID, autoincrement=False, nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("actor_kind", sa.String(12), nullable=False),
        sa.Column("actor_id", sa.String(60), nullable=True),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("application_id", _ID, nullable=True),
        sa.Column("person_id", _ID, nullable=True),
        sa.Column("unit_id", _ID, nullable=True),
        sa.Column("officer_id", _ID, nullable=True),
        sa.Column("address", sa.String(64), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.CheckConstraint(
            "length(row_hash) = 64 AND length(prev_hash) = 64", name="ck_audit_log_hash_length"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_application_id", "audit_log", ["application_id"])
    op.create_index("ix_audit_log_person_id", "audit_log", ["person_id"])
    op.create_index("ix_audit_log_actor_kind_actor_id", "audit_log", ["actor_kind", "actor_id"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", _ID, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_chain_head_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_chain_head"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", _ID, nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("audit_id", _ID, nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_checkpoints"),
    )
    op.create_index("ix_audit_checkpoints_audit_id", "audit_checkpoints", ["audit_id"])
    with op.batch_alter_table("officers") as batch:
        batch.add_column(
            sa.Column("is_auditor", sa.Boolean(), nullable=False, server_default=sa.text("false"))
        )
    if op.get_bind().dialect.name == "sqlite":
        for table in _APPEND_ONLY:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
                    f"SELECT RAISE(ABORT, '{table} is append-only'); END"
                )
    else:
        op.execute(
            "CREATE FUNCTION refuse_change_of_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
        )
        for table in _APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION refuse_change_of_append_only()"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for table in _APPEND_ONLY:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    else:
        for table in _APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS refuse_change_of_append_only()")
    with op.batch_alter_table("officers") as batch:
        batch.drop_column("is_auditor")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_chain_head")
    op.drop_table("audit_log")
