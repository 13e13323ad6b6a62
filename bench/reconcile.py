"""Benchmark: the three-way reconciliation of one day (services.reconciliation.reconcile)
against the same comparison as plain SQL joins of the same tables, in process, on SQLite.

    .venv/bin/python bench/reconcile.py [--refunds 1000000] [--workdir DIR]

Set-up (not measured): a freshly migrated SQLite schema holding `--refunds` refunded pension
applications, each with its two outbox messages (HRSS, bank) and one `ok` attempt each on
the day, loaded with executemany (foreign keys and the money trigger off: the load is not
what is measured); and the two statements as the adapters would return them (StatementRow
lists: one line per request, HRSS and bank), with a few differences planted: 0.01 % of the
bank lines with another amount, 0.01 % of the HRSS requests missing. Medical security's
statement is empty.

Measured, each `--repeat` times, alternating, medians count:

* **reconcile** -- `reconcile(session, day=..., statements=...)` on an ORM session, and the
  commit: our side read per agency (messages first reaching the agency that day, with the
  application's amount and account), compared line by line in Python, the run, its totals
  and every discrepancy stored.
* **SQL join** (the baseline) -- the same statement lines written into a temporary table of
  the same database (executemany) and indexed, then one SQL statement joining it with
  outbox_messages, applications and dispatch_attempts that counts the same differences.

Printed: rows/s of each (statement lines / second), the ratio reconcile time / SQL time, and
whether both found the same number of discrepancies. No target is asserted.
"""

from __future__ import annotations

import argparse
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sirefund import migrate
from sirefund.db import make_engine, make_session_factory
from sirefund.domain.agencies import Agency
from sirefund.domain.reconciliation import StatementRow
from sirefund.services import reconciliation

DAY = date(2026, 11, 28)
# Attempts spread over the China-time day 2026-11-28 (UTC 11-27 16:00 .. 11-28 16:00).
FIRST_ATTEMPT = datetime(2026, 11, 27, 16, 0, 1, tzinfo=UTC)
BATCH = 20_000
PLANTED_EVERY = 10_000
SQL_ATTEMPT_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

BASELINE_SQL = """
SELECT kind, COUNT(*) FROM (
  SELECT CASE
      WHEN s.application_id IS NULL THEN 'missing_at_agency'
      WHEN s.amount_fen <> a.amount_fen THEN 'amount_differs'
      WHEN m.agency = 'bank' AND s.account_no IS NOT a.bank_account_no THEN 'account_differs'
      ELSE 'ok' END AS kind
  FROM outbox_messages m
  JOIN applications a ON a.id = m.application_id
  JOIN dispatch_attempts t ON t.message_id = m.id
  LEFT JOIN statement_lines s ON s.agency = m.agency AND s.application_id = m.application_id
  WHERE t.outcome IN ('ok', 'unknown') AND t.at >= :start AND t.at < :end
  UNION ALL
  SELECT 'unknown_to_us' FROM statement_lines s
  WHERE NOT EXISTS (SELECT 1 FROM outbox_messages m
                    WHERE m.agency = s.agency AND m.application_id = s.application_id)
) GROUP BY kind
"""


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).strftime(SQL_ATTEMPT_FORMAT)


def build(path: Path, refunds: int) -> None:
    """The schema and the day's rows (not measured)."""
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("DROP TRIGGER IF EXISTS applications_refund_within_payment_insert")
    now = _ts(FIRST_ATTEMPT)
    for lo in range(1, refunds + 1, BATCH):
        ids = range(lo, min(lo + BATCH, refunds + 1))
        conn.executemany(
            "INSERT INTO applications (id, kind, status, channel, person_id, region_code, "
            "pension_payment_id, amount_fen, payment_year, period_start, period_end, "
            "bank_account_no, created_at, updated_at, version, document_no) VALUES "
            "(?, 'pension', 'refunded', 'web', 1, '420703', ?, ?, 2026, '2026-01-01', "
            "'2026-12-31', ?, ?, ?, 3, ?)",
            [
                (i, f"P{i:09d}", 30000 + i % 5000, f"62284804{i:011d}", now, now, f"bench-{i}")
                for i in ids
            ],
        )
        for offset, agency, operation in (
            (0, "hrss", "refund_request"),
            (1, "bank", "payout_request"),
        ):
            conn.executemany(
                "INSERT INTO outbox_messages (id, application_id, agency, operation, request_id, "
                "payload, state, attempts, next_attempt_at, created_at, updated_at) VALUES "
                "(?, ?, ?, ?, ?, '{}', 'done', 1, ?, ?, ?)",
                [
                    (2 * i - 1 + offset, i, agency, operation, f"{agency}-{i}", now, now, now)
                    for i in ids
                ],
            )
            conn.executemany(
                "INSERT INTO dispatch_attempts (message_id, at, worker, outcome) "
                "VALUES (?, ?, 'w1', 'ok')",
                [
                    (
                        2 * i - 1 + offset,
                        _ts(FIRST_ATTEMPT + timedelta(milliseconds=i * 80 % 86_000_000)),
                    )
                    for i in ids
                ],
            )
        conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()


