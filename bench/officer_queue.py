"""Officer review queue benchmark: the first page and filtered pages at 1,000,000 applications.

A database gets `--applications` applications the way bench/stats.py writes them (pension,
every Hubei county, eight states, two channels, 23 months; 10,000 persons), plus a 风险提示
on every 400th application, two officers (province scope 420000 and city scope 420100) and
ANALYZE. `--reuse` keeps a database that already holds that many applications (the SQLite
file in `--workdir`, the PostgreSQL database of `--postgres-url`), so a second run only
measures.

Each case is one call of ``services.review_queue.queue`` (what GET /officer/applications and
the 税务端 queue page run: the page, its 风险提示, and the total) in its own transaction,
`--repeat` times after one warm-up call; the median and the worst are printed in ms against
the issue's target (≤ 150 ms), then the ``EXPLAIN`` of every statement the case ran on the
applications table (captured from the cursor, so it is exactly what ran).

    .venv/bin/python bench/officer_queue.py [--applications 1000000] [--postgres-url postgresql+psycopg://…]
        [--workdir DIR --reuse] [--repeat 5] [--no-explain]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, func, insert, select, update

import stats as stats_bench  # bench/stats.py: the same million applications
from sirefund import migrate
from sirefund.db import make_engine, make_session_factory
from sirefund.models import Application, ApplicationRiskFlag, Officer, Person
from sirefund.services import review_queue
from sirefund.services.review_queue import QueueFilters

PG_ENV = "SIREFUND_BENCH_POSTGRES_URL"
TARGET_MS = 150.0
TODAY = date(2026, 11, 29)
FLAG_EVERY = 400
DOC_NO = "鄂税退〔2026〕420102-000123"  # given to application 123457 (stats.fill's are BENCH…)

CASES: list[tuple[str, dict[str, Any], int]] = [
    ("first page (default: longest waiting first)", {}, 1),
    ("first page, newest first", {"sort": "-created_at"}, 1),
    ("first page, largest amount first", {"sort": "-amount"}, 1),
    ("first page, smallest amount first", {"sort": "amount"}, 1),
    ("page 50", {}, 50),
    ("status 待审核", {"status": "pending_review"}, 1),
    ("status 待审核, largest amount first", {"status": "pending_review", "sort": "-amount"}, 1),
    ("status 已批准 (4 %)", {"status": "approved"}, 1),
    ("region 420102 (a county)", {"region": "420102"}, 1),
    ("region 420100 (a city), newest first", {"region": "420100", "sort": "-created_at"}, 1),
    ("channel mobile_app", {"channel": "mobile_app"}, 1),
    ("date range (one month)", {"date_from": "2026-03-01", "date_to": "2026-03-31"}, 1),
    (
        "date range, largest amount first",
        {"date_from": "2026-03-01", "date_to": "2026-03-31", "sort": "-amount"},
        1,
    ),
    ("due within 5 working days", {"due_within": 5}, 1),
    ("风险提示 only", {"risk": "true"}, 1),
    ("no 风险提示", {"risk": "false"}, 1),
    ("q = application id", {"q": "777777"}, 1),
    ("q = 文书号", {"q": DOC_NO}, 1),
    ("q = a name nobody has (every person read)", {"q": "张三丰"}, 1),
    ("q = ID number", {"q": "<ID of person 6>"}, 1),
    (
        "status 已退款 + region + newest",
        {"status": "refunded", "region": "420500", "sort": "-created_at"},
        1,
    ),
]


def prepare(url: str, applications: int, *, reuse: bool) -> Engine:
    engine = make_engine(url)
    if reuse:
        try:
            with engine.connect() as conn:
                have = conn.execute(select(func.count()).select_from(Application)).scalar_one()
        except Exception:  # noqa: BLE001 - no schema yet: fill it
            have = -1
        if have == applications:
            migrate.upgrade(engine)  # the indexes of a newer migration, on the kept rows
            real_document_no(engine)
            analyze(engine)
            return engine
    engine.dispose()
    engine = stats_bench.fresh_engine(url)
    started = time.perf_counter()
    stats_bench.fill(engine, applications)
    with engine.begin() as conn:
        at = datetime(2025, 1, 1, tzinfo=UTC)
        conn.execute(
            insert(Officer),
            [
                {
                    "code": code,
                    "name": "审核",
                    "region_code": region,
                    "is_reviewer": True,
                    "password_hash": "x",
                    "active": True,
                    "created_at": at,
                }
                for code, region in (("BENCHQ", "420000"), ("BENCHQCITY", "420100"))
            ],
        )
        conn.execute(
            insert(ApplicationRiskFlag),
            [
                {"application_id": i, "code": "shared_account", "detail": "bench", "created_at": at}
                for i in range(1, applications + 1, FLAG_EVERY)
            ],
        )
    real_document_no(engine)
    analyze(engine)
    print(f"   {applications:,} applications written in {time.perf_counter() - started:.0f} s")
    return engine


def real_document_no(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(update(Application).where(Application.id == 123457).values(document_no=DOC_NO))


def analyze(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The statements (and their parameters) run on the engine meanwhile."""
    seen: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def run_case(engine: Engine, officer: str, filters: QueueFilters, page: int) -> int:
    with make_session_factory(engine)() as session, session.begin():
        found = review_queue.queue(
            session, officer=officer, filters=filters, page=page, today=TODAY
        )
    return found.total


def explain(engine: Engine, statements: list[tuple[str, Any]]) -> None:
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, parameters in statements:
            if "FROM applications" not in statement or statement.lstrip().startswith("EXPLAIN"):
                continue
            cur.execute(prefix + statement, parameters)
            lines = [" | ".join(str(c) for c in row) for row in cur.fetchall()]
            print("      " + " ".join(statement.split())[:160] + " …")
            for line in lines:
                print("        " + line)
    finally:
        raw.close()


def bench_database(label: str, url: str, args: argparse.Namespace) -> bool:
    print(f"== {label}")
    engine = prepare(url, args.applications, reuse=args.reuse)
    with engine.connect() as conn:
        id_number = conn.execute(select(Person.id_number).where(Person.id == 6)).scalar_one()
    ok = True
    for name, query, page in CASES:
        if args.case and args.case not in name:
            continue
        asked = {"q": id_number} if query.get("q") == "<ID of person 6>" else query
        filters = QueueFilters.model_validate(asked)
        officer = "BENCHQ"
        with captured(engine) as statements:
            total = run_case(engine, officer, filters, page)  # warm-up, and what it runs
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            run_case(engine, officer, filters, page)
            times.append((time.perf_counter() - t0) * 1000)
        median = statistics.median(times)
        passed = median <= TARGET_MS
        ok = ok and passed
        print(
            f"{name:<48} median {median:7.1f} ms  worst {max(times):7.1f} ms  "
            f"total {total:>6}  {'PASS' if passed else 'FAIL'}"
        )
        if args.explain:
            explain(engine, statements)
    engine.dispose()
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workdir", type=Path, default=Path("var/bench"))
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--postgres-url", default=os.environ.get(PG_ENV))
    parser.add_argument("--no-explain", dest="explain", action="store_false")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--case", default=None, help="only the cases whose name holds this")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    ok = True
    if args.only != "postgresql":
        args.workdir.mkdir(parents=True, exist_ok=True)
        db = args.workdir / f"queue-{args.applications}.db"
        ok = bench_database("SQLite", f"sqlite:///{db}", args) and ok
    if args.postgres_url and args.only != "sqlite":
        ok = bench_database("PostgreSQL", args.postgres_url, args) and ok
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
