"""Peak-season load scenario (issue 12, part 6), with locust (`make bench-install`).

    .venv/bin/python bench/peak_season.py --postgres-url postgresql+psycopg://…/sirefund_peak \\
        [--persons 20000] [--payments 60000] [--users 40] [--officers 2] [--seconds 120] \\
        [--app-processes 2] [--workers 2]

1. The database (PostgreSQL, emptied) is migrated and filled by `sirefund generate --load`
   (or, with `--reuse`, kept as a previous `generate --load` left it, e.g. at 10M payments);
   `--users` payers (persons with a refundable pension payment) get a password, each their own
   card and phone; `--officers` province reviewers get a password and a TOTP secret.
2. `sirefund simulate-agencies`, `sirefund serve --workers N` and M `sirefund worker` start,
   as in production (docs/production.md).
3. locust runs bench/peak_season_locustfile.py headless for `--seconds`: payers log in, look
   up pension and medical payments, apply, follow their applications, cancel some, log out
   and in; officers approve the queue; the workers hand the approved ones to HRSS and the
   bank (simulators) all along.
4. After the load: the workers drain what is left (every approved application reaches
   退费成功 or a final state), then `sirefund reconcile --date <today>` compares our totals with
   the simulators' statements to the fen (exit 0: clean), and the money totals are printed.

Prints locust's figures per request kind (requests, failures, req/s, p50, p99), the expected
409s of races, the drain, the reconciliation and the load average.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pyotp
from sqlalchemy import Engine, text
from stdnum import luhn

from sirefund import generate_load, migrate
from sirefund.clock import CHINA_TZ
from sirefund.db import make_engine, make_session_factory
from sirefund.generate import generate
from sirefund.services import officers, passwords

BIN = Path(sys.executable).parent
PASSWORD = "Peak-Season-2026!"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, path: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status == 200:  # noqa: PLR2004
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"port {port} did not answer {path} in {timeout}s")


def card(i: int) -> str:
    body = f"622848{i:012d}"
    return body + luhn.calc_check_digit(body)


def fill(engine: Engine, args: argparse.Namespace, out: Path) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    migrate.upgrade(engine)
    started = time.perf_counter()
    generate(args.persons, 2026, out / "data", pension_payments=args.payments)
    loaded = generate_load.load(engine, out / "data")
    print(
        f"data: {', '.join(f'{t} {n:,}' for t, (n, _s) in loaded.items())} "
        f"in {time.perf_counter() - started:.0f} s"
    )


def prepare(engine: Engine, args: argparse.Namespace, out: Path) -> dict[str, object]:
    if args.reuse:  # a database `sirefund generate --load` filled before (e.g. 10M payments)
        with engine.connect() as conn:
            n = conn.exec_driver_sql("SELECT count(*) FROM pension_payments").scalar()
        print(f"data: reused, {n:,} pension payments")
    else:
        fill(engine, args, out)
    hashed = passwords.hash_password(PASSWORD)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        rows = conn.execute(
            text(
                "SELECT p.id, p.id_number, p.name FROM persons p WHERE EXISTS (SELECT 1 FROM"
                " pension_payments x WHERE x.person_id = p.id AND x.arrival_status <> 'arrived')"
                " ORDER BY p.id LIMIT :n"
            ),
            {"n": args.users},
        ).all()
        payers = [
            {
                "id_number": r.id_number,
                "name": r.name,
                "card": card(r.id),
                "phone": f"139{r.id:08d}",
            }
            for r in rows
        ]
        conn.execute(
            text(
                "UPDATE persons SET password_hash = :h, registered_at = :t, verified_at = :t,"
                " phone = '139' || lpad(id::text, 8, '0') WHERE id = ANY(:ids)"
            ),
            {"h": hashed, "t": now, "ids": [r.id for r in rows]},
        )
    staff = []
    run = int(time.time()) % 100_000  # officer codes of this run (a reused database has others)
    with make_session_factory(engine)() as session, session.begin():
        for n in range(args.officers):
            secret = pyotp.random_base32()
            officers.add_officer(
                session,
                code=f"PEAK{run:05d}{n:02d}",
                name=f"审核{n}",
                region_code="420000",
                roles={"reviewer"},
                password=PASSWORD,
                at=now,
                totp_secret=secret,
                actor="bench",
            )
            staff.append({"code": f"PEAK{run:05d}{n:02d}", "secret": secret})
    return {"password": PASSWORD, "payers": payers, "officers": staff}


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT status, count(*) FROM applications GROUP BY 1")).all()
        return {str(status): int(n) for status, n in rows}


def drain(engine: Engine, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        left = counts(engine)
        if not left.get("approved") and not left.get("at_agency"):
            break
        time.sleep(1)
    return time.monotonic() - started


def report_locust(prefix: Path) -> None:
    with (prefix.parent / f"{prefix.name}_stats.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    print(
        "\n| request | requests | failures | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|"
    )
    for r in rows:
        label = "**all**" if r["Name"] == "Aggregated" else f"{r['Type']} {r['Name']}"
        print(
            f"| {label} | {r['Request Count']} | {r['Failure Count']} |"
            f" {float(r['Requests/s']):.1f} | {r['50%']} | {r['99%']} |"
        )
    failures = prefix.parent / f"{prefix.name}_failures.csv"
    text_ = failures.read_text(encoding="utf-8").strip().splitlines()
    if len(text_) > 1:
        print("\nfailures:\n" + "\n".join(text_[:20]))


def money(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, count(*), sum(amount_fen) FROM applications GROUP BY 1 ORDER BY 1")
        ).all()
    print("\n| status | applications | amount (yuan) |\n|---|---|---|")
    for status, n, fen in rows:
        print(f"| {status} | {n} | {fen / 100:,.2f} |")


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as fh:
        return subprocess.Popen([str(BIN / "sirefund"), *cmd], env=env, stdout=fh, stderr=fh)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--postgres-url", default=os.environ.get("SIREFUND_BENCH_POSTGRES_URL"))
    p.add_argument("--persons", type=int, default=20_000)
    p.add_argument("--payments", type=int, default=60_000)
    p.add_argument("--users", type=int, default=40)
    p.add_argument("--officers", type=int, default=2)
    p.add_argument("--seconds", type=int, default=120)
    p.add_argument("--app-processes", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", type=Path, default=None, help="keep logs and locust CSVs here")
    p.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database's data (filled by sirefund generate --load) instead of refilling",
    )
    args = p.parse_args(argv)
    if not args.postgres_url:
        print("give --postgres-url (serve --workers N needs PostgreSQL)")
        return 2
    print(f"{platform.platform()}, Python {platform.python_version()}, cores: {os.cpu_count()}")
    print(f"load average at start: {os.getloadavg()}")
    out = args.out or Path(tempfile.mkdtemp(prefix="peak-season-"))
    out.mkdir(parents=True, exist_ok=True)
    engine = make_engine(args.postgres_url)
    users = prepare(engine, args, out)
    (out / "users.json").write_text(json.dumps(users), encoding="utf-8")
    app_port, sim_port = free_port(), free_port()
    env = {
        **os.environ,
        "SIREFUND_DATABASE_URL": args.postgres_url,
        "SIREFUND_SECRET_KEY": "peak-season-secret-0123456789abcdef",
        "SIREFUND_CALLBACK_SECRET": "peak-season-callback-0123456789ab",
        "SIREFUND_VAR_DIR": str(out / "var"),
        "SIREFUND_AGENCY_URL": f"http://127.0.0.1:{sim_port}",
        "SIREFUND_CALLBACK_URL": f"http://127.0.0.1:{app_port}/api/v1/callbacks",
        "SIREFUND_RECONCILE_AT_HOUR": "-1",
        "SIREFUND_DISPATCH_POLL_SECONDS": "5",
        "PEAK_SEASON_USERS": str(out / "users.json"),
        "PEAK_SEASON_OFFICERS": str(args.officers),
    }
    procs = [
        start(["simulate-agencies", "--port", str(sim_port)], env, out / "simulators.log"),
        start(
            ["serve", "--port", str(app_port), "--workers", str(args.app_processes)],
            env,
            out / "app.log",
        ),
        *[start(["worker"], env, out / f"worker{m}.log") for m in range(args.workers)],
    ]
    try:
        wait_ready(sim_port, "/_sim/script")
        wait_ready(app_port, "/healthz")
        print(
            f"running: {args.app_processes} app processes, {args.workers} workers, "
            f"{args.users} payers + {args.officers} officers for {args.seconds} s"
        )
        subprocess.run(
            [
                str(BIN / "locust"),
                "-f",
                str(Path(__file__).with_name("peak_season_locustfile.py")),
                "--headless",
                "--users",
                str(args.users + args.officers),
                "--spawn-rate",
                "10",
                "--run-time",
                f"{args.seconds}s",
                "--host",
                f"http://127.0.0.1:{app_port}",
                "--csv",
                str(out / "locust"),
                "--only-summary",
            ],
            env=env,
            check=False,
        )
        print(f"load average after the load: {os.getloadavg()}")
        took = drain(engine, 300)
        print(f"drained in {took:.0f} s after the load: {counts(engine)}")
        report_locust(out / "locust")
        money(engine)
        day = datetime.now(CHINA_TZ).date().isoformat()
        rec = subprocess.run(
            [str(BIN / "sirefund"), "reconcile", "--date", day],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        print(f"\n`sirefund reconcile --date {day}`: exit {rec.returncode} (0: clean to the fen)")
        print(rec.stdout)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        engine.dispose()
    print(f"load average at end: {os.getloadavg()}; logs and CSVs in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
