"""统计分析 benchmark: GET /officer/stats's figures at 1,000,000 applications.

A freshly migrated database gets `--applications` applications (pension, spread over every
Hubei county, eight states, two channels and 23 months; half of them refunded with a payment
date), their payments and 10,000 persons, then ANALYZE. Then, alternating, `--repeat` times:

* **SQL aggregate** (the baseline) — the plain statement a person would write for the
  groupings: ``SELECT status, kind, channel, region_code, <China month>, count(*),
  sum(amount_fen) FROM applications GROUP BY 1, 2, 3, 4, 5``, on the driver's cursor;
* **stats** — ``services.statistics.region_stats`` for a province supervisor: that grouping
  through SQLAlchemy rolled up into five lists, plus the (day applied, day paid) histogram
  for the median and 90th percentile in working days, the overdue count, and the calendar.

Medians are printed in seconds with the ratio stats / SQL aggregate, and the verdict on the
issue's target: the answer in under a second at 1,000,000 applications.

    .venv/bin/python bench/stats.py [--applications 1000000] [--postgres-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import functools
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert

from harness import (
    add_database_arguments,
    alternate,
    fresh_engine,
    medians,
    on_each_database,
)
from sirefund.db import make_session_factory
from sirefund.domain.regions import COUNTIES
from sirefund.models import Application, Officer, PensionPayment, Person
from sirefund.services import statistics as region_statistics
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


def stats(engine: Engine) -> int:
    with make_session_factory(engine)() as session, session.begin():
        found = region_statistics.region_stats(
            session, officer="BENCHSUP", filters=StatsFilters(), today=TODAY
        )
    return found.total.count


def bench_database(label: str, url: str, applications: int, repeat: int) -> bool:
    engine = fresh_engine(url)
    started = time.perf_counter()
    fill(engine, applications)
    print(
        f"== {label}: {applications:,} applications written in {time.perf_counter() - started:.1f} s"
    )
    fns = {"SQL aggregate": sql_aggregate, "stats": stats}
    runs = alternate(
        {name: functools.partial(fn, engine) for name, fn in fns.items()},
        repeat=repeat,
        expect=applications,
    )
    engine.dispose()
    median = medians(runs)
    for name, seconds in median.items():
        shown = ", ".join(f"{s:.3f}" for s in runs[name])
        print(f"{name + ':':<16}{seconds:>8.3f} s  ({shown} s)")
    print(f"stats / SQL aggregate = {median['stats'] / median['SQL aggregate']:.2f}")
    per_target = median["stats"] * TARGET_APPLICATIONS / applications
    ok = per_target < TARGET_SECONDS
    print(
        f"stats at {TARGET_APPLICATIONS:,} applications ≈ {per_target:.3f} s  "
        f"(target < {TARGET_SECONDS:.1f} s)  {'PASS' if ok else 'FAIL'}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applications", type=int, default=TARGET_APPLICATIONS)
    add_database_arguments(parser)
    args = parser.parse_args(argv)
    return on_each_database(
        args,
        "stats-bench.db",
        lambda label, url: bench_database(label, url, args.applications, args.repeat),
    )


if __name__ == "__main__":
    sys.exit(main())
