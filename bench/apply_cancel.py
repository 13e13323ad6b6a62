"""Apply + cancel on PostgreSQL (issue 12 part 2: "≥ 0.6× a minimal endpoint doing the same
inserts and updates with raw psycopg, 0 errors at 32 connections").

A fresh schema on ``--postgres-url`` gets ``--persons`` persons (own bank account and phone
each, so no 风险提示 ties them) in ``--regions`` counties, each with one pension payment not
yet arrived and a server session (its bearer token), and ``--existing`` earlier (rejected)
applications with their own accounts and phones, the table a submission's checks read.
Then ``sirefund serve`` and the minimal app (bench/apply_cancel_minimal.py: on raw psycopg,
the same writes as sirefund's apply — the county's 文书号 counter, the application and its
event, the notice, the audit row chained under the tip — and cancel — the UPDATE to cancelled,
its event and audit row) run in turn, ``--rounds`` times (interleaved, so a slow minute of the
shared machine falls on both), each under the same load: ``--connections`` keep-alive
connections, each a loop of one person's 申请退费 (POST /api/v1/pension/refunds) then 撤销
(POST /api/v1/pension/refunds/{id}/cancel) of the same payment, for ``--duration`` seconds.
The load generator is a small asyncio HTTP/1.1 client (each apply's id is needed by the
following cancel, which wrk's scripts cannot pair on one connection). ``--earlier-src``
adds another checkout's sirefund (before a change) to the same rounds; ``--lean`` the floor
used before 2026-11-30, which wrote only the application and event rows.

Printed per server: requests/s (applies and cancels both count), p50 / p99 in ms, errors
(non-2xx and connection failures), the server process's CPU (share of one core, and ms per
request), the ratio sirefund / minimal, and the load average. With ``--profile-locks`` the
share of time sirefund's writers spend waiting on a lock (sampled from ``pg_stat_activity``:
the audit chain tip, the statistics summary rows, others).

    .venv/bin/python bench/apply_cancel.py --postgres-url postgresql+psycopg://…/db
        [--persons 64] [--regions 1] [--existing 100000] [--connections 32] [--duration 10]
        [--rounds 2] [--profile-locks] [--earlier-src /path/to/other/checkout/src] [--lean]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
from sqlalchemy import Engine
from stdnum.cn import ric

import reads  # bench/reads.py: free_port, start, fresh
from sirefund.config import Settings
from sirefund.db import make_session_factory
from sirefund.domain.regions import COUNTIES
from sirefund.models import PensionPayment, Person
from sirefund.services import accounts

SECRET = reads.SECRET
BIN = Path(sys.executable).parent


@dataclass(frozen=True, slots=True)
class Payer:
    person_id: int
    payment_id: str
    account: str
    phone: str
    token: str


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)


def prepare(url: str, persons: int, regions: int, existing: int) -> list[Payer]:
    engine = reads.fresh(url)
    settings = Settings(database_url=url, secret_key=SECRET)
    at = datetime.now(UTC)
    payers: list[Payer] = []
    with make_session_factory(engine)() as session, session.begin():
        counties = sorted(COUNTIES)[:regions]
        for n in range(persons):
            region = counties[n % len(counties)]
            body = f"{region}195803{n % 28 + 1:02d}{n % 1000:03d}"
            person = Person(
                id_number=body + ric.calc_check_digit(body + "0"),
                name="邱世贵",
                region_code=region,
            )
            session.add(person)
            session.flush()
            pay = PensionPayment(
                payment_id=f"PA{n:08d}",
                person_id=person.id,
                amount_fen=70000,
                period_start=date(2025, 1, 1),
                period_end=date(2025, 12, 31),
                payment_year=2025,
                payment_date=date(2025, 3, 1),
                channel="楚税通",
                arrival_status="not_arrived",
            )
            session.add(pay)
            token, _ = accounts.create_session(
                session, kind="person", account_id=person.id, at=at, settings=settings
            )
            payers.append(
                Payer(person.id, pay.payment_id, _luhn(f"6228480{n:011d}"), f"138{n:08d}", token)
            )
    if existing:
        _earlier_applications(engine, existing)
    reads.analyze(engine)
    engine.dispose()
    return payers


def _earlier_applications(engine: Engine, count: int) -> None:
    """``count`` decided (rejected) applications of last year, each with its own account and
    contact phone, of ``count / 5`` other payers: the table a peak day's submissions look
    up."""
    with engine.begin() as conn:
        # Their own payers (five applications each), not the measured ones: a payer's
        # earlier applications are what the 风险提示 rules read on each submission.
        first = conn.exec_driver_sql("SELECT coalesce(max(id), 0) + 1 FROM persons").scalar()
        persons = max(1, count // 5)
        conn.exec_driver_sql(
            "INSERT INTO persons (id_number, name, region_code) "
            "SELECT 'EX' || lpad(g::text, 16, '0'), '王桂英', '420102' "
            "FROM generate_series(1, %(n)s) g",
            {"n": persons},
        )
        who = f"JOIN persons p ON p.id = {int(first)} + g %% %(persons)s"
        conn.exec_driver_sql(
            "INSERT INTO pension_payments (payment_id, person_id, amount_fen, period_start, "
            "period_end, payment_year, payment_date, channel, arrival_status) "
            "SELECT 'EX' || g, p.id, 70000, date '2024-01-01', date '2024-12-31', 2024, "
            "date '2024-03-01', '楚税通', 'not_arrived' "
            f"FROM generate_series(1, %(n)s) g {who}",
            {"n": count, "persons": persons},
        )
        conn.exec_driver_sql(
            "INSERT INTO applications (kind, document_no, status, channel, created_at, "
            "updated_at, version, person_id, region_code, pension_payment_id, amount_fen, "
            "payment_year, period_start, period_end, bank_account_type, bank_account_no, "
            "bank_category, contact_name, contact_phone) "
            "SELECT 'pension', 'EX' || g, 'rejected', 'web', "
            "timestamptz '2025-06-01 00:00+00' + g * interval '1 second', "
            "timestamptz '2025-06-01 00:00+00', 1, p.id, p.region_code, 'EX' || g, 70000, "
            "2024, date '2024-01-01', date '2024-12-31', 'bank_card', "
            "'62' || lpad(g::text, 17, '0'), '103', p.name, '13' || lpad(g::text, 9, '0') "
            f"FROM generate_series(1, %(n)s) g {who}",
            {"n": count, "persons": persons},
        )


def _luhn(digits: str) -> str:
    """``digits`` with its Luhn check digit (bank card numbers carry one)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return digits + str((10 - total % 10) % 10)


