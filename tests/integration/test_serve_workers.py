"""`sirefund serve --workers N` (issue 12, part 3): N processes answering on one port, with
TCP_NODELAY on every accepted connection, refused where N processes cannot work."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sirefund import runtime
from sirefund.config import Settings
from tests.integration.conftest import free_port

pytestmark = pytest.mark.timeout(120)
SECRET = "test-secret-key-0123456789abcdef"


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=url, var_dir=tmp_path / "var", secret_key=SECRET)


def test_many_processes_on_sqlite_are_refused_with_the_reason(tmp_path, capsys):
    settings = _settings(f"sqlite:///{tmp_path / 'x.db'}", tmp_path)
    status = runtime.serve(
        settings,
        host="127.0.0.1",
        port=free_port(),
        worker=False,
        simulate_agencies=False,
        workers=2,
    )
    assert status == 2
    assert "--workers > 1 needs PostgreSQL" in capsys.readouterr().out


def test_many_processes_with_in_process_simulators_are_refused(tmp_path, capsys):
    settings = _settings("postgresql+psycopg://nobody@127.0.0.1:1/none", tmp_path)
    status = runtime.serve(
        settings,
        host="127.0.0.1",
        port=free_port(),
        worker=False,
        simulate_agencies=True,
        workers=2,
    )
    assert status == 2
    assert "sirefund simulate-agencies" in capsys.readouterr().out


def _nodelay_of_accepted(sock: socket.socket) -> int:
    """Accept one connection on `sock` with asyncio, as uvicorn does, and report whether
    TCP_NODELAY is on for it."""
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            conn = transport.get_extra_info("socket")
            seen.append(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()

    asyncio.run(run())
    return seen[0]


def test_the_shared_listening_socket_gives_every_connection_tcp_nodelay():
    sock = runtime.listening_socket("127.0.0.1", 0)
    sock.listen()
    assert sock.proto == socket.IPPROTO_TCP
    assert _nodelay_of_accepted(sock) != 0


def _pid_lines(lines: list[str], message: str) -> set[int]:
    pids = set()
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("message") == message:
            pids.add(record["pid"])
    return pids


def test_serve_with_two_workers_starts_two_processes_that_answer(postgres_url, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "SIREFUND_DATABASE_URL": postgres_url,
        "SIREFUND_SECRET_KEY": SECRET,
        "SIREFUND_VAR_DIR": str(tmp_path / "var"),
        "SIREFUND_LOG_FORMAT": "json",
    }
    sirefund = Path(sys.executable).parent / "sirefund"
    proc = subprocess.Popen(
        [str(sirefund), "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    stderr = proc.stderr
    assert stderr is not None
    reader = threading.Thread(target=lambda: lines.extend(iter(stderr.readline, "")))
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while len(_pid_lines(lines, "Application startup complete.")) < 2:
            assert proc.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.1)
        started = _pid_lines(lines, "Application startup complete.")
        assert proc.pid not in started  # two children, not the supervisor
        answers = set()
        for _ in range(6):  # a fresh connection each time: either process may take it
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            answers.add((resp.status, resp.read()))
            conn.close()
        assert answers == {(200, b'{"status":"ok"}')}
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        reader.join(timeout=10)
    assert code == 0
    assert len(_pid_lines(lines, "Shutting down")) == 2


def test_a_child_gets_a_minute_to_answer_the_supervisors_health_ping_before_it_is_killed():
    # uvicorn's 5 s is shorter than a child's start on a loaded host: every child was killed
    # and restarted in a loop under load average 16 (bench/RESULTS.md, peak season).
    config = runtime._uvicorn_config("sirefund.x:y", host="127.0.0.1", port=1, workers=2)
    assert config.timeout_worker_healthcheck >= 30
