"""On PostgreSQL the app's own database role cannot empty or rewrite the logs
(docs/database-roles.md): with the grants of `sirefund db grants` it records audit rows and
reveals, and UPDATE, DELETE, TRUNCATE and disabling the append-only triggers are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import ProgrammingError

from sirefund import grants
from sirefund.db import make_engine, make_session_factory
from sirefund.domain.audit import AuditAction
from sirefund.models import SecurityEvent
from sirefund.services import audit
from tests import factories as f

LOGS = ("audit_log", "audit_checkpoints", "security_events", "application_events")


@pytest.fixture
def app_engine(engine: Engine) -> Iterator[Engine]:
    """An engine connected as a fresh app role holding exactly the documented grants."""
    if engine.dialect.name != "postgresql":
        pytest.skip("database roles and grants are PostgreSQL's")
    # Roles are the whole server's: one name per test database, so parallel runs do not meet.
    role = f"sirefund_app_{engine.url.database}"[:63]
    with engine.begin() as conn:
        _drop_role(conn, role)
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD 'app-role-test'")
        for statement in grants.grants_sql(app_role=role).split(";\n"):
            if statement.strip() and not statement.lstrip().startswith("--"):
                conn.exec_driver_sql(statement)
    app = make_engine(
        engine.url.set(username=role, password="app-role-test").render_as_string(
            hide_password=False
        )
    )
    yield app
    app.dispose()
    with engine.begin() as conn:
        _drop_role(conn, role)


def _drop_role(conn, role: str) -> None:
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).scalar()
    if exists:
        conn.exec_driver_sql(f"DROP OWNED BY {role}")
        conn.exec_driver_sql(f"DROP ROLE {role}")


def test_the_app_role_writes_the_logs_but_cannot_update_delete_or_truncate_them(app_engine):
    factory = make_session_factory(app_engine)
    with factory() as s, s.begin():
        audit.record(s, actor=audit.Actor.system(), action=AuditAction.IMPORT_RUN, at=f.AT)
        s.add(SecurityEvent(at=f.AT, kind="reveal", actor="officer:X", detail="{}"))
    with factory() as s, s.begin():
        assert audit.verify(s, at=f.AT).broken is None  # and anchors a checkpoint

    for table in LOGS:
        for statement in (
            f"UPDATE {table} SET id = id",
            f"DELETE FROM {table}",
            f"TRUNCATE {table}",
            f"ALTER TABLE {table} DISABLE TRIGGER USER",
        ):
            with app_engine.connect() as conn, pytest.raises(ProgrammingError) as exc:
                conn.exec_driver_sql(statement)
            assert "permission denied" in str(exc.value) or "must be owner" in str(exc.value)


def test_the_app_role_still_does_its_ordinary_work(app_engine):
    factory = make_session_factory(app_engine)
    with factory() as s, s.begin():
        person = f.make_person(s)
        person.name = "李伊岚"
    with factory() as s, s.begin():
        s.execute(text("DELETE FROM login_failures"))
        audit.record(s, actor=audit.Actor.system(), action=AuditAction.IMPORT_RUN, at=f.AT)
    with factory() as s, s.begin():
        assert audit.verify(s, at=f.AT).rows == 1


def test_the_grants_script_in_the_repository_is_what_db_grants_prints():
    script = Path(__file__).resolve().parents[2] / "scripts" / "database-grants.sql"
    assert script.read_text(encoding="utf-8") == grants.grants_sql(app_role="sirefund_app"), (
        "run: sirefund db grants > scripts/database-grants.sql"
    )
