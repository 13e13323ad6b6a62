"""Benchmark: `sirefund import pension-payments` against a raw bulk load, and the pension
payment lookup service against the same lookup as one raw SQL statement.

    .venv/bin/python bench/import_and_query.py [--payments 1000000] [--lookups 10000]

SQLite always; PostgreSQL too when SIREFUND_BENCH_POSTGRES_URL is set (its ``public`` schema
is dropped and recreated: give it a database of its own).

What is measured, per database:

* **raw load** (the baseline): the same generated file read with ``csv.reader`` and written
  into the same tables of a freshly migrated schema (``persons`` and ``pension_payments``,
  with their constraints and indexes) in batches of 5,000 rows, one transaction each --
  ``executemany`` on SQLite, ``COPY`` on PostgreSQL -- with no validation at all: person ids
  come from an unbounded dict, amounts from ``float``. It is what the database costs to take
  the rows, plus the least Python that can feed it.
* **import**: :func:`sirefund.imports.import_file` on another fresh schema: every row
  validated (ID check digit, name, amount, dates, enumerations), persons deduplicated through
  the database with a bounded cache, re-import bookkeeping, rejected-row file.
  Target: import rows/s >= 0.5 x raw rows/s.
* **lookups**: after the import (plus some applications, so the join has work, and ANALYZE),
  ``--lookups`` random (person, payment year) pairs taken from the loaded payments, each
  looked up twice in alternation: through
  :func:`sirefund.services.queries.pension_payments_for_person` on an ORM session, and as
  the same single SQL statement on the driver's cursor. Target: service p99 <= 2 x raw p99.
"""

from __future__ import annotations

import argparse
import csv
import functools
import os
import platform
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, bindparam, text

from harness import fresh_engine, timed
from sirefund import imports
from sirefund.db import make_engine, make_session_factory
from sirefund.domain.workflow import ACTIVE
from sirefund.generate import generate
from sirefund.services.queries import pension_payments_for_person

BATCH = 5000
IMPORT_TARGET = 0.5  # import rows/s >= this x raw rows/s
LOOKUP_TARGET = 2.0  # service p99 <= this x raw p99
PG_ENV = "SIREFUND_BENCH_POSTGRES_URL"

_ACTIVE = ", ".join(f"'{s.value}'" for s in ACTIVE)
LOOKUP_SQL = (
    "SELECT p.payment_id, p.person_id, p.amount_fen, p.period_start, p.period_end, "
    "p.payment_year, p.payment_date, p.channel, p.arrival_status, a.id, a.status "
    "FROM pension_payments p LEFT OUTER JOIN applications a ON a.id = ("
    " SELECT c.id FROM applications c WHERE c.person_id = p.person_id AND c.kind = 'pension'"
    " AND c.pension_payment_id = p.payment_id"
    f" ORDER BY CASE WHEN c.status IN ({_ACTIVE}) THEN 0 ELSE 1 END, c.id DESC LIMIT 1) "
    "WHERE p.person_id = {ph} AND p.payment_year = {ph} ORDER BY p.period_start, p.payment_id"
)


# --------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------


