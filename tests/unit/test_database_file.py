"""The SQLite database holds every ID number, phone and bank account: make_engine creates its
file readable by its owner only, whatever the umask, and SQLite's WAL files follow."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import text

from sirefund.db import make_engine


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_sqlite_database_and_its_wal_are_readable_by_their_owner_only(
    tmp_path: Path,
) -> None:
    db = tmp_path / "var" / "sirefund.db"
    old_umask = os.umask(0o022)  # the usual one, which would make the file 0644
    try:
        engine = make_engine(f"sqlite:///{db}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        assert _mode(db) == 0o600
        wal = db.with_name(db.name + "-wal")
        assert wal.exists() and _mode(wal) == 0o600
        engine.dispose()
    finally:
        os.umask(old_umask)


def test_an_existing_database_keeps_the_mode_its_operator_gave_it(tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    db.touch()
    db.chmod(0o640)
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(text("SELECT 1"))
    engine.dispose()
    assert _mode(db) == 0o640
