"""Reads near the floor (issue 12 part 1): sirefund's authenticated "my payments of this year"
reads and /healthz against a minimal FastAPI app running the same SELECTs on the raw driver
(bench/reads_minimal.py), on the same database, interleaved, under `wrk`.

Data (`--reuse` keeps it): `sirefund generate --persons P --pension-payments N` and
`sirefund import` of its pension payments, medical registrations and medical payments;
then an application (cancelled: it does not block a new one) for every third pension and
medical payment, so the applications table is as large as the payments' share of it; then
`--persons-sampled` persons with exactly one medical registration get a server session
(their bearer tokens go to the load generator). ANALYZE.

Each round starts `sirefund serve` and the minimal app in turn (one process each, the same
uvicorn), and runs `wrk -c CONNECTIONS -d DURATION --latency` with a Lua script cycling
through the sampled persons:

* pension: GET /api/v1/pension/payments?year=Y  vs  GET /pension?person_id=&year=Y
* medical: GET /api/v1/medical/payments?insurance_year=Y  vs  GET /medical?person_id=&year=Y
* healthz: GET /healthz  vs  GET /healthz

It prints req/s, p50 and p99 per server and the ratios sirefund / minimal (the issue's
targets: req/s ≥ 0.8x, p99 ≤ 1.25x), the count of non-2xx answers, and the EXPLAIN of every
statement the two reads run (captured from the service calls), with the load average.

    .venv/bin/python bench/reads.py [--payments 1000000] [--postgres-url postgresql+psycopg://…]
        [--workdir var/bench] [--reuse] [--duration 10] [--connections 16] [--rounds 2]
        [--baseline-src ../main/src]   # "before": another checkout's code, in the same rounds
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, func, select, text

from sirefund import migrate
from sirefund.config import Settings
from sirefund.db import make_engine, make_session_factory
from sirefund.models import PensionPayment
from sirefund.services import accounts, medical, pension

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_ENV = "SIREFUND_BENCH_POSTGRES_URL"
SECRET = "bench-reads-secret-key-0123456789abcdef"
YEAR = 2025
WRK_SCRIPT = """
local lines = {}
for line in io.lines(os.getenv("BENCH_REQUESTS")) do table.insert(lines, line) end
local i = math.random(#lines)
request = function()
  i = i % #lines + 1
  local path, token = lines[i]:match("([^\\t]*)\\t?(.*)")
  local headers = {}
  if token ~= "" then headers["Authorization"] = "Bearer " .. token end
  return wrk.format("GET", path, headers)
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh(url: str) -> Engine:
    if url.startswith("sqlite:///"):
        for suffix in ("", "-wal", "-shm"):
            Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
    migrate.upgrade(engine)
    return engine


def generated(workdir: Path, payments: int) -> Path:
    out = workdir / f"reads-gen-{payments}"
    if not (out / "medical-payments.csv").exists():
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                BIN / "sirefund",
                "generate",
                "--persons",
                str(payments * 3 // 10),
                "--pension-payments",
                str(payments),
                "--out",
                str(out),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return out


def fill(url: str, files: Path) -> None:
    env = {**os.environ, "SIREFUND_DATABASE_URL": url, "SIREFUND_SECRET_KEY": SECRET}
    for kind in ("pension-payments", "medical-registrations", "medical-payments"):
        subprocess.run(
            [BIN / "sirefund", "import", kind, str(files / f"{kind}.csv")],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )


def add_applications(url: str) -> None:
    """A cancelled application for the payments of every third person (once)."""
    at = "'2025-06-01 00:00:00+00:00'"
    common = "'cancelled', 'web', {at}, {at}, 1"
    with make_engine(url).begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO applications (kind, document_no, status, channel, created_at, "
            "updated_at, version, person_id, region_code, pension_payment_id, amount_fen, "
            "payment_year, period_start, period_end) "
            f"SELECT 'pension', 'BP' || p.payment_id, {common.format(at=at)}, p.person_id, "
            "s.region_code, p.payment_id, p.amount_fen, p.payment_year, p.period_start, "
            "p.period_end FROM pension_payments p JOIN persons s ON s.id = p.person_id "
            "WHERE p.person_id - (p.person_id / 3) * 3 = 0"
        )
        conn.exec_driver_sql(
            "INSERT INTO applications (kind, document_no, status, channel, created_at, "
            "updated_at, version, person_id, region_code, medical_payment_id, "
            "registration_id, amount_fen, payment_year, period_start, period_end) "
            f"SELECT 'medical', 'BM' || m.payment_id, {common.format(at=at)}, r.person_id, "
            "r.region_code, m.payment_id, r.registration_id, "
            "m.medical_amount_fen + coalesce(m.ltc_amount_fen, 0), m.insurance_year, "
            "m.period_start, m.period_end FROM medical_payments m "
            "JOIN medical_registrations r ON r.registration_id = m.registration_id "
            "WHERE r.person_id - (r.person_id / 3) * 3 = 0 AND m.medical_amount_fen > 0"
        )


def analyze(engine: Engine) -> None:
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")


def sampled_persons(engine: Engine, count: int) -> list[int]:
    """Persons with pension payments of YEAR and exactly one medical registration that has
    payments of YEAR."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT r.person_id FROM medical_registrations r "
                    "JOIN medical_payments m ON m.registration_id = r.registration_id "
                    "WHERE m.insurance_year = :y AND EXISTS (SELECT 1 FROM pension_payments p "
                    "WHERE p.person_id = r.person_id AND p.payment_year = :y) "
                    "GROUP BY r.person_id HAVING count(DISTINCT r.registration_id) = 1 "
                    "AND (SELECT count(*) FROM medical_registrations o "
                    "WHERE o.person_id = r.person_id) = 1 "
                    "ORDER BY r.person_id LIMIT :n"
                ),
                {"y": YEAR, "n": count},
            ).scalars()
        )


def sessions(engine: Engine, persons: list[int]) -> list[str]:
    settings = Settings(database_url=str(engine.url), secret_key=SECRET)
    tokens = []
    with make_session_factory(engine)() as session, session.begin():
        for person_id in persons:
            token, _ = accounts.create_session(
                session,
                kind="person",
                account_id=person_id,
                at=datetime.now(UTC),
                settings=settings,
            )
            tokens.append(token)
    return tokens


def prepare(url: str, args: argparse.Namespace) -> Engine:
    engine = make_engine(url)
    have = 0
    if args.reuse:
        try:
            with engine.connect() as conn:
                have = conn.execute(select(func.count()).select_from(PensionPayment)).scalar_one()
        except Exception:  # noqa: BLE001 - no schema yet
            have = 0
    if have < args.payments:
        engine.dispose()
        started = time.perf_counter()
        files = generated(args.workdir, args.payments)
        fresh(url).dispose()
        fill(url, files)
        engine = make_engine(url)
        print(f"   data written in {time.perf_counter() - started:.0f} s")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        empty = conn.exec_driver_sql("SELECT count(*) FROM applications").scalar_one() == 0
    # The migration's connection may still hold SQLite's write lock in the pool: let go of
    # it before another engine writes the applications.
    engine.dispose()
    if empty:
        add_applications(url)
    analyze(engine)
    with engine.connect() as conn:
        for table in ("pension_payments", "medical_payments", "applications", "persons"):
            n = conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()
            print(f"   {table}: {n:,} rows")
    return engine


# --------------------------------------------------------------------------- EXPLAIN


def explain_reads(engine: Engine, person_id: int) -> None:
    seen: list[tuple[str, Any]] = []

    def listen(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    factory = make_session_factory(engine)
    event.listen(engine, "before_cursor_execute", listen)
    try:
        with factory() as session, session.begin():
            medical.list_payments(
                session, person_id=person_id, insurance_year=YEAR, today=date(2026, 11, 29)
            )
    finally:
        event.remove(engine, "before_cursor_execute", listen)
    # The session lookup is a Core statement and the pension and medical reads run on the
    # driver cursor (not seen by the listener): their own SQL.
    placeholder = "?" if engine.dialect.name == "sqlite" else "%s"
    from sirefund.services import queries  # noqa: PLC0415
    from sirefund.services.accounts import PERSON_SESSION_SQL  # noqa: PLC0415

    with engine.connect() as conn:
        registration = conn.exec_driver_sql(
            f"SELECT registration_id FROM medical_registrations WHERE person_id = {placeholder}",
            (person_id,),
        ).scalar()
    statements = [
        (PERSON_SESSION_SQL.format(p=placeholder), ("0" * 64,)),
        (queries._pension_sql(placeholder, True, "all"), (person_id, YEAR)),
        (queries._MEDICAL_YEARS_SQL.format(p=placeholder), (registration,)),
        (queries._MEDICAL_SQL.format(p=placeholder), (registration, YEAR)),
        *seen,
    ]
    if engine.dialect.name == "postgresql":
        # What the reads send there: the session lookup joined to their first statement.
        pension_sql = queries._pension_sql("%s", True, "all", person="ses.pid")
        order = "x.period_start, x.payment_id"
        statements.insert(1, (queries._with_session_sql(pension_sql, order), ("0" * 64, YEAR)))
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue  # BEGIN of the harness's own session
            cur.execute(prefix + statement, parameters)
            print("   " + " ".join(statement.split())[:150] + " …")
            for row in cur.fetchall():
                print("      " + " | ".join(str(c) for c in row))
    finally:
        raw.close()
    _ = pension  # the pension service reads through services.queries (above)


# --------------------------------------------------------------------------- servers and load


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return proc
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError(f"{cmd[0]} did not start")


def sirefund_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "SIREFUND_DATABASE_URL": url, "SIREFUND_SECRET_KEY": SECRET}
    return start([str(BIN / "sirefund"), "serve", "--port", str(port)], env, port)


def baseline_server(url: str, port: int, src: Path) -> subprocess.Popen[bytes]:
    """`sirefund serve` with another checkout's code (`--baseline-src DIR/src`): "before" in
    the same run as "after"."""
    env = {
        **os.environ,
        "SIREFUND_DATABASE_URL": url,
        "SIREFUND_SECRET_KEY": SECRET,
        "PYTHONPATH": str(src),
    }
    cmd = [
        sys.executable,
        "-c",
        "import sys; from sirefund.cli import main; sys.exit(main())",
        "serve",
        "--port",
        str(port),
    ]
    return start(cmd, env, port)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def minimal_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "BENCH_DATABASE_URL": url}
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "reads_minimal:app",
        "--app-dir",
        "bench",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return start(cmd, env, port)


_LATENCY = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk(port: int, requests: Path, args: argparse.Namespace, script: Path) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(args.connections),
            "-d",
            f"{args.duration}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}",
        ],
        env={**os.environ, "BENCH_REQUESTS": str(requests)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result = {"rps": float(rps.group(1)) if rps else 0.0}
    for pct, value, unit in _LATENCY.findall(out):
        result[f"p{pct}"] = float(value) * _UNITS[unit]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    result["non2xx"] = float(bad.group(1)) if bad else 0.0
    result["socket_errors"] = 1.0 if errors else 0.0
    return result


def request_files(workdir: Path, persons: list[int], tokens: list[str]) -> dict[str, Path]:
    lines = {
        ("sirefund", "pension"): [f"/api/v1/pension/payments?year={YEAR}\t{t}" for t in tokens],
        ("minimal", "pension"): [f"/pension?person_id={p}&year={YEAR}\t" for p in persons],
        ("sirefund", "medical"): [
            f"/api/v1/medical/payments?insurance_year={YEAR}\t{t}" for t in tokens
        ],
        ("minimal", "medical"): [f"/medical?person_id={p}&year={YEAR}\t" for p in persons],
        ("sirefund", "healthz"): ["/healthz\t"],
        ("minimal", "healthz"): ["/healthz\t"],
    }
    files = {}
    for (server, kind), rows in lines.items():
        path = workdir / f"reads-{server}-{kind}.txt"
        path.write_text("\n".join(rows) + "\n")
        files[f"{server}:{kind}"] = path
    return files


def bench_database(label: str, url: str, args: argparse.Namespace) -> None:
    print(f"== {label}")
    engine = prepare(url, args)
    persons = sampled_persons(engine, args.persons_sampled)
    tokens = sessions(engine, persons)
    print(f"   {len(persons)} persons sampled (one registration, payments of {YEAR})")
    print("-- EXPLAIN of the hot statements (a sampled person):")
    explain_reads(engine, persons[0])
    engine.dispose()
    files = request_files(args.workdir, persons, tokens)
    script = args.workdir / "reads.lua"
    script.write_text(WRK_SCRIPT)
    servers: list[tuple[str, Any]] = [("sirefund", sirefund_server), ("minimal", minimal_server)]
    if args.baseline_src:
        src = args.baseline_src.resolve()
        servers.insert(1, ("before", lambda u, p: baseline_server(u, p, src)))
        files.update({f"before:{k}": files[f"sirefund:{k}"] for k in KINDS})
    runs: dict[str, list[dict[str, float]]] = {}
    loads = [os.getloadavg()[0]]
    warm_up = argparse.Namespace(connections=args.connections, duration=2)
    for _ in range(args.rounds):
        for server, launch in servers:
            if server != "minimal":
                # Fresh sessions for each server's run (well under a minute): sessions made
                # together come due for their idle-timer write together, once a minute, a
                # burst of 2,000 writes landing on whichever server was being measured.
                fresh_engine = make_engine(url)
                tokens = sessions(fresh_engine, persons)
                fresh_engine.dispose()
                files.update(request_files(args.workdir, persons, tokens))
                if server == "before":
                    files.update({f"before:{k}": files[f"sirefund:{k}"] for k in KINDS})
            port = free_port()
            proc = launch(url, port)
            try:
                for kind in KINDS:  # warm up: pool, threads, each connection's page cache
                    wrk(port, files[f"{server}:{kind}"], warm_up, script)
                for kind in KINDS:
                    key = f"{server}:{kind}"
                    cpu = cpu_seconds(proc.pid)
                    result = wrk(port, files[key], args, script)
                    # The server's own CPU per answer: steadier than req/s on a shared machine.
                    answers = max(result["rps"] * args.duration, 1.0)
                    result["cpu_ms"] = (cpu_seconds(proc.pid) - cpu) / answers * 1000
                    runs.setdefault(key, []).append(result)
                    loads.append(os.getloadavg()[0])
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    print(
        f"-- wrk -c {args.connections} -d {args.duration}s, {args.rounds} rounds interleaved "
        f"(best req/s with its p50/p99; server CPU per answer, median of the rounds); load "
        f"average {min(loads):.1f}-{max(loads):.1f}"
    )
    for kind in KINDS:
        floor = _best(runs[f"minimal:{kind}"])
        for server, _ in servers:
            if server == "minimal":
                continue
            app = _best(runs[f"{server}:{kind}"])
            print(
                f"{kind:<8} {server:<8} {app['rps']:6.0f} req/s p50 {app.get('p50', 0):6.1f} "
                f"p99 {app.get('p99', 0):6.1f} ms cpu {app['cpu_ms']:.3f} ms | minimal "
                f"{floor['rps']:6.0f} req/s p50 {floor.get('p50', 0):6.1f} p99 "
                f"{floor.get('p99', 0):6.1f} ms cpu {floor['cpu_ms']:.3f} ms | req/s "
                f"{app['rps'] / max(floor['rps'], 1e-9):.2f}x p99 "
                f"{app.get('p99', 0) / max(floor.get('p99', 1e-9), 1e-9):.2f}x cpu "
                f"{floor['cpu_ms'] / max(app['cpu_ms'], 1e-9):.2f}x | non-2xx "
                f"{int(app['non2xx'])}/{int(floor['non2xx'])}"
            )
    for kind in KINDS:
        ratios = [
            a["rps"] / max(m["rps"], 1e-9)
            for a, m in zip(runs[f"sirefund:{kind}"], runs[f"minimal:{kind}"], strict=True)
        ]
        print(f"   {kind} req/s ratio per round: " + ", ".join(f"{r:.2f}" for r in ratios))


KINDS = ("pension", "medical", "healthz")


def _best(results: list[dict[str, float]]) -> dict[str, float]:
    """The round with the most req/s (its p50, p99), with the median CPU per answer."""
    best = dict(max(results, key=lambda r: r["rps"]))
    best["cpu_ms"] = statistics.median(r["cpu_ms"] for r in results)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--payments", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("var/bench"))
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--postgres-url", default=os.environ.get(PG_ENV))
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--persons-sampled", type=int, default=2000)
    parser.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="the src/ of another checkout: its `sirefund serve` runs as 'before' in each round",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is needed: apt-get install -y wrk")
        return 2
    args.workdir.mkdir(parents=True, exist_ok=True)
    if args.only != "postgresql":
        db = (args.workdir / f"reads-{args.payments}.db").resolve()
        bench_database("SQLite", f"sqlite:///{db}", args)
    if args.postgres_url and args.only != "sqlite":
        bench_database("PostgreSQL", args.postgres_url, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