def raw_load(engine: Engine, path: Path) -> int:
    """The baseline: the file's rows into persons + pension_payments, no validation."""
    pg = engine.dialect.name == "postgresql"
    person_ids: dict[str, int] = {}
    dbapi = engine.raw_connection()
    try:
        cur = dbapi.cursor()
        n = 0

        def flush(persons: list[tuple], payments: list[tuple]) -> None:
            if pg:
                with cur.copy("COPY persons (id, id_number, name, region_code) FROM STDIN") as cp:
                    for row in persons:
                        cp.write_row(row)
                with cur.copy(
                    "COPY pension_payments (payment_id, person_id, amount_fen, period_start, "
                    "period_end, payment_year, payment_date, channel, arrival_status) FROM STDIN"
                ) as cp:
                    for row in payments:
                        cp.write_row(row)
                dbapi.commit()
            else:
                cur.execute("BEGIN")
                cur.executemany(
                    "INSERT INTO persons (id, id_number, name, region_code) VALUES (?, ?, ?, ?)",
                    persons,
                )
                cur.executemany(
                    "INSERT INTO pension_payments (payment_id, person_id, amount_fen, period_start, "
                    "period_end, payment_year, payment_date, channel, arrival_status) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    payments,
                )
                cur.execute("COMMIT")

        with open(path, encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            col = {name: i for i, name in enumerate(header)}
            i_pid, i_idn, i_name, i_region = (
                col[c] for c in ("payment_id", "id_number", "name", "region_code")
            )
            i_amount, i_start, i_end, i_year = (
                col[c] for c in ("amount", "period_start", "period_end", "payment_year")
            )
            i_paid, i_channel, i_status = (
                col[c] for c in ("payment_date", "channel", "arrival_status")
            )
            persons: list[tuple] = []
            payments: list[tuple] = []
            for row in reader:
                idn = row[i_idn]
                person_id = person_ids.get(idn)
                if person_id is None:
                    person_id = person_ids[idn] = len(person_ids) + 1
                    persons.append((person_id, idn, row[i_name], row[i_region]))
                payments.append(
                    (
                        row[i_pid],
                        person_id,
                        round(float(row[i_amount]) * 100),
                        row[i_start],
                        row[i_end],
                        int(row[i_year]),
                        row[i_paid],
                        row[i_channel],
                        row[i_status],
                    )
                )
                if len(payments) >= BATCH:
                    flush(persons, payments)
                    n += len(payments)
                    persons, payments = [], []
            if payments:
                flush(persons, payments)
                n += len(payments)
        cur.close()
    finally:
        dbapi.close()
    return n


def add_applications(engine: Engine) -> int:
    """Some pending, cancelled and refunded applications, so the lookup's join has work
    (payments ending in 77 get a cancelled one beside the pending one: the active must win)."""
    at = "2026-03-10 09:00:00"
    with engine.begin() as conn:
        for suffix, status in (
            ("7", "pending_review"),
            ("3", "cancelled"),
            ("1", "refunded"),
            ("77", "cancelled"),
        ):
            conn.exec_driver_sql(
                "INSERT INTO applications (kind, status, channel, person_id, region_code, "
                "pension_payment_id, amount_fen, payment_year, period_start, period_end, "
                "created_at, updated_at, version, document_no) "
                f"SELECT 'pension', '{status}', 'web', p.person_id, '420703', p.payment_id, "
                f"p.amount_fen, p.payment_year, p.period_start, p.period_end, '{at}', '{at}', 1, "
                # Unique per row, like a 文书号 (the lookups never read it).
                f"'bench-{suffix}-' || p.payment_id "
                f"FROM pension_payments p WHERE p.arrival_status <> 'arrived' "
                f"AND substr(p.payment_id, length(p.payment_id) - {len(suffix) - 1}) = '{suffix}'"
            )
        count = conn.exec_driver_sql("SELECT COUNT(*) FROM applications").scalar()
        conn.exec_driver_sql("ANALYZE")
    return count or 0


def lookup_pairs(engine: Engine, payments: int, count: int, seed: int) -> list[tuple[int, int]]:
    """Random (person_id, payment_year) pairs of loaded payments."""
    rng = random.Random(seed)
    ids = [f"PP{rng.randrange(1, payments + 1):010d}" for _ in range(count)]
    wanted = sorted(set(ids))
    found: dict[str, tuple[int, int]] = {}
    query = text(
        "SELECT payment_id, person_id, payment_year FROM pension_payments WHERE payment_id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    with engine.connect() as conn:
        for i in range(0, len(wanted), 1000):
            for pid, person, year in conn.execute(query, {"ids": wanted[i : i + 1000]}):
                found[pid] = (person, year)
    pairs = [found[i] for i in ids if i in found]
    if not pairs:
        raise SystemExit("no payments found to look up: did the generator change its ids?")
    return pairs


def time_lookups(
    engine: Engine, pairs: list[tuple[int, int]]
) -> tuple[list[float], list[float], int]:
    """Each pair through the service and as raw SQL, alternating which goes first."""
    pg = engine.dialect.name == "postgresql"
    sql = LOOKUP_SQL.replace("{ph}", "%s" if pg else "?")
    service: list[float] = []
    raw: list[float] = []
    rows_seen = 0
    factory = make_session_factory(engine)
    dbapi = engine.raw_connection()
    try:
        cur = dbapi.cursor()
        with factory() as session:
            # Warm both paths (statement caches, prepared statements) before timing.
            for person_id, year in pairs[:50]:
                pension_payments_for_person(session, person_id=person_id, year=year)
                cur.execute(sql, (person_id, year))
                cur.fetchall()
            perf = time.perf_counter
            for i, (person_id, year) in enumerate(pairs):
                for which in (0, 1) if i % 2 == 0 else (1, 0):
                    if which == 0:
                        t = perf()
                        result = pension_payments_for_person(
                            session, person_id=person_id, year=year
                        )
                        service.append(perf() - t)
                        rows_seen += len(result)
                    else:
                        t = perf()
                        cur.execute(sql, (person_id, year))
                        cur.fetchall()
                        raw.append(perf() - t)
            session.rollback()
        if pg:
            dbapi.rollback()
        cur.close()
    finally:
        dbapi.close()
    return service, raw, rows_seen


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def bench_database(
    label: str, url: str, path: Path, payments: int, lookups: int, seed: int, repeat: int
) -> dict:
    print(
        f"\n== {label}: {payments:,} pension payments, loads repeated {repeat}x alternately",
        flush=True,
    )
    if label == "postgresql":
        probe = make_engine(url)
        with probe.connect() as conn:
            print(f"server: {conn.exec_driver_sql('SHOW server_version').scalar()}")
        probe.dispose()
    how = "COPY" if label == "postgresql" else "executemany"
    raw_times: list[float] = []
    import_times: list[float] = []
    for attempt in range(repeat):
        engine = fresh_engine(url)
        seconds, raw_rows = timed(functools.partial(raw_load, engine, path))
        raw_times.append(seconds)
        engine.dispose()
        if raw_rows != payments:
            raise SystemExit(f"raw load wrote {raw_rows} of {payments} rows")

        engine = fresh_engine(url)
        seconds, summary = timed(
            functools.partial(imports.import_file, engine, "pension-payments", path)
        )
        import_times.append(seconds)
        if summary.loaded != payments:
            raise SystemExit(f"import loaded {summary.loaded} of {payments} rows: {summary.line()}")
        if attempt < repeat - 1:
            engine.dispose()  # the last import's database serves the lookups
        print(
            f"  run {attempt + 1}: raw {raw_times[-1]:.1f} s, import {import_times[-1]:.1f} s",
            flush=True,
        )
    raw_rate = payments / statistics.median(raw_times)
    import_rate = payments / statistics.median(import_times)
    print(f"{f'raw load ({how}):':26s}{raw_rate:>10,.0f} rows/s  (median of {repeat})")
    print(f"{'import (sirefund import):':26s}{import_rate:>10,.0f} rows/s  (median of {repeat})")
    print(f"  {summary.line()}")
    ratio = import_rate / raw_rate
    ok_import = ratio >= IMPORT_TARGET
    print(
        f"import speed / raw speed = {ratio:.2f}  (target >= {IMPORT_TARGET:.2f})  "
        f"{'PASS' if ok_import else 'FAIL'}",
        flush=True,
    )

    apps = add_applications(engine)
    pairs = lookup_pairs(engine, payments, lookups, seed)
    service, raw, rows_seen = time_lookups(engine, pairs)
    engine.dispose()
    ms = 1000.0
    s50, s99, r50, r99 = (
        pct(service, 0.5) * ms,
        pct(service, 0.99) * ms,
        pct(raw, 0.5) * ms,
        pct(raw, 0.99) * ms,
    )
    print(
        f"lookups: {len(pairs):,} (person, year) pairs, {rows_seen:,} rows returned, {apps:,} applications"
    )
    print(
        f"lookup raw SQL:  p50 {r50:.3f} ms  p99 {r99:.3f} ms  (mean {statistics.fmean(raw) * ms:.3f} ms)"
    )
    print(
        f"lookup service:  p50 {s50:.3f} ms  p99 {s99:.3f} ms  (mean {statistics.fmean(service) * ms:.3f} ms)"
    )
    lookup_ratio = s99 / r99
    ok_lookup = lookup_ratio <= LOOKUP_TARGET
    print(
        f"service p99 / raw p99 = {lookup_ratio:.2f}  (target <= {LOOKUP_TARGET:.2f})  "
        f"{'PASS' if ok_lookup else 'FAIL'}",
        flush=True,
    )
    return {
        "label": label,
        "raw_rate": raw_rate,
        "import_rate": import_rate,
        "import_ratio": ratio,
        "raw_times": raw_times,
        "import_times": import_times,
        "raw_p50": r50,
        "raw_p99": r99,
        "service_p50": s50,
        "service_p99": s99,
        "lookup_ratio": lookup_ratio,
        "ok": ok_import and ok_lookup,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--persons", type=int, default=None, help="default: payments / 3")
    parser.add_argument("--lookups", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="raw and import loads alternate this many times; medians count",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory")
    parser.add_argument("--postgres-url", default=os.environ.get(PG_ENV))
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    persons = args.persons or max(10, args.payments // 3)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sirefund-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.platform()}, "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )
    try:
        t = time.perf_counter()
        counts = generate(persons, args.seed, workdir / "data", pension_payments=args.payments)
        print(
            f"generated {counts['pension-payments']:,} pension payments of {persons:,} persons "
            f"in {time.perf_counter() - t:.1f} s"
        )
        path = workdir / "data" / "pension-payments.csv"
        results = [
            bench_database(
                "sqlite",
                f"sqlite:///{workdir / 'bench.db'}",
                path,
                args.payments,
                args.lookups,
                args.seed,
                args.repeat,
            )
        ]
        if args.postgres_url:
            results.append(
                bench_database(
                    "postgresql",
                    args.postgres_url,
                    path,
                    args.payments,
                    args.lookups,
                    args.seed,
                    args.repeat,
                )
            )
        else:
            print(f"\n(PostgreSQL skipped: set {PG_ENV})")
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    ok = all(r["ok"] for r in results)
    print(f"\noverall: {'PASS' if ok else 'FAIL'}")
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
