"""What the benchmarks share: an empty migrated database, and the timing loop that runs the
measured functions in turn, `repeat` times, so that a slow minute of the machine falls on
all of them alike, and keeps each one's wall times for the medians.

The benchmarks import it as a sibling module (`python bench/X.py` puts bench/ on sys.path).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, make_url

from sirefund import migrate
from sirefund.db import make_engine

T = TypeVar("T")
PG_ENV = "SIREFUND_BENCH_POSTGRES_URL"


def fresh_engine(url: str) -> Engine:
    """An engine on an empty, migrated schema: a SQLite file is deleted first, PostgreSQL's
    public schema dropped and created again."""
    if make_url(url).get_backend_name() == "sqlite":
        db = Path(make_url(url).database or "")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        engine = make_engine(url)
    else:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    migrate.upgrade(engine)
    return engine


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(seconds fn took, what it returned)."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def alternate(
    fns: Mapping[str, Callable[[], int]], *, repeat: int, expect: int
) -> dict[str, list[float]]:
    """Run each of ``fns`` in turn, ``repeat`` rounds; every run must return ``expect`` (the
    rows it went through). Returns each name's wall times in seconds, in run order."""
    runs: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            seconds, n = timed(fn)
            if n != expect:
                raise SystemExit(f"{name} went through {n} rows, not {expect}")
            runs[name].append(seconds)
    return runs


def medians(runs: Mapping[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(values) for name, values in runs.items()}


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """--repeat, --workdir, --postgres-url and --strict, which on_each_database reads."""
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory")
    parser.add_argument("--postgres-url", default=os.environ.get(PG_ENV))
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")


def on_each_database(
    args: argparse.Namespace, filename: str, bench: Callable[[str, str], bool]
) -> int:
    """bench(label, url) on a new SQLite file ``filename`` in --workdir, then on
    --postgres-url when given. The exit status: 1 when a target was missed under --strict."""
    with tempfile.TemporaryDirectory() as tmp:
        db = (args.workdir or Path(tmp)) / filename
        db.unlink(missing_ok=True)
        ok = bench("SQLite", f"sqlite:///{db}")
        if args.postgres_url:
            ok = bench("PostgreSQL", args.postgres_url) and ok
    return 1 if args.strict and not ok else 0
