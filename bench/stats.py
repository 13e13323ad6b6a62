"""统计分析 benchmark: GET /officer/stats's figures at 1,000,000 applications.

A freshly migrated database gets `--applications` applications (pension, spread over every
Hubei county, eight states, two channels and 23 months; half of them refunded with a payment
date), their payments and 10,000 persons, then ANALYZE. Then, alternating, `--repeat` times:

* **SQL aggregate** (the baseline) — the plain statement a person would write for the
  groupings: ``SELECT status, kind, channel, region_code, <China month>, count(*),
  sum(amount_fen) FROM applications GROUP BY 1, 2, 3, 4, 5``, on the driver's cursor;
* **stats** — ``services.statistics.region_stats`` for a province supervisor: everything
  the page, GET /officer/stats and the xlsx show, read from the summary tables the database
  triggers keep (services/stats_summary.py);
* **stats, dates** — the same with a date filter that cuts a month at each end
  (2025-03-10 to 2026-09-20), whose partial months are aggregated live from applications.

The rows are written through the triggers (so the fill time includes their cost), and the
summary is then compared with the live aggregate once (``stats_summary.differences``).

Medians are printed in seconds with the ratio stats / SQL aggregate, and the verdict on the
issue's target: the answer in under a second at 1,000,000 applications.

    .venv/bin/python bench/stats.py [--applications 1000000] [--postgres-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, insert

from harness import add_database_arguments, fresh_engine, medians, timed
from sirefund import migrate
from sirefund.db import make_engine, make_session_factory
from sirefund.domain.regions import COUNTIES
from sirefund.models import Application, Officer, PensionPayment, Person
from sirefund.services import statistics as region_statistics
from sirefund.services import stats_summary
from sirefund.services.statistics import StatsFilters

TARGET_APPLICATIONS = 1_000_000
TARGET_SECONDS = 1.0
PERSONS = 10_000
BATCH = 20_000
TODAY = date(2026, 11, 29)
STATES = (
    ("refunded", 50),
    ("pending_review", 12),
    ("at_agency", 8),
    ("approved", 4),
    ("rejected", 8),
    ("cancelled", 8),
    ("agency_rejected", 6),
    ("refund_failed", 4),
)

_MONTH_SQL = {
    "sqlite": "strftime('%Y-%m', created_at, '+8 hours')",
    "postgresql": "to_char(timezone('Asia/Shanghai', created_at), 'YYYY-MM')",
}


def fill(engine: Engine, applications: int, seed: int = 2026) -> None:
    rnd = random.Random(seed)
    counties = sorted(COUNTIES)
    states = [s for s, weight in STATES for _ in range(weight)]
    start = datetime(2025, 1, 1, tzinfo=UTC)
    span = (datetime(2026, 11, 28, tzinfo=UTC) - start).total_seconds()
    with engine.begin() as conn:
        conn.execute(
            insert(Officer),
            [
                {
                    "code": "BENCHSUP",
                    "name": "统计",
                    "region_code": "420000",
                    "is_reviewer": False,
                    "is_supervisor": True,
                    "password_hash": "x",
                    "active": True,
                    "created_at": start,
                }
            ],
        )
        persons = [
            {
                "id": i + 1,
                "id_number": f"{counties[i % len(counties)]}19580312{i:04d}",
                "name": "测试",
                "region_code": counties[i % len(counties)],
                "created_at": start,
            }
            for i in range(PERSONS)
        ]
        conn.execute(insert(Person), persons)
    for first in range(0, applications, BATCH):
        payments, apps = [], []
        for i in range(first, min(applications, first + BATCH)):
            person = i % PERSONS
            amount = rnd.randrange(100, 300_000)
            at = start + timedelta(seconds=rnd.random() * span)
            status = states[rnd.randrange(len(states))]
            paid = None
            if status == "refunded":
                paid = (at + timedelta(hours=8)).date() + timedelta(days=rnd.randrange(2, 45))
            payments.append(
                {
                    "payment_id": f"PP{i:010d}",
                    "person_id": person + 1,
                    "amount_fen": amount,
                    "period_start": date(2025, 1, 1),
                    "period_end": date(2025, 12, 31),
                    "payment_year": 2025,
                    "payment_date": date(2025, 3, 1),
                    "channel": "楚税通",
                    "arrival_status": "not_arrived",
                }
            )
            apps.append(
                {
                    "id": i + 1,
                    "kind": "pension",
                    "document_no": f"BENCH{i:012d}",
                    "status": status,
                    "channel": "web" if i % 3 else "mobile_app",
                    "person_id": person + 1,
                    "region_code": persons[person]["region_code"],
                    "pension_payment_id": f"PP{i:010d}",
                    "amount_fen": amount,
                    "payment_year": 2025,
                    "period_start": date(2025, 1, 1),
                    "period_end": date(2025, 12, 31),
                    "refund_date": paid,
                    "created_at": at,
                    "updated_at": at,
                    "version": 1,
                }
            )
        with engine.begin() as conn:
            conn.execute(insert(PensionPayment), payments)
            conn.execute(insert(Application), apps)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def sql_aggregate(engine: Engine) -> int:
    month = _MONTH_SQL[engine.dialect.name]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            f"SELECT status, kind, channel, region_code, {month}, count(*), sum(amount_fen) "
            "FROM applications GROUP BY 1, 2, 3, 4, 5"
        )
        return sum(int(row[5]) for row in cur.fetchall())
    finally:
        raw.close()


def stats(engine: Engine, filters: StatsFilters | None = None) -> int:
    with make_session_factory(engine)() as session, session.begin():
        found = region_statistics.region_stats(
            session, officer="BENCHSUP", filters=filters or StatsFilters(), today=TODAY
        )
    return found.total.count


DATES = StatsFilters(date_from=date(2025, 3, 10), date_to=date(2026, 9, 20))


def stats_dates(engine: Engine) -> int:
    return stats(engine, DATES)


def summary_differences(engine: Engine) -> int:
    with make_session_factory(engine)() as session, session.begin():
        return len(stats_summary.differences(session))


def bench_database(
    label: str, url: str, applications: int, repeat: int, *, reuse: bool = False
) -> bool:
    if reuse:  # the database of an earlier run, migrated to the head
        engine = make_engine(url)
        migrate.upgrade(engine)
        print(f"== {label}: {applications:,} applications of an earlier run")
    else:
        engine = fresh_engine(url)
        started = time.perf_counter()
        fill(engine, applications)
        print(
            f"== {label}: {applications:,} applications written in "
            f"{time.perf_counter() - started:.1f} s"
        )
    t0 = time.perf_counter()
    differ = summary_differences(engine)
    print(
        f"summary vs live aggregate: {differ} cells differ "
        f"(checked in {time.perf_counter() - t0:.1f} s)"
    )
    runs: dict[str, list[float]] = {"SQL aggregate": [], "stats": [], "stats, dates": []}
    fns = {"SQL aggregate": sql_aggregate, "stats": stats, "stats, dates": stats_dates}
    for _ in range(repeat):
        for name, fn in fns.items():
            seconds, n = timed(functools.partial(fn, engine))
            runs[name].append(seconds)
            assert n == applications or name == "stats, dates", (name, n)
    engine.dispose()
    median = medians(runs)
    for name, seconds in median.items():
        shown = ", ".join(f"{s:.3f}" for s in runs[name])
        print(f"{name + ':':<16}{seconds:>8.3f} s  ({shown} s)")
    for name in ("stats", "stats, dates"):
        print(f"{name} / SQL aggregate = {median[name] / median['SQL aggregate']:.3f}")
    worst = max(median["stats"], median["stats, dates"])
    per_target = worst * TARGET_APPLICATIONS / applications
    ok = per_target < TARGET_SECONDS and not differ
    scaled = "" if applications == TARGET_APPLICATIONS else ", scaled linearly: an upper bound"
    print(
        f"stats at {TARGET_APPLICATIONS:,} applications ≈ {per_target:.3f} s  "
        f"(target < {TARGET_SECONDS:.1f} s{scaled})  {'PASS' if ok else 'FAIL'}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=TARGET_APPLICATIONS)
    add_database_arguments(parser)
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="time the databases an earlier run filled (--workdir; the PostgreSQL URL) again",
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL alone")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.workdir or Path(tmp)
        db = workdir / "stats-bench.db"
        if not args.reuse:
            db.unlink(missing_ok=True)
        ok = args.skip_sqlite or bench_database(
            "SQLite", f"sqlite:///{db}", args.applications, args.repeat, reuse=args.reuse
        )
        if args.postgres_url:
            ok = (
                bench_database(
                    "PostgreSQL",
                    args.postgres_url,
                    args.applications,
                    args.repeat,
                    reuse=args.reuse,
                )
                and ok
            )
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