# --------------------------------------------------------------------------- the client


async def _call(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    token: str | None = None,
) -> tuple[int, bytes]:
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    if body:
        head.append("Content-Type: application/json")
    if token:
        head.append(f"Authorization: Bearer {token}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
    status_line = await reader.readline()
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
    return int(status_line.split()[1]), await reader.readexactly(length)


class Target:
    """How one server is asked to apply and cancel."""

    def __init__(self, sirefund: bool) -> None:
        self.sirefund = sirefund

    async def apply(self, r: asyncio.StreamReader, w: asyncio.StreamWriter, p: Payer) -> int:
        if self.sirefund:
            body = {
                "payment_ids": [p.payment_id],
                "bank_account_type": "bank_card",
                "bank_account_no": p.account,
                "bank_account_name": "邱世贵",
                "bank_category": "103",
                "contact_name": "邱世贵",
                "contact_phone": p.phone,
                "channel": "web",
            }
            status, answer = await _call(
                r,
                w,
                "POST",
                "/api/v1/pension/refunds",
                body=json.dumps(body).encode(),
                token=p.token,
            )
            if status != 201:
                raise _Failed(f"apply {status}: {answer[:120]!r}")
            return int(json.loads(answer)["applications"][0]["id"])
        query = (
            f"person_id={p.person_id}&payment_id={p.payment_id}&account={p.account}&phone={p.phone}"
        )
        status, answer = await _call(r, w, "POST", f"/apply?{query}")
        if status != 200:
            raise _Failed(f"apply {status}: {answer[:120]!r}")
        return int(json.loads(answer)["id"])

    async def cancel(
        self, r: asyncio.StreamReader, w: asyncio.StreamWriter, p: Payer, app_id: int
    ) -> None:
        if self.sirefund:
            path, token = f"/api/v1/pension/refunds/{app_id}/cancel", p.token
        else:
            path, token = f"/cancel/{app_id}?person_id={p.person_id}", None
        status, answer = await _call(r, w, "POST", path, token=token)
        if status != 200:
            raise _Failed(f"cancel {status}: {answer[:120]!r}")


class _Failed(Exception):
    pass


async def _loop(port: int, target: Target, payer: Payer, until: float, tally: Tally) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            try:
                app_id = await target.apply(reader, writer, payer)
                t1 = time.perf_counter()
                tally.latencies.append(t1 - t0)
                await target.cancel(reader, writer, payer, app_id)
                tally.latencies.append(time.perf_counter() - t1)
            except _Failed as exc:
                tally.errors[str(exc)[:60]] += 1
            except (OSError, asyncio.IncompleteReadError) as exc:
                tally.errors[type(exc).__name__] += 1
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
    finally:
        writer.close()


def load(port: int, target: Target, payers: list[Payer], args: argparse.Namespace) -> dict:
    tally = Tally()

    async def run() -> float:
        started = time.perf_counter()
        until = started + args.duration
        await asyncio.gather(
            *(
                _loop(port, target, payers[i % len(payers)], until, tally)
                for i in range(args.connections)
            )
        )
        return time.perf_counter() - started

    seconds = asyncio.run(run())
    lat = sorted(tally.latencies)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [0.0] * 99
    return {
        "rps": len(lat) / seconds,
        "p50": q[49] * 1000,
        "p99": q[98] * 1000,
        "errors": sum(tally.errors.values()),
        "kinds": dict(tally.errors.most_common(3)),
    }


# --------------------------------------------------------------------------- locks


class LockSampler:
    """Samples pg_stat_activity every 20 ms while sirefund runs: of the server's backends that
    are active (running a statement), how many wait on a lock, and which (by the waiting
    statement: :func:`_waiting_on`)."""

    def __init__(self, url: str) -> None:
        self.url = url.replace("postgresql+psycopg://", "postgresql://")
        self.counts: Counter[str] = Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> LockSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        sql = (
            "SELECT wait_event_type, query FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND state = 'active'"
        )
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop.wait(0.02):
                self.samples += 1
                for kind, query in conn.execute(sql).fetchall():
                    self.counts["active"] += 1
                    if kind == "Lock":
                        self.counts[f"lock:{_waiting_on(query)}"] += 1

    def report(self) -> str:
        active = max(self.counts["active"], 1)
        parts = [
            f"{k.removeprefix('lock:')} {v / active:.0%}"
            for k, v in self.counts.items()
            if k.startswith("lock:")
        ]
        return f"of active backends' samples ({active}), waiting on a lock: " + (
            ", ".join(parts) or "none"
        )


def _waiting_on(query: str) -> str:
    """Which lock a waiting statement waits on, from its text: the audit chain tip is locked
    by its SELECT … FOR UPDATE, the summary rows by the triggers of an application's INSERT
    or UPDATE."""
    text = " ".join(query.split())
    if "audit_chain_head" in text:
        return "audit chain tip"
    if text.startswith(("INSERT INTO applications", "UPDATE applications")):
        return "statistics summary (trigger)"
    return text[:50]


# --------------------------------------------------------------------------- main


def sirefund_server(url: str, port: int) -> subprocess.Popen[bytes]:
    return reads.sirefund_server(url, port)


def earlier_sirefund_server(src: str) -> Callable[[str, int], subprocess.Popen[bytes]]:
    """``sirefund serve`` from another checkout's ``src`` (PYTHONPATH), e.g. the commit before
    a change, measured in the same rounds as this one."""

    def launch(url: str, port: int) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "PYTHONPATH": src,
            "SIREFUND_DATABASE_URL": url,
            "SIREFUND_SECRET_KEY": SECRET,
        }
        return reads.start([str(BIN / "sirefund"), "serve", "--port", str(port)], env, port)

    return launch


