"""PostgreSQL connections are tested only after sitting idle in the pool (issue 12: a ping
on every checkout cost two round trips per request). A connection that died while idle is
replaced before use; one back in the pool a moment ago is handed out as it is. PostgreSQL
only: SQLite has no server connection to lose."""

from __future__ import annotations

import pytest
from sqlalchemy import exc

from sirefund import db
from sirefund.db import make_engine


@pytest.fixture
def pool(postgres_url):
    engine = make_engine(postgres_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _terminate(postgres_url: str, pid: int) -> None:
    other = make_engine(postgres_url)
    with other.begin() as conn:
        conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    other.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use(pool, postgres_url, monkeypatch):
    pid = _backend_pid(pool)
    _terminate(postgres_url, pid)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # every pooled connection counts as idle

    with pool.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
    assert _backend_pid(pool) != pid


def test_a_connection_used_a_moment_ago_is_handed_out_without_a_ping(
    pool, postgres_url, monkeypatch
):
    pid = _backend_pid(pool)
    _terminate(postgres_url, pid)
    monkeypatch.setattr(db, "IDLE_PING_SECONDS", 3600.0)

    with pytest.raises(exc.OperationalError), pool.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    with pool.connect() as conn:  # the pool replaced it after the failure
        assert conn.exec_driver_sql("SELECT 1").scalar_one() == 1
