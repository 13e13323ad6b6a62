"""Every application gets a 文书号 (domain.md "Document numbers"): ``applications.document_no``
(unique, not null) and ``document_counters``, the last sequence number given out per year of
submission (China time) and payer region. Existing applications are numbered in id order,
and the counters continue from there.

Revision ID: 0004_document_numbers
Revises: 0004_real_name
Create Date: 2026-11-29
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone

import sqlalchemy as sa
from alembic import op

revision = "0004_document_numbers"
down_revision = "0004_real_name"
branch_labels = None
depends_on = None

# Written out rather than imported: a migration must mean the same after the code moves on.
_CHINA = timezone(timedelta(hours=8))


def _year(created_at: datetime) -> int:
    if created_at.tzinfo is None:  # SQLite hands back naive UTC
        created_at = created_at.replace(tzinfo=UTC)
    return created_at.astimezone(_CHINA).year


def upgrade() -> None:
    op.create_table(
        "document_counters",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(6), nullable=False),
        sa.Column("last_sequence", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "last_sequence BETWEEN 0 AND 999999", name="ck_document_counters_sequence_range"
        ),
        sa.PrimaryKeyConstraint("year", "region_code", name="pk_document_counters"),
    )
    with op.batch_alter_table("applications") as batch:
        batch.add_column(sa.Column("document_no", sa.String(32), nullable=True))

    bind = op.get_bind()
    # Typed columns: SQLite stores instants as text, which DateTime reads back.
    apps = sa.table(
        "applications",
        sa.column("id", sa.Integer()),
        sa.column("region_code", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    rows = bind.execute(
        sa.select(apps.c.id, apps.c.region_code, apps.c.created_at).order_by(apps.c.id)
    ).all()
    last: dict[tuple[int, str], int] = defaultdict(int)
    numbered = []
    for app_id, region_code, created_at in rows:
        key = (_year(created_at), region_code)
        last[key] += 1
        numbered.append(
            {"id": app_id, "no": f"鄂税退〔{key[0]:04d}〕{region_code}-{last[key]:06d}"}
        )
    if numbered:
        bind.execute(sa.text("UPDATE applications SET document_no = :no WHERE id = :id"), numbered)
        bind.execute(
            sa.text(
                "INSERT INTO document_counters (year, region_code, last_sequence) "
                "VALUES (:year, :region, :last)"
            ),
            [{"year": y, "region": r, "last": n} for (y, r), n in last.items()],
        )

    with op.batch_alter_table("applications") as batch:
        batch.alter_column("document_no", existing_type=sa.String(32), nullable=False)
        batch.create_unique_constraint("uq_applications_document_no", ["document_no"])


def downgrade() -> None:
    with op.batch_alter_table("applications") as batch:
        batch.drop_constraint("uq_applications_document_no", type_="unique")
        batch.drop_column("document_no")
    op.drop_table("document_counters")
