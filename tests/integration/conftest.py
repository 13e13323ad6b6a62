"""Fixtures for the hand-off to the agencies: the simulators (and, when callbacks matter, our
app) served by uvicorn on free 127.0.0.1 ports in threads, so the worker talks real HTTP;
a clock shared by all of them that tests can move; and approved applications written the
way the review service writes them (approve + outbox message in one transaction)."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sirefund import agencies, worker
from sirefund.agencies.simulator import Script, SimulatorState, create_simulator_app
from sirefund.clock import CHINA_TZ
from sirefund.config import Settings
from sirefund.models import Application, OutboxMessage
from sirefund.web.app import create_app
from tests.integration import approvals

SECRET = "test-callback-secret-0123456789"


class ShiftableClock:
    """Real time plus an offset the test can move: signatures stay verifiable between the
    worker, the simulators and the app, which all read this same clock."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def today(self) -> date:
        return self.now().astimezone(CHINA_TZ).date()

    def advance(self, **kwargs: float) -> None:
        self.offset += timedelta(**kwargs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """An ASGI app under uvicorn in a thread; stop() and start() again on the same port
    simulate an outage (connections refused meanwhile)."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ServerThread:
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="critical",
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"server on port {self.port} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None


@dataclass
class Simulator:
    """The running simulators and what tests ask of them."""

    server: ServerThread
    state: SimulatorState

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def script(self) -> Script:
        return self.state.script

    def bookings(self, agency: str | None = None) -> list[dict[str, Any]]:
        return self.state.booking_views(agency)

    def submits(self, agency: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.state.request_log()
            if r["op"] == "submit" and (agency is None or r["agency"] == agency)
        ]

    def queries(self, agency: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in self.state.request_log()
            if r["op"] == "query" and (agency is None or r["agency"] == agency)
        ]

    def down(self) -> None:
        self.server.stop()

    def up(self) -> None:
        self.server.start()


@pytest.fixture
def shift_clock() -> ShiftableClock:
    return ShiftableClock()


def make_settings(db_url: str, tmp_path: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "var_dir": tmp_path / "var",
        "secret_key": "test-secret-key-0123456789abcdef",
        "callback_secret": SECRET,
        "agency_timeout_seconds": 0.5,
        # Workers of these tests do not reconcile by themselves (tests that need it say so).
        "reconcile_at_hour": -1,
        "dispatch_max_attempts": 5,
        "dispatch_lease_seconds": 5,
        "dispatch_poll_seconds": 60,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def start_simulator(
    db_url: str, tmp_path: Any, shift_clock: ShiftableClock
) -> Iterator[Callable[..., Simulator]]:
    """start_simulator(callback_url=None, port=None) -> a running Simulator."""
    started: list[Simulator] = []

    def _start(*, callback_url: str | None = None, port: int | None = None) -> Simulator:
        settings = make_settings(db_url, tmp_path)
        state = SimulatorState(
            secret=settings.resolved_callback_secret(),
            callback_url=callback_url,
            script=Script(),
            clock=shift_clock,
        )
        app = create_simulator_app(settings, callback_url=callback_url, state=state)
        sim = Simulator(ServerThread(app, port).start(), state)
        started.append(sim)
        return sim

    yield _start
    for sim in started:
        sim.server.stop()
        sim.state.close()


@pytest.fixture
def simulator(start_simulator: Callable[..., Simulator]) -> Simulator:
    """Simulators without callbacks: results reach us only as answers and by polling."""
    return start_simulator()


@pytest.fixture
def settings_for(db_url: str, tmp_path: Any) -> Callable[..., Settings]:
    def _make(sim: Simulator | None = None, **overrides: Any) -> Settings:
        if sim is not None:
            overrides.setdefault("agency_url", sim.url)
        return make_settings(db_url, tmp_path, **overrides)

    return _make


@pytest.fixture
def adapters_for(shift_clock: ShiftableClock) -> Iterator[Callable[[Settings], dict[str, Any]]]:
    made: list[dict[str, Any]] = []

    def _make(settings: Settings) -> dict[str, Any]:
        adapters = agencies.build_adapters(settings, clock=shift_clock)
        made.append(adapters)
        return adapters

    yield _make
    for adapters in made:
        for adapter in adapters.values():
            adapter.close()


@pytest.fixture
def app_server(
    engine: Any, db_url: str, tmp_path: Any, shift_clock: ShiftableClock
) -> Iterator[ServerThread]:
    """Our web app on a real port (to receive the simulators' callbacks)."""
    app = create_app(make_settings(db_url, tmp_path), engine=engine, clock=shift_clock)
    server = ServerThread(app).start()
    yield server
    server.stop()


# --------------------------------------------------------------------------- applications


@pytest.fixture
def make_approved(session_factory: sessionmaker[Session]) -> Callable[..., list[int]]:
    """make_approved(n=1, kind="pension", at=...) -> ids of applications approved (each with
    its first request in the outbox, in the same transaction), committed."""

    def _make(
        n: int = 1, *, kind: str = "pension", at: datetime, region: str = "420703"
    ) -> list[int]:
        return approvals.approved_applications(
            session_factory, n=n, kind=kind, at=at, region=region
        )

    return _make


def wait_until(
    predicate: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.02
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


# --------------------------------------------------------------------------- the worker


class Dispatcher(worker.Dispatcher):
    """worker.Dispatcher with the tests' shortcuts for polling and driving to a state."""

    def poll(self, **kwargs: Any) -> int:
        return worker.poll_pending_results(
            self.session_factory, adapters=self.adapters, clock=self.clock, **kwargs
        )

    def drive(self, predicate: Callable[[], Any], *, timeout: float = 15.0) -> None:
        """Run passes until `predicate()` holds (results may also arrive by callback)."""
        wait_until(lambda: self.run_once() >= 0 and predicate(), timeout=timeout, interval=0.02)


@pytest.fixture
def dispatcher_for(
    session_factory: sessionmaker[Session],
    adapters_for: Callable[[Settings], dict[str, Any]],
    shift_clock: ShiftableClock,
) -> Callable[..., Dispatcher]:
    def _make(
        settings: Settings, *, worker_id: str = "w1", seed: int = 1, clock: Any = None
    ) -> Dispatcher:
        return Dispatcher(
            session_factory,
            adapters_for(settings),
            settings,
            clock or shift_clock,
            worker_id,
            random.Random(seed),
        )

    return _make


def load(session_factory: sessionmaker[Session], app_id: int) -> Application:
    with session_factory() as session:
        app = session.get(Application, app_id)
        assert app is not None
        session.expunge(app)
        return app


def messages_of(session_factory: sessionmaker[Session], app_id: int) -> list[OutboxMessage]:
    with session_factory() as session:
        rows = (
            session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.application_id == app_id)
                .order_by(OutboxMessage.id)
            )
            .scalars()
            .all()
        )
        for row in rows:
            session.expunge(row)
        return list(rows)


def status_of(session_factory: sessionmaker[Session], app_id: int) -> str:
    return load(session_factory, app_id).status
