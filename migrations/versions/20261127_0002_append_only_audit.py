"""application_events is append-only: the database refuses UPDATE and DELETE on it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER application_events_no_{verb.lower()} BEFORE {verb} "
                "ON application_events BEGIN "
                "SELECT RAISE(ABORT, 'application_events is append-only'); END"
            )
    else:
        op.execute(
            "CREATE FUNCTION application_events_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'application_events is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER application_events_append_only BEFORE UPDATE OR DELETE "
            "ON application_events FOR EACH ROW EXECUTE FUNCTION application_events_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS application_events_no_update")
        op.execute("DROP TRIGGER IF EXISTS application_events_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS application_events_append_only ON application_events")
        op.execute("DROP FUNCTION IF EXISTS application_events_append_only()")
