"""Benchmark: the outbox hand-off with 1, 2 and 4 `sirefund worker` processes (issue 12,
part 3). PostgreSQL only: the workers share the outbox with FOR UPDATE SKIP LOCKED.

    SIREFUND_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/sirefund_bench \\
        .venv/bin/python bench/worker_scaling.py [--applications 600] [--workers 1,2,4] [--rounds 1]

`sirefund serve --workers 2` (the app, to receive the simulators' callbacks) and
`sirefund simulate-agencies` (HRSS and the bank) run throughout, as in production. For each
worker count M, in turn (interleaved over the rounds): the tables are emptied, M `sirefund
worker` processes start and the bench waits for their M heartbeats (a worker's start-up is not
timed); then `--applications` pension applications are approved in ONE transaction (each with
its HRSS message in the outbox, as an officer's approval writes it), and from its commit the
clock runs until every application is 退费成功 (refunded): HRSS booked it, its callback moved it to at_agency and put
the bank's payout message in the outbox, a worker sent that, and the bank's callback said paid.
Two messages per application; messages/s = 2 x applications / seconds. The ratio to M=1 is the
scaling. Also timed: until the workers had sent all the HRSS messages (the first hop, the
workers' own work; the second hop waits for the simulator's callbacks, one at a time, into the
app). An untimed round with one worker warms everything up first. Each worker is a separate process with its own connection pool, as in production.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from stdnum.cn import ric

from sirefund import migrate
from sirefund.db import Base, make_engine, make_session_factory
from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import Application, OutboxMessage, PensionPayment, Person
from sirefund.services import applications, dispatches
from sirefund.services.applications import Actor

BIN = Path(sys.executable).parent
PG_ENV = "SIREFUND_BENCH_POSTGRES_URL"
REGION = "420703"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, timeout: float = 90.0, path: str = "/healthz") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not answer in {timeout}s")


def resident_id(n: int) -> str:
    birth = (date(1940, 1, 1) + timedelta(days=n)).strftime("%Y%m%d")
    body = f"{REGION}{birth}{n % 900 + 100:03d}"
    return body + ric.calc_check_digit(body + "0")


def reset(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


def approve_many(engine: Engine, n: int) -> None:
    """n pending pension applications, approved with their HRSS message in the outbox (the
    services an officer's approval runs), all in one transaction."""
    factory = make_session_factory(engine)
    at = datetime.now(UTC)
    with factory() as session, session.begin():
        for i in range(n):
            person = Person(id_number=resident_id(i), name="邱世贵", region_code=REGION)
            session.add(person)
            session.flush()
            pay = PensionPayment(
                payment_id=f"PP{i:08d}",
                person_id=person.id,
                amount_fen=70_000 + i,
                period_start=date(2025, 1, 1),
                period_end=date(2025, 12, 31),
                payment_year=2025,
                payment_date=date(2025, 3, 1),
                channel="楚税通",
                arrival_status="not_arrived",
            )
            session.add(pay)
            session.flush()
            app = applications.create(
                session,
                application=Application(
                    kind="pension",
                    channel="web",
                    person_id=person.id,
                    region_code=REGION,
                    pension_payment_id=pay.payment_id,
                    amount_fen=pay.amount_fen,
                    payment_year=2025,
                    period_start=pay.period_start,
                    period_end=pay.period_end,
                    bank_account_type="bank_card",
                    bank_account_no=f"62284804{i:011d}",
                    bank_account_name=person.name,
                    bank_category="103",
                    contact_name=person.name,
                    contact_phone=f"138{i:08d}",
                ),
                actor=Actor.person(person.id),
                at=at,
            )
            applications.transition(
                session,
                application=app,
                target=S.APPROVED,
                actor=Actor.officer("OF0001"),
                at=at,
                reason="审核通过",
            )
            dispatches.enqueue_for_approval(session, application=app, at=at)


def refunded(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count())
                .select_from(Application)
                .where(Application.status == "refunded")
            )
            or 0
        )


def messages_done(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state == "done")
            )
            or 0
        )


def heartbeats(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM worker_heartbeats").scalar() or 0)


def hrss_done(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT count(*) FROM outbox_messages WHERE agency = 'hrss' AND state = 'done'"
            ).scalar()
            or 0
        )


