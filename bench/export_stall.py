"""Does a 100k-row 导出Excel stall the server? (issue 12 part 2: "an export of 100k rows
streams and never stalls other requests (their p99 stays within 2x while it runs)").

On the database bench/officer_queue.py made (1M applications; `--db` SQLite file, or
`--postgres-url`), one `sirefund serve` process. An officer session is opened for BENCHQ
(the province). Then, in turn, `--rounds` times:

* **quiet** — `wrk -c CONNECTIONS -d DURATION --latency` on the officer queue's first page
  (GET /api/v1/officer/applications?status=pending_review) and on /healthz;
* **exporting** — the same while a client thread downloads
  GET /api/v1/officer/applications.xlsx?date_from=…&date_to=… (about 100k rows) again and
  again, streaming the body.

Printed: req/s, p50, p99 of each, the ratio exporting / quiet (target: p99 ≤ 2x), and each
export's rows, bytes and seconds.

    .venv/bin/python bench/export_stall.py [--db var/bench/queue-1000000.db | --postgres-url …]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from reads import SECRET, WRK_SCRIPT, free_port, sirefund_server, wrk  # bench/reads.py
from sirefund.config import Settings
from sirefund.db import make_engine, make_session_factory
from sirefund.models import Officer
from sirefund.services import accounts

EXPORT_QUERY = "date_from=2026-01-01&date_to=2026-03-10"


def officer_token(url: str) -> str:
    engine = make_engine(url)
    settings = Settings(database_url=url, secret_key=SECRET)
    with make_session_factory(engine)() as session, session.begin():
        officer_id = session.execute(
            select(Officer.id).where(Officer.code == "BENCHQ")
        ).scalar_one()
        token, _ = accounts.create_session(
            session, kind="officer", account_id=officer_id, at=datetime.now(UTC), settings=settings
        )
    engine.dispose()
    return token


def exporter(
    port: int, token: str, stop: threading.Event, done: list[tuple[int, int, float]]
) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/v1/officer/applications.xlsx?{EXPORT_QUERY}",
            headers={"Authorization": f"Bearer {token}"},
        )
        body = io.BytesIO()
        with urllib.request.urlopen(req, timeout=600) as r:
            while chunk := r.read(65536):
                body.write(chunk)
        seconds = time.perf_counter() - started
        rows = -1
        if not done:  # open the first one to count its rows
            body.seek(0)
            rows = sum(1 for _ in load_workbook(body, read_only=True).active.iter_rows()) - 1
        done.append((rows, body.tell(), seconds))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=Path("var/bench/queue-1000000.db"))
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workdir", type=Path, default=Path("var/bench"))
    args = parser.parse_args(argv)
    url = args.postgres_url or f"sqlite:///{args.db.resolve()}"
    token = officer_token(url)
    script = args.workdir / "export-stall.lua"
    script.write_text(WRK_SCRIPT)
    queue_file = args.workdir / "export-stall-queue.txt"
    queue_file.write_text(f"/api/v1/officer/applications?status=pending_review\t{token}\n")
    health_file = args.workdir / "export-stall-healthz.txt"
    health_file.write_text("/healthz\t\n")
    port = free_port()
    proc = sirefund_server(url, port)
    results: dict[str, list[dict[str, float]]] = {}
    exports: list[tuple[int, int, float]] = []
    try:
        for _ in range(args.rounds):
            for phase in ("quiet", "exporting"):
                stop = threading.Event()
                thread = None
                if phase == "exporting":
                    thread = threading.Thread(target=exporter, args=(port, token, stop, exports))
                    thread.start()
                    time.sleep(2)  # the helper process has started and is building
                for name, requests in (("queue page", queue_file), ("healthz", health_file)):
                    results.setdefault(f"{phase}:{name}", []).append(
                        wrk(port, requests, args, script)
                    )
                stop.set()
                if thread is not None:
                    thread.join()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    print(
        f"== {'PostgreSQL' if args.postgres_url else 'SQLite'}: one `sirefund serve`, "
        f"wrk -c {args.connections} -d {args.duration}s, {args.rounds} rounds (median of "
        f"rounds); load average {os.getloadavg()[0]:.1f}"
    )
    for name in ("queue page", "healthz"):
        quiet = _median(results[f"quiet:{name}"])
        busy = _median(results[f"exporting:{name}"])
        print(
            f"{name:<11} quiet {quiet['rps']:7.0f} req/s p50 {quiet['p50']:7.1f} p99 "
            f"{quiet['p99']:7.1f} ms | exporting {busy['rps']:7.0f} req/s p50 {busy['p50']:7.1f} "
            f"p99 {busy['p99']:7.1f} ms | p99 {busy['p99'] / quiet['p99']:.2f}x "
            f"req/s {busy['rps'] / quiet['rps']:.2f}x"
        )
    for rows, size, seconds in exports:
        shown = f"{rows:,} rows, " if rows >= 0 else ""
        print(f"export: {shown}{size / 1e6:.1f} MB in {seconds:.1f} s")
    return 0


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    keys = ("rps", "p50", "p99")
    return {k: sorted(r.get(k, 0.0) for r in runs)[len(runs) // 2] for k in keys}


if __name__ == "__main__":
    sys.exit(main())
