"""Database plumbing: metadata naming convention, engine factory, SQLite pragmas, sessions.

Engines are created by the entry points (web app, CLI, worker, tests), never at import time.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
#: How long a SQLite connection waits for another's write lock before failing.
_SQLITE_BUSY_SECONDS = 30


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


#: Files holding personal data (the SQLite database, rejected import rows): owner only.
OWNER_ONLY = 0o600


def create_owner_only(path: Path) -> None:
    """Create `path` empty and readable by its owner only, unless it exists (an operator's
    own choice of mode is kept). An empty file is a valid empty SQLite database."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY))


#: Connections an SQLite engine keeps open (each costs a file handle and its page cache).
SQLITE_POOL_SIZE = 40


def make_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    max_overflow: int = 20,
    pooler: str = "none",
) -> Engine:
    """Create an engine. SQLite gets WAL, foreign keys, a busy timeout and BEGIN IMMEDIATE.

    Bound parameters are hidden from error messages: they hold ID, phone and card numbers,
    and a database error's text ends up in logs.

    SQLite upgrades a read lock to a write lock lazily; two deferred transactions that both
    read then write deadlock and one fails at once with "database is locked" whatever the
    busy timeout. Taking the write lock at BEGIN (IMMEDIATE) makes writers queue instead.

    `pool_size` / `max_overflow` (PostgreSQL): Settings.pool_limits sizes them so that N
    processes fit the server's max_connections.

    `pooler="transaction"` (Settings.db_pooler, PostgreSQL through pgbouncer in transaction
    mode): psycopg prepares no statements (`prepare_threshold=None`). It prepares a statement
    it has run 5 times on a connection; through a transaction pooler the next transaction may
    run on another server connection, where that statement does not exist.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).parent.mkdir(parents=True, exist_ok=True)
            create_owner_only(Path(db))  # SQLite gives its -wal and -shm files the same mode
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"check_same_thread": False, "timeout": _SQLITE_BUSY_SECONDS},
            # pysqlite's own transaction handling is off; we emit BEGIN ourselves below.
            isolation_level=None,
            hide_parameters=True,
            # As many kept connections as the app's worker threads (anyio's default limit):
            # with SQLAlchemy's default of 5, the 6th concurrent request opened a connection
            # (file, PRAGMAs, an empty page cache) and closed it again (issue 12).
            pool_size=SQLITE_POOL_SIZE,
            max_overflow=10,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_SECONDS * 1000}")
            if db and db != ":memory:":
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            # A read-only transaction (`read_only(engine)`) begins deferred: it takes no
            # write lock, so reads never queue behind writers (WAL gives it a snapshot).
            read = conn.get_execution_options().get(READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

        return engine
    connect_args: dict[str, object] = {}
    if pooler == "transaction":
        connect_args["prepare_threshold"] = None
    engine = create_engine(
        url,
        echo=echo,
        connect_args=connect_args,
        pool_size=pool_size,
        max_overflow=max_overflow,
        hide_parameters=True,
    )
    _ping_when_idle(engine)
    return engine


#: A pooled connection unused this long is tested before it is handed out.
IDLE_PING_SECONDS = 10.0
_IDLE_SINCE = "sirefund_idle_since"


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling without a round trip per checkout.

    ``pool_pre_ping`` pings on every checkout: two extra round trips per request (issue 12's
    profile: the session read and the route each check a connection out). A connection that
    was back in the pool a moment ago is as alive as the ping would say; one that sat idle
    for IDLE_PING_SECONDS (a database restart, a proxy's idle timeout) is pinged, and a dead
    one is replaced (DisconnectionError makes the pool retry with a fresh connection).
    A connection that dies under a busy server still fails that one statement, and
    SQLAlchemy then invalidates the pool, as with ``pool_pre_ping``."""

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: DBAPIConnection | None, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(
        dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, proxy: object
    ) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:
            raise DisconnectionError("idle connection is gone") from exc


#: Execution option of an engine whose transactions only read (see `read_only`).
READ_ONLY = "sirefund_read_only"


def read_only(engine: Engine) -> Engine:
    """The same engine and pool, for transactions that only read: on SQLite they begin
    deferred instead of IMMEDIATE, so they never wait for, nor hold, the write lock. A write
    in such a transaction would have to upgrade its lock and may fail with "database is
    locked": write in a transaction of the plain engine."""
    return engine.execution_options(**{READ_ONLY: True})


def statement_reads(engine: Engine) -> Engine:
    """The same engine and pool, for a few reads that need no common snapshot (a session
    lookup, then one statement of the person's payments): on PostgreSQL each statement is its
    own transaction (autocommit: no BEGIN and COMMIT round trips, issue 12); on SQLite the
    driver statements of a `statement_session` are too (pysqlite's autocommit: a read takes
    no write lock), and an ORM transaction begins deferred (`read_only`)."""
    if engine.dialect.name == "sqlite":
        return read_only(engine)
    return engine.execution_options(isolation_level="AUTOCOMMIT")


#: `Session.info` key of the connection a `statement_session` runs its driver statements on.
DRIVER_CONNECTION = "sirefund.driver_connection"


@contextmanager
def statement_session(engine: Engine) -> Iterator[Session]:
    """A Session on ONE connection of `engine` (a `statement_reads` engine) for a hot read:
    the driver statements (services.queries.driver_rows) run on that connection's cursor
    directly, each its own transaction (autocommit), without the ORM's transaction
    bookkeeping around them (issue 12: it cost more than the statements); an ORM statement,
    if the read needs one, begins a transaction on the same connection as usual."""
    with engine.connect() as connection:
        session = Session(bind=connection, expire_on_commit=False)
        session.info[DRIVER_CONNECTION] = connection
        try:
            yield session
        finally:
            session.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: committed when the block ends normally, rolled back otherwise."""
    with factory() as session, session.begin():
        yield session
