"""Benchmark: `sirefund serve --workers N` keeps TCP_NODELAY; plain `uvicorn --workers N`
does not (uvicorn issue #3149).

    SIREFUND_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/sirefund_bench \\
        .venv/bin/python bench/serve_workers.py [--requests 200] [--rounds 2] [--threads 8]

Three servers of the same app on the same PostgreSQL database, started in turn, each round
in the same order (interleaved, so a noisy neighbour hits them all alike):

* `uvicorn --workers 2` (the baseline): uvicorn's own supervisor and its `bind_socket()`;
* `sirefund serve --workers 2`: the socket bound by runtime.listening_socket;
* `sirefund serve` (one process).

What is measured on each: `--requests` GET /healthz one after the other on ONE keep-alive
connection (p50 / p99 latency: Nagle's algorithm with the client's delayed ACK shows as
~40 ms per request), then `--threads` keep-alive connections in parallel for throughput,
driven by `wrk` (`--client wrk`, the default when it is installed: one C thread; the Python
client, `--client python`, takes a whole core of the two it measures).
Target: `serve --workers 2` p50 <= 0.25 x the plain uvicorn p50.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn

from sirefund import migrate
from sirefund.db import make_engine

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on port {port} did not answer in {timeout}s")


def sequential(port: int, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        times.append(time.perf_counter() - started)
    conn.close()
    return times


def parallel(port: int, threads: int, seconds: float, path: str = "/healthz") -> float:
    counts = [0] * threads
    end = time.monotonic() + seconds

    def run(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < end:
            conn.request("GET", path)
            conn.getresponse().read()
            counts[i] += 1
        conn.close()

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return sum(counts) / seconds


def parallel_wrk(port: int, connections: int, seconds: float, path: str = "/healthz") -> float:
    """req/s of `wrk` (C, one thread: a fraction of a core, where the Python client above
    took a whole one) on `connections` keep-alive connections."""
    out = subprocess.run(
        [
            "wrk",
            "-t",
            "1",
            "-c",
            str(connections),
            "-d",
            f"{max(1, round(seconds))}s",
            f"http://127.0.0.1:{port}{path}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    if bad:
        print(f"   {bad.group(1)} non-2xx answers on port {port}")
    return float(found.group(1)) if found else 0.0


def start(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    if kind == "uvicorn --workers 2":
        cmd = [
            str(BIN / "uvicorn"),
            "sirefund.runtime:app_from_environment",
            "--factory",
            "--workers",
            "2",
            "--port",
            str(port),
            "--no-access-log",
        ]
    elif kind == "serve --workers 2":
        cmd = [str(BIN / "sirefund"), "serve", "--port", str(port), "--workers", "2"]
    else:
        cmd = [str(BIN / "sirefund"), "serve", "--port", str(port)]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=200)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=8)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument(
        "--path",
        default="/healthz",
        help="what the parallel connections ask for; /readyz runs three indexed SELECTs",
    )
    p.add_argument(
        "--client",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="what drives the parallel connections (wrk: apt-get install wrk)",
    )
    args = p.parse_args(argv)
    url = os.environ.get("SIREFUND_BENCH_POSTGRES_URL")
    if not url:
        print("set SIREFUND_BENCH_POSTGRES_URL (serve --workers N needs PostgreSQL)")
        return 2
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    print(
        f"{platform.platform()}, Python {platform.python_version()}, uvicorn {uvicorn.__version__}"
    )
    print(f"cores: {os.cpu_count()}")
    kinds = ["uvicorn --workers 2", "serve --workers 2", "serve (1 process)"]
    latency: dict[str, list[float]] = {k: [] for k in kinds}
    rate: dict[str, list[float]] = {k: [] for k in kinds}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory() as var:
        env = {
            **os.environ,
            "SIREFUND_DATABASE_URL": url,
            "SIREFUND_SECRET_KEY": "bench-secret-key-0123456789abcdef",
            "SIREFUND_VAR_DIR": var,
            "SIREFUND_LOG_FORMAT": "text",
            "SIREFUND_READY_WORKER_MAX_AGE_SECONDS": "0",
        }
        for _ in range(args.rounds):
            for kind in kinds:
                port = free_port()
                proc = start(kind, port, env)
                try:
                    wait_ready(port)
                    sequential(port, 10)  # warm up
                    latency[kind] += sequential(port, args.requests)
                    # Warm every process (each has its own caches, e.g. the migration head
                    # /readyz compares with), then measure.
                    parallel(port, args.threads, 1.0, args.path)
                    if args.client == "wrk":
                        measured = parallel_wrk(port, args.threads, args.seconds, args.path)
                    else:
                        measured = parallel(port, args.threads, args.seconds, args.path)
                    rate[kind].append(measured)
                    loads.append(os.getloadavg()[0])
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
    for kind in kinds:
        print(
            f"{kind:<22} one keep-alive connection: p50 {ms(latency[kind], 0.5):7.2f} ms  "
            f"p99 {ms(latency[kind], 0.99):7.2f} ms   {args.threads} connections "
            f"on {args.path}: "
            f"{statistics.mean(rate[kind]):8.0f} req/s"
        )
    ratio = ms(latency["serve --workers 2"], 0.5) / ms(latency["uvicorn --workers 2"], 0.5)
    verdict = "PASS" if ratio <= 0.25 else "FAIL"
    print(
        f"serve --workers 2 p50 / uvicorn --workers 2 p50 = {ratio:.2f}  (target <= 0.25)  {verdict}"
    )
    scale = statistics.mean(rate["serve --workers 2"]) / statistics.mean(rate["serve (1 process)"])
    print(f"serve --workers 2 req/s / serve req/s = {scale:.2f}  (cores here: {os.cpu_count()})")
    rounds = [
        f"{two / max(one, 1e-9):.2f}"
        for two, one in zip(rate["serve --workers 2"], rate["serve (1 process)"], strict=True)
    ]
    print(
        f"   per round: {', '.join(rounds)}; client {args.client}; load average "
        f"{min(loads):.1f}-{max(loads):.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