def drain(
    engine: Engine, env: dict[str, str], workers: int, n: int, timeout: float
) -> tuple[float, float]:
    """(seconds until the workers had sent all n HRSS messages, seconds until all n refunds)."""
    procs = [
        subprocess.Popen(
            [str(BIN / "sirefund"), "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + 120
        while heartbeats(engine) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("the workers did not start")
            time.sleep(0.2)
        approve_many(engine, n)
        started = time.monotonic()
        first_hop = 0.0
        while refunded(engine) < n:
            if time.monotonic() - started > timeout:
                raise RuntimeError(f"{refunded(engine)} of {n} refunded after {timeout}s")
            if not first_hop and hrss_done(engine) >= n:
                first_hop = time.monotonic() - started
            time.sleep(0.05)
        return first_hop or time.monotonic() - started, time.monotonic() - started
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--applications", type=int, default=600)
    p.add_argument("--workers", default="1,2,4")
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--timeout", type=float, default=600.0)
    args = p.parse_args(argv)
    url = os.environ.get(PG_ENV)
    if not url:
        print(f"set {PG_ENV} (the workers share the outbox with SKIP LOCKED: PostgreSQL)")
        return 2
    counts = [int(x) for x in args.workers.split(",")]
    engine = make_engine(url)
    migrate.upgrade(engine)
    print(f"{platform.platform()}, Python {platform.python_version()}, cores: {os.cpu_count()}")
    print(f"load average at start: {os.getloadavg()}")
    port = free_port()
    with tempfile.TemporaryDirectory() as var:
        env = {
            **os.environ,
            "SIREFUND_DATABASE_URL": url,
            "SIREFUND_SECRET_KEY": "bench-secret-key-0123456789abcdef",
            "SIREFUND_CALLBACK_SECRET": "bench-callback-secret-0123456789",
            "SIREFUND_VAR_DIR": var,
            "SIREFUND_LOG_FORMAT": "text",
            "SIREFUND_RECONCILE_AT_HOUR": "-1",
            "SIREFUND_DISPATCH_POLL_SECONDS": "5",
        }
        sim_port = free_port()
        env["SIREFUND_AGENCY_URL"] = f"http://127.0.0.1:{sim_port}"
        env["SIREFUND_CALLBACK_URL"] = f"http://127.0.0.1:{port}/api/v1/callbacks"
        servers = [
            subprocess.Popen(
                [str(BIN / "sirefund"), *cmd],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for cmd in (
                ["serve", "--port", str(port), "--workers", "2"],
                ["simulate-agencies", "--port", str(sim_port)],
            )
        ]
        seconds: dict[int, list[float]] = {m: [] for m in counts}
        sending: dict[int, list[float]] = {m: [] for m in counts}
        try:
            wait_ready(port)
            wait_ready(sim_port, path="/_sim/script")
            # One untimed round first: the app's processes, the simulators and the
            # database's caches are cold at the start, which would count against M=1.
            reset(engine)
            drain(engine, env, 1, args.applications, args.timeout)
            for _ in range(args.rounds):
                for m in counts:
                    reset(engine)
                    sent, took = drain(engine, env, m, args.applications, args.timeout)
                    assert messages_done(engine) == 2 * args.applications
                    seconds[m].append(took)
                    sending[m].append(sent)
                    print(
                        f"  {m} worker(s): {args.applications} HRSS messages sent in {sent:.2f} s,"
                        f" {args.applications} refunds in {took:.2f} s, "
                        f"load {os.getloadavg()[0]:.1f}",
                        flush=True,
                    )
        finally:
            for server in servers:
                server.terminate()
                server.wait(timeout=30)
    base = 2 * args.applications / statistics.median(seconds[counts[0]])
    send_base = args.applications / statistics.median(sending[counts[0]])
    for m in dict.fromkeys(counts):
        rate = 2 * args.applications / statistics.median(seconds[m])
        send = args.applications / statistics.median(sending[m])
        print(
            f"{m} worker process(es): sending {send:7.1f} messages/s "
            f"(x{send / send_base:.2f}); end to end {rate:7.1f} messages/s "
            f"(x{rate / base:.2f}; {args.applications} refunds, 2 messages each); "
            f"medians of {len(seconds[m])}"
        )
    print(f"load average at end: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