def statements(refunds: int) -> dict[Agency, list[StatementRow]]:
    """What the agencies' statements hold, with the planted differences."""
    booked = FIRST_ATTEMPT + timedelta(minutes=1)
    hrss = [
        StatementRow(f"hrss-{i}", i, "某人", None, 30000 + i % 5000, "accepted", booked)
        for i in range(1, refunds + 1)
        if i % PLANTED_EVERY != 1
    ]
    bank = [
        StatementRow(
            f"bank-{i}",
            i,
            "某人",
            f"62284804{i:011d}",
            30000 + i % 5000 + (1 if i % PLANTED_EVERY == 2 else 0),
            "paid",
            booked,
        )
        for i in range(1, refunds + 1)
    ]
    return {Agency.HRSS: hrss, Agency.MEDICAL_SECURITY: [], Agency.BANK: bank}


def run_service(path: Path, lines: dict[Agency, list[StatementRow]]) -> tuple[float, int]:
    engine = make_engine(f"sqlite:///{path}")
    factory = make_session_factory(engine)
    started = time.perf_counter()
    with factory() as session, session.begin():
        view = reconciliation.reconcile(
            session, day=DAY, statements=lines, at=datetime.now(UTC), ran_by="bench"
        )
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, len(view.discrepancies)


def run_sql(path: Path, lines: dict[Agency, list[StatementRow]]) -> tuple[float, int]:
    start, end = reconciliation.day_bounds(DAY)
    conn = sqlite3.connect(path)
    started = time.perf_counter()
    conn.execute(
        "CREATE TEMP TABLE statement_lines (agency TEXT, application_id INTEGER, "
        "amount_fen INTEGER, account_no TEXT)"
    )
    for agency, rows in lines.items():
        conn.executemany(
            "INSERT INTO statement_lines VALUES (?, ?, ?, ?)",
            [(agency.value, r.application_id, r.amount_fen, r.account_no) for r in rows],
        )
    conn.execute("CREATE INDEX temp.ix_statement_lines ON statement_lines (agency, application_id)")
    counts = dict(conn.execute(BASELINE_SQL, {"start": _ts(start), "end": _ts(end)}).fetchall())
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, sum(n for kind, n in counts.items() if kind != "ok")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--refunds", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database a previous run built in --workdir (same --refunds)",
    )
    args = p.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sirefund-bench-recon-"))
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "reconcile.sqlite"
    reuse = args.reuse and path.exists()
    if not reuse:
        path.unlink(missing_ok=True)
    print(
        f"python {platform.python_version()}  sqlite {sqlite3.sqlite_version}  refunds {args.refunds:,}"
    )
    t0 = time.perf_counter()
    if not reuse:
        build(path, args.refunds)
    lines = statements(args.refunds)
    n_lines = sum(len(rows) for rows in lines.values())
    built = "reused" if reuse else "built"
    print(f"set-up ({built}): {time.perf_counter() - t0:.1f} s, {n_lines:,} statement lines")
    service_times, sql_times = [], []
    found_service = found_sql = -1
    for _ in range(args.repeat):
        elapsed, found_service = run_service(path, lines)
        service_times.append(elapsed)
        elapsed, found_sql = run_sql(path, lines)
        sql_times.append(elapsed)
    service, sql = statistics.median(service_times), statistics.median(sql_times)
    runs = ", ".join(f"{t:.1f}" for t in service_times)
    print(f"reconcile (service): {n_lines / service:>12,.0f} rows/s  (runs {runs} s)")
    runs = ", ".join(f"{t:.1f}" for t in sql_times)
    print(f"SQL join (baseline): {n_lines / sql:>12,.0f} rows/s  (runs {runs} s)")
    print(f"reconcile time / SQL join time = {service / sql:.2f}")
    same = "same" if found_service == found_sql else "DIFFERENT"
    print(f"discrepancies found: service {found_service}, SQL {found_sql} ({same})")
    return 0 if found_service == found_sql else 1


if __name__ == "__main__":
    sys.exit(main())
