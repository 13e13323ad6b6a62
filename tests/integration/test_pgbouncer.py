"""The app through pgbouncer in transaction mode (issue 12, part 3; docs/production.md).

A pgbouncer of our own (Debian's package; `make test` installs it when missing) listens on a
free port in front of the test PostgreSQL server with `pool_mode = transaction`, so two
transactions of one client connection may run on two server connections. Through it: the
migrations, applications approved, two workers draining the outbox with SKIP LOCKED to the
simulators until every refund is paid, callbacks into the app, /metrics and /readyz; and the
reason for `SIREFUND_DB_POOLER=transaction` (psycopg's prepared statements collide without it).

PostgreSQL only. Without pgbouncer (or a server) these tests skip with the reason, except under
CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from sirefund import migrate
from sirefund.config import Settings
from sirefund.db import make_engine
from sirefund.models import Application
from sirefund.services import applications
from sirefund.web.app import create_app
from tests.conftest import IN_CI, _truncate_all
from tests.integration import approvals
from tests.integration.conftest import (
    ServerThread,
    ShiftableClock,
    free_port,
    make_settings,
    status_of,
    wait_until,
)

pytestmark = pytest.mark.timeout(180)

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
#: The database behind pgbouncer that takes one server connection at most.
SINGLE = "single"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"pgbouncer cannot run in CI: {reason}")
    pytest.skip(reason)


def _ini(directory: Path, port: int, target: Any) -> Path:
    server = f"host={target.host or '127.0.0.1'} port={target.port or 5432} user={target.username}"
    if target.password:
        server += f" password={target.password}"
    ini = directory / "pgbouncer.ini"
    ini.write_text(
        f"""[databases]
{target.database} = {server} dbname={target.database}
{SINGLE} = {server} dbname={target.database} pool_size=1
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / "userlist.txt"}
pool_mode = transaction
default_pool_size = 4
max_client_conn = 100
server_reset_query =
ignore_startup_parameters = extra_float_digits
""",
        encoding="utf-8",
    )
    (directory / "userlist.txt").write_text(f'"{target.username}" ""\n', encoding="utf-8")
    for path in (directory, ini, directory / "userlist.txt"):
        path.chmod(0o755 if path.is_dir() else 0o644)  # read by the user pgbouncer becomes
    return ini


@pytest.fixture(scope="module")
def bouncer_url(postgres_url: str) -> Iterator[str]:
    """A URL through a running pgbouncer (transaction mode) to a database of our own, created
    empty and migrated through pgbouncer."""
    if not os.access(PGBOUNCER, os.X_OK):
        _unavailable(f"{PGBOUNCER} is not installed (apt-get install pgbouncer)")
    direct = make_url(postgres_url)
    target = direct.set(database=f"{direct.database}_pgbouncer")
    admin = make_engine(direct.render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if not conn.scalar(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": target.database}
        ):
            conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')
    admin.dispose()
    directory = Path(tempfile.mkdtemp(prefix="sirefund-pgbouncer-"))
    port = free_port()
    command = [PGBOUNCER, str(_ini(directory, port, target))]
    if os.geteuid() == 0:  # pgbouncer refuses to run as root
        command[1:1] = ["-u", "postgres"]
    log = (directory / "pgbouncer.log").open("wb")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = target.set(port=port).render_as_string(hide_password=False)
    try:
        _wait_for(proc, url, directory)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


def _wait_for(proc: subprocess.Popen[bytes], url: str, directory: Path) -> None:
    deadline = time.monotonic() + 20
    while True:
        if proc.poll() is not None:
            _unavailable(f"pgbouncer exited: {(directory / 'pgbouncer.log').read_text()[-800:]}")
        try:
            engine = make_engine(url, pooler="transaction")
            with engine.begin() as conn:
                conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
                conn.exec_driver_sql("CREATE SCHEMA public")
            migrate.upgrade(engine)  # the migrations run through pgbouncer too
            engine.dispose()
            return
        except DBAPIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


# The shared fixtures of tests/integration/conftest.py, pointed at pgbouncer.


@pytest.fixture
def db_url(bouncer_url: str) -> Iterator[str]:
    yield bouncer_url
    engine = make_engine(bouncer_url, pooler="transaction")
    _truncate_all(engine)
    engine.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_settings(db_url, tmp_path, db_pooler="transaction")


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.database_url, pool_size=4, pooler=settings.db_pooler)
    yield eng
    eng.dispose()


@pytest.fixture
def app_server(
    engine: Engine, settings: Settings, shift_clock: ShiftableClock
) -> Iterator[ServerThread]:
    server = ServerThread(create_app(settings, engine=engine, clock=shift_clock)).start()
    yield server
    server.stop()


def test_the_migrations_ran_through_pgbouncer_and_the_schema_is_at_head(engine):
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_refunds_are_applied_approved_and_paid_through_pgbouncer_by_two_workers(
    start_simulator,
    app_server,
    settings,
    dispatcher_for,
    make_approved,
    session_factory: sessionmaker[Session],
    shift_clock,
):
    sim = start_simulator(callback_url=app_server.url + "/api/v1/callbacks")
    run = settings.model_copy(update={"agency_url": sim.url})
    ids = [i for _ in range(4) for i in make_approved(3, at=shift_clock.now())]
    workers = [dispatcher_for(run, worker_id=f"w{n}", seed=n) for n in (1, 2)]
    done = threading.Event()
    errors: list[BaseException] = []

    def drain(dispatcher: Any) -> None:
        try:
            while not done.is_set():
                dispatcher.run_once()
                time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    threads = [threading.Thread(target=drain, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    try:
        wait_until(
            lambda: all(status_of(session_factory, i) == "refunded" for i in ids), timeout=60
        )
    finally:
        done.set()
        for t in threads:
            t.join(timeout=30)
    assert errors == []
    booked = [b["application_id"] for b in sim.bookings("bank")]
    assert sorted(booked) == sorted(ids)  # each paid once, whichever worker sent it
    workers[0].heartbeat()
    with httpx.Client(base_url=app_server.url) as client:
        ready = client.get("/readyz")
        metrics = client.get("/metrics").text
    assert ready.status_code == 200, ready.text
    assert 'sirefund_applications{status="refunded"} 12.0' in metrics
    assert "sirefund_database_up 1.0" in metrics


def test_a_cancellation_through_pgbouncer_is_kept(
    make_approved, session_factory: sessionmaker[Session], shift_clock
):
    with session_factory() as session, session.begin():
        app = approvals.pending_application(session, at=shift_clock.now())
        app_id, person_id = app.id, app.person_id
    for _ in range(7):  # more than psycopg's 5 runs before it would prepare a statement
        assert status_of(session_factory, app_id) == "pending_review"
    with session_factory() as session, session.begin():
        app = session.get(Application, app_id)
        assert app is not None
        applications.cancel_by_person(
            session, application=app, person_id=person_id, at=shift_clock.now()
        )
    assert status_of(session_factory, app_id) == "cancelled"


def _same_statement_on_two_clients(url: str, pooler: str) -> None:
    """Two client connections through a pool of ONE server connection, each running the same
    statement in 7 transactions of its own (psycopg prepares after 5 runs)."""
    engine = make_engine(url, pool_size=2, pooler=pooler)
    try:
        with engine.connect() as a, engine.connect() as b:
            for conn in (a, b):
                for n in range(7):
                    assert conn.execute(text("SELECT :n + 1"), {"n": n}).scalar() == n + 1
                    conn.commit()
    finally:
        engine.dispose()


def _single(bouncer_url: str) -> str:
    return make_url(bouncer_url).set(database=SINGLE).render_as_string(hide_password=False)


def test_with_the_pooler_setting_no_statement_is_prepared_so_server_connections_are_shared(
    bouncer_url,
):
    _same_statement_on_two_clients(_single(bouncer_url), "transaction")


def test_without_the_pooler_setting_psycopg_prepared_statements_collide_in_transaction_mode(
    bouncer_url,
):
    with pytest.raises(DBAPIError, match="prepared statement"):
        _same_statement_on_two_clients(_single(bouncer_url), "none")
