"""风险提示: ``risk_rules`` (the rules as data: enabled, threshold, window; seeded here) and
``application_risk_flags`` (what a rule found for an application, one row per rule and
application), computed by services/risk.py on submission and on a change of account; indexes
on ``applications`` (bank_account_no, contact_phone, handler_phone) for the rules' look-ups.

Revision ID: 0005_risk_flags
Revises: 0004_saved_forms
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_risk_flags"
down_revision = "0004_saved_forms"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# Written out rather than imported from domain/risk.py: a migration must mean the same after
# the code moves on. (code, label, enabled, threshold, window_days); amounts in fen.
_RULES = [
    ("shared_account", "多名缴费人使用同一银行账户", True, 2, None),
    ("account_changed", "申请前30日内变更过银行账户", True, None, 30),
    ("large_amount.pension", "退费金额较大（养老保险个人）", True, 500000, None),
    ("large_amount.unit_pension", "退费金额较大（养老保险村组）", True, 500000, None),
    ("large_amount.medical", "退费金额较大（医疗保险）", True, 300000, None),
    ("frequent_account", "同一账户短期内多次申请", True, 3, 7),
    ("shared_phone", "同一手机号关联多个银行账户", True, 2, None),
    ("heir_claim", "继承人代领", False, None, None),
]


_LOOKUPS = ("bank_account_no", "contact_phone", "handler_phone")


def upgrade() -> None:
    rules = op.create_table(
        "risk_rules",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=60), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("threshold", sa.BigInteger(), nullable=True),
        sa.Column("window_days", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "threshold IS NULL OR threshold >= 0",
            name=op.f("ck_risk_rules_threshold_not_negative"),
        ),
        sa.CheckConstraint(
            "window_days IS NULL OR window_days >= 0",
            name=op.f("ck_risk_rules_window_not_negative"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_risk_rules")),
    )
    op.bulk_insert(
        rules,
        [
            {"code": c, "label": lb, "enabled": e, "threshold": t, "window_days": w}
            for c, lb, e, t, w in _RULES
        ],
    )
    op.create_table(
        "application_risk_flags",
        sa.Column("id", ID, nullable=False),
        sa.Column("application_id", ID, nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["applications.id"],
            name=op.f("fk_application_risk_flags_application_id_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_application_risk_flags")),
    )
    with op.batch_alter_table("application_risk_flags") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_application_risk_flags_application_id_code"),
            ["application_id", "code"],
            unique=True,
        )
    # The rules look applications up by account and by phone. Plain CREATE INDEX (no batch
    # mode): recreating ``applications`` on SQLite would drop its triggers.
    for column in _LOOKUPS:
        op.create_index(op.f(f"ix_applications_{column}"), "applications", [column])


def downgrade() -> None:
    for column in _LOOKUPS:
        op.drop_index(op.f(f"ix_applications_{column}"), table_name="applications")
    with op.batch_alter_table("application_risk_flags") as batch_op:
        batch_op.drop_index(batch_op.f("ix_application_risk_flags_application_id_code"))
    op.drop_table("application_risk_flags")
    op.drop_table("risk_rules")
