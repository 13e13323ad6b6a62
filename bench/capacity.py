"""Capacity measurements on a PostgreSQL database filled by `sirefund generate --load` (issue 12,
part 4; docs/capacity.md rests on them).

    SIREFUND_DATABASE_URL=postgresql+psycopg://…/sirefund_cap_1m .venv/bin/sirefund db upgrade
    SIREFUND_DATABASE_URL=… .venv/bin/sirefund generate --persons 333334 \\
        --pension-payments 1000000 --out var/gen1m --load
    .venv/bin/python bench/capacity.py --postgres-url postgresql+psycopg://…/sirefund_cap_1m

Prints, for the database given:

* rows, and the size on disk of each table and each of its indexes (heap, indexes, total);
* each index's B-tree depth (`bt_metap(...).level + 1`, pageinspect: the index pages a lookup
  reads) and its leaf and inner pages (`pgstatindex`, pgstattuple: the fan-out);
* `--lookups` random lookups of each hot read, timed on the driver's cursor (the database's
  own cost, which is what grows with the rows; the app's Python cost per request does not):
  a person by ID number (login, registration), a person's pension payments of a year, a
  person's medical payments of an insurance year — p50 / p99 in ms, and the EXPLAIN
  (ANALYZE, BUFFERS) of one of each.

Run it at 1M and at 10M payments and compare: flat p50/p99 and a depth that grows by at most
one level are the argument that indexes alone stay flat at 300M rows (docs/capacity.md).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

TABLES = (
    "persons",
    "pension_payments",
    "medical_registrations",
    "medical_payments",
    "applications",
)

QUERIES = {
    "person by ID number": (
        "SELECT id, name, region_code FROM persons WHERE id_number = %s",
        "id_number",
    ),
    "pension payments of a year": (
        "SELECT payment_id, amount_fen, period_start, period_end, payment_date, channel,"
        " arrival_status FROM pension_payments WHERE person_id = %s AND payment_year = %s"
        " ORDER BY payment_date",
        "person_year",
    ),
    "medical payments of a year": (
        "SELECT m.payment_id, m.medical_amount_fen, m.ltc_amount_fen, m.payment_date"
        " FROM medical_payments m JOIN medical_registrations r"
        " ON r.registration_id = m.registration_id"
        " WHERE r.person_id = %s AND m.insurance_year = %s ORDER BY m.payment_date",
        "person_year",
    ),
}


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def sizes(cur: Any) -> None:
    print(
        "\n| table / index | rows | size | B-tree levels | leaf pages | inner pages |"
        "\n|---|---|---|---|---|---|"
    )
    for table in TABLES:
        cur.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
        rows = cur.fetchone()[0]
        cur.execute(
            "SELECT pg_table_size(%s), pg_indexes_size(%s), pg_total_relation_size(%s)",
            (table, table, table),
        )
        heap, idx, total = cur.fetchone()
        print(
            f"| **{table}** | {rows:,} | {mib(total)} (heap {mib(heap)}, indexes {mib(idx)})"
            " | | | |"
        )
        cur.execute(
            "SELECT i.relname, pg_relation_size(i.oid) FROM pg_index x"
            " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
            " WHERE t.relname = %s ORDER BY i.relname",
            (table,),
        )
        for name, size in cur.fetchall():
            cur.execute("SELECT level FROM bt_metap(%s)", (name,))
            level = cur.fetchone()[0]
            cur.execute("SELECT leaf_pages, internal_pages FROM pgstatindex(%s)", (name,))
            leaf, inner = cur.fetchone()
            print(f"| {name} | | {mib(size)} | {level + 1} | {leaf:,} | {inner:,} |")
    cur.execute("SELECT pg_database_size(current_database())")
    print(f"\ndatabase size: {mib(cur.fetchone()[0])}")


def samples(cur: Any, n: int, rnd: random.Random) -> dict[str, list[tuple[Any, ...]]]:
    cur.execute("SELECT min(id), max(id) FROM persons")
    low, high = cur.fetchone()
    ids = [rnd.randint(low, high) for _ in range(n)]
    cur.execute("SELECT id, id_number FROM persons WHERE id = ANY(%s)", (ids,))
    numbers = dict(cur.fetchall())
    return {
        "id_number": [(numbers[i],) for i in ids if i in numbers],
        "person_year": [(i, rnd.choice((2024, 2025, 2026))) for i in ids],
    }


def time_lookups(cur: Any, args: dict[str, list[tuple[Any, ...]]]) -> None:
    print("\n| lookup | n | p50 ms | p99 ms | mean ms |\n|---|---|---|---|---|")
    for label, (sql, kind) in QUERIES.items():
        times = []
        for params in args[kind]:
            started = time.perf_counter()
            cur.execute(sql, params)
            cur.fetchall()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p99 = times[min(len(times) - 1, int(0.99 * len(times)))]
        print(
            f"| {label} | {len(times)} | {statistics.median(times):.3f} | {p99:.3f} |"
            f" {statistics.mean(times):.3f} |"
        )
    for label, (sql, kind) in QUERIES.items():
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, args[kind][0])
        print(f"\n{label}:\n" + "\n".join("    " + r[0] for r in cur.fetchall()))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--postgres-url", default=os.environ.get("SIREFUND_BENCH_POSTGRES_URL"))
    p.add_argument("--lookups", type=int, default=5000)
    p.add_argument("--seed", type=int, default=12)
    args = p.parse_args(argv)
    if not args.postgres_url:
        print("give --postgres-url (a database filled by sirefund generate --load)")
        return 2
    url = make_url(args.postgres_url).set(drivername="postgresql")
    print(f"load average at start: {os.getloadavg()}")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute("SELECT version()")
        print(cur.fetchone()[0])
        cur.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        cur.execute("CREATE EXTENSION IF NOT EXISTS pgstattuple")
        sizes(cur)
        lookups = samples(cur, args.lookups, random.Random(args.seed))
        time_lookups(cur, lookups)  # warm-up pass: the pages read come into the cache
        print("\n(second pass, warm)")
        time_lookups(cur, lookups)
    print(f"\nload average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
