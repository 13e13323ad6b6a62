"""Audit chain verification benchmark: how fast `sirefund audit verify` walks the log.

A freshly migrated database gets `--rows` correctly chained audit rows (hashed in Python,
bulk-inserted, as tests/integration/test_audit.py does). Then, alternating, `--repeat` times:

* **scan** (baseline 1) — the same SELECT of every column of every row, in id order, streamed
  in batches of 5,000, doing nothing with the rows;
* **scan + sha256** (baseline 2) — the same scan, each row's fields joined and hashed with
  hashlib.sha256 (what "just hash the rows" would cost, without a canonical form or a chain);
* **verify** — `services.audit.verify` (canonical JSON of each row, SHA-256, link to the
  previous row, checkpoints and the chain head), as the CLI runs it, without adding a
  checkpoint.

Medians are printed as rows/s with the ratios verify / scan and verify / (scan + sha256),
and the verdict on the issue's target: 100,000 rows verified in at most 5 seconds.

    .venv/bin/python bench/audit_verify.py --rows 100000 [--postgres-url postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, insert, select

from harness import (
    add_database_arguments,
    alternate,
    fresh_engine,
    medians,
    on_each_database,
)
from sirefund.db import make_session_factory
from sirefund.domain.audit import GENESIS_HASH, AuditAction, canonical_details, row_digest
from sirefund.models import AuditChainHead, AuditRecord
from sirefund.services import audit

TARGET_ROWS = 100_000
TARGET_SECONDS = 5.0
BATCH = 5000


def fill(engine: Engine, rows: int) -> None:
    """`rows` chained rows of varied content, inserted 20,000 per statement batch."""
    prev = GENESIS_HASH
    start = datetime(2026, 1, 1, tzinfo=UTC)
    actions = list(AuditAction)
    batch: list[dict[str, object]] = []
    with engine.begin() as conn:
        for i in range(1, rows + 1):
            row: dict[str, object] = {
                "at": start + timedelta(seconds=i, microseconds=i % 997),
                "actor_kind": "officer" if i % 3 else "person",
                "actor_id": f"OF{i % 50:04d}" if i % 3 else str(i % 9000),
                "action": actions[i % len(actions)].value,
                "application_id": i // 3 or None,
                "person_id": i % 9000,
                "unit_id": None,
                "officer_id": None,
                "address": f"10.0.{i % 250}.{i % 200}",
                "details": canonical_details(
                    {"from": "pending_review", "to": "approved", "reason": "同意退费", "n": i}
                ),
                "prev_hash": prev,
            }
            prev = row_digest(**row)
            batch.append({**row, "id": i, "row_hash": prev})
            if len(batch) == 20_000:
                conn.execute(insert(AuditRecord), batch)
                batch = []
        if batch:
            conn.execute(insert(AuditRecord), batch)
        conn.execute(insert(AuditChainHead), [{"id": 1, "last_id": rows, "last_hash": prev}])


def _scan(engine: Engine, work: Callable[[tuple[object, ...]], object]) -> int:
    t = AuditRecord
    columns = [c for c in t.__table__.columns]
    count = 0
    with make_session_factory(engine)() as session, session.begin():
        result = session.execute(select(*columns).order_by(t.id).execution_options(yield_per=BATCH))
        for part in result.partitions():
            for row in part:
                work(tuple(row))
                count += 1
    return count


def scan(engine: Engine) -> int:
    return _scan(engine, lambda row: None)


def scan_sha256(engine: Engine) -> int:
    return _scan(engine, lambda row: hashlib.sha256("|".join(map(str, row)).encode()).digest())


def verify(engine: Engine) -> int:
    with make_session_factory(engine)() as session, session.begin():
        walk = audit.verify(session, at=datetime.now(UTC), anchor=False, batch_size=BATCH)
    if walk.broken is not None:
        raise SystemExit(f"the benchmark's chain is broken: {walk.broken}")
    return walk.rows


def bench_database(label: str, url: str, rows: int, repeat: int) -> bool:
    engine = fresh_engine(url)
    started = time.perf_counter()
    fill(engine, rows)
    print(f"== {label}: {rows:,} chained rows written in {time.perf_counter() - started:.1f} s")
    fns = {"scan": scan, "scan + sha256": scan_sha256, "verify": verify}
    runs = alternate(
        {name: functools.partial(fn, engine) for name, fn in fns.items()},
        repeat=repeat,
        expect=rows,
    )
    engine.dispose()
    median = medians(runs)
    for name, seconds in median.items():
        shown = ", ".join(f"{s:.2f}" for s in runs[name])
        print(f"{name + ':':<16}{rows / seconds:>12,.0f} rows/s  ({shown} s)")
    print(f"verify / scan = {median['scan'] / median['verify']:.2f}")
    print(f"verify / (scan + sha256) = {median['scan + sha256'] / median['verify']:.2f}")
    per_target = median["verify"] * TARGET_ROWS / rows
    ok = per_target <= TARGET_SECONDS
    print(
        f"verify of {TARGET_ROWS:,} rows = {per_target:.2f} s  "
        f"(target <= {TARGET_SECONDS:.1f} s)  {'PASS' if ok else 'FAIL'}"
    )
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=TARGET_ROWS)
    add_database_arguments(parser)
    args = parser.parse_args(argv)
    return on_each_database(
        args,
        "audit-bench.db",
        lambda label, url: bench_database(label, url, args.rows, args.repeat),
    )


if __name__ == "__main__":
    sys.exit(main())