def minimal_server(url: str, port: int, *, lean: bool = False) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BENCH_DATABASE_URL": url, "BENCH_MINIMAL_LEAN": "1" if lean else ""}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "apply_cancel_minimal:app",
        "--app-dir",
        "bench",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return reads.start(cmd, env, port)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU the server process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres-url", default=os.environ.get(reads.PG_ENV))
    parser.add_argument("--persons", type=int, default=64)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--regions",
        type=int,
        default=1,
        help="counties the persons live in (1: every submission takes the same 文书号 counter)",
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--existing", type=int, default=100_000)
    parser.add_argument("--profile-locks", action="store_true")
    parser.add_argument(
        "--earlier-src",
        help="also run sirefund from this src directory (another checkout), as 'earlier'",
    )
    parser.add_argument(
        "--lean",
        action="store_true",
        help="also run the earlier, leaner floor (application and event rows only)",
    )
    args = parser.parse_args(argv)
    if not args.postgres_url:
        print("--postgres-url (or SIREFUND_BENCH_POSTGRES_URL) is needed")
        return 2
    payers = prepare(args.postgres_url, args.persons, args.regions, args.existing)
    print(
        f"== PostgreSQL: {len(payers)} persons in {args.regions} counties, "
        f"{args.existing:,} earlier applications, {args.connections} connections"
    )
    servers = [("sirefund", sirefund_server), ("minimal", minimal_server)]
    if args.earlier_src:
        servers.insert(1, ("earlier", earlier_sirefund_server(args.earlier_src)))
    if args.lean:
        servers.append(("lean", lambda url, port: minimal_server(url, port, lean=True)))
    runs: dict[str, list[dict]] = {name: [] for name, _ in servers}
    for _ in range(args.rounds):
        for name, launch in servers:
            port = reads.free_port()
            proc = launch(args.postgres_url, port)
            cpu0 = _cpu_seconds(proc.pid)
            try:
                if name == "sirefund" and args.profile_locks:
                    with LockSampler(args.postgres_url) as sampler:
                        runs[name].append(load(port, Target(True), payers, args))
                    print("   locks:", sampler.report())
                else:
                    target = Target(name in ("sirefund", "earlier"))
                    runs[name].append(load(port, target, payers, args))
                cpu = _cpu_seconds(proc.pid) - cpu0
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            r = runs[name][-1]
            served = max(r["rps"] * args.duration, 1)
            print(
                f"   {name:<8} {r['rps']:7.0f} req/s  p50 {r['p50']:6.1f} ms  "
                f"p99 {r['p99']:6.1f} ms  errors {r['errors']} {r['kinds'] or ''}  "
                f"server CPU {cpu / args.duration:.0%} ({1000 * cpu / served:.2f} ms/req)  "
                f"load {os.getloadavg()[0]:.1f}"
            )
    app = max(runs["sirefund"], key=lambda r: r["rps"])
    floor = max(runs["minimal"], key=lambda r: r["rps"])
    if args.earlier_src:
        before = max(runs["earlier"], key=lambda r: r["rps"])
        print(
            f"-- earlier sirefund: {before['rps']:.0f} req/s p99 {before['p99']:.0f} ms, "
            f"ratio {before['rps'] / max(floor['rps'], 1e-9):.2f}x"
        )
    if args.lean:
        lean = max(runs["lean"], key=lambda r: r["rps"])
        print(
            f"-- the earlier lean floor: {lean['rps']:.0f} req/s, "
            f"ratio {app['rps'] / max(lean['rps'], 1e-9):.2f}x"
        )
    print(
        f"-- best of {args.rounds}: sirefund {app['rps']:.0f} req/s p99 {app['p99']:.0f} ms | "
        f"minimal {floor['rps']:.0f} req/s p99 {floor['p99']:.0f} ms | "
        f"ratio {app['rps'] / max(floor['rps'], 1e-9):.2f}x (target ≥ 0.6x), "
        f"errors {sum(r['errors'] for r in runs['sirefund'])}/"
        f"{sum(r['errors'] for r in runs['minimal'])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
