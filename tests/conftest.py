"""Shared fixtures. Integration tests take `engine` (or `session`) and so run twice: on SQLite
and on PostgreSQL.

PostgreSQL is at SIREFUND_TEST_POSTGRES_URL, by default the local server's database
`sirefund_test` (created when missing). When no server answers, the PostgreSQL half is skipped
with a visible reason; under CI=true an unreachable server fails the run loudly instead.

Isolation: SQLite tests each get a copy of a database migrated once per run; PostgreSQL
tests share a database migrated once per run and emptied (TRUNCATE) after each test. Tests
may therefore commit, run several connections, workers and subprocesses like production.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from sirefund import migrate
from sirefund.db import Base, make_engine, make_session_factory
from sirefund.models import Application
from sirefund.services import document_numbers, holidays, stats_summary

PG_ENV = "SIREFUND_TEST_POSTGRES_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/sirefund_test"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # closing the last connection checkpoints the WAL into the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


def _create_database_if_missing(url: str) -> None:
    parsed = make_url(url)
    admin = make_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": parsed.database}
        ).scalar()
        if not exists:
            conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    # A newcomer's `make test` on a machine whose local PostgreSQL answers runs this half too;
    # only an unreachable server (outside CI) skips it, with the reason shown.
    url = os.environ.get(PG_ENV) or DEFAULT_PG_URL
    try:
        _create_database_if_missing(url)
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        migrate.upgrade(engine)
        engine.dispose()
    except Exception as exc:  # the server is down or refuses us
        if IN_CI:
            pytest.fail(
                f"PostgreSQL at {make_url(url).render_as_string()} is unreachable in CI: {exc}"
            )
        pytest.skip(f"PostgreSQL unreachable, tests skipped: {exc}")
    return url


#: Filled by the migrations, not by the tests: kept across the truncation.
MIGRATION_DATA = frozenset({"stats_working_days"})


def _truncate_all(engine: Engine) -> None:
    names = ", ".join(
        f'"{t.name}"' for t in Base.metadata.sorted_tables if t.name not in MIGRATION_DATA
    )
    with engine.begin() as conn:
        officers_calendar = conn.exec_driver_sql("SELECT count(*) FROM calendar_days").scalar()
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    if officers_calendar:  # a test committed a day: the working-day ordinals follow it back
        with make_session_factory(engine)() as s, s.begin():
            stats_summary.refresh_working_days(s, holidays.working_days(s))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated, empty database URL of each backend."""
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "sirefund.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_url")
        yield url
        engine = make_engine(url)
        _truncate_all(engine)
        engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session whose work the test commits or not; the database is fresh either way."""
    with session_factory() as s:
        yield s


NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


class FixedClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = NOW) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current

    def today(self) -> date:
        return self.current.astimezone(CHINA_TZ).date()

    def advance(self, **kwargs: float) -> None:
        from datetime import timedelta

        self.current += timedelta(**kwargs)


from sirefund.clock import CHINA_TZ  # noqa: E402


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture(scope="session")
def realname_sim():
    """The SMS gateway and identity simulators on a real port, for the whole run."""
    from tests.realname import serve_realname_sim

    yield from serve_realname_sim()


@event.listens_for(Application, "before_insert")
def _number_applications_built_by_hand(
    _mapper: object, connection: Connection, target: Application
) -> None:
    """Tests that build Application rows by hand, skipping applications.create (to set up a
    state directly), get the 文书号 that submitting would have given them."""
    if target.document_no is None:
        target.document_no = document_numbers.next_document_no(
            connection, region_code=target.region_code, at=target.created_at or NOW
        )
