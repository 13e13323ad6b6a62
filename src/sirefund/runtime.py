"""Long-running entry points: the web server (optionally with the dispatcher and the agency
simulators in the same process) and the simulators on their own."""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from uvicorn.supervisors import Multiprocess

from . import agencies, logconfig, logsafe
from . import worker as dispatcher
from .agencies.simulator import SimulatorState, create_simulator_app
from .clock import SystemClock
from .config import Settings, load_settings
from .db import make_engine, make_session_factory
from .services.ports import SmsGateway
from .web.app import create_app
from .web.metrics import MULTIPROC_ENV

log = logging.getLogger("sirefund.runtime")


def _local(host: str) -> str:
    """An address this process can call itself on."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host


#: Where `serve --simulate-agencies` (and the demo) mount the simulators.
SIMULATORS_PATH = "/_agencies"


@dataclass(frozen=True)
class Served:
    """What `serve` runs: the app, the settings it was built with (the agency URL points at
    the simulators when they are mounted) and what must be closed at the end."""

    app: FastAPI
    settings: Settings
    engine: Engine
    simulator_state: SimulatorState | None
    # The SMS gateway and real-name check adapters the app was given (closed at the end).
    realname_adapters: tuple[agencies.HttpSmsGateway | None, agencies.HttpIdentityCheck | None] = (
        None,
        None,
    )
    # The death registry adapter (继承人代办), closed at the end too.
    death_registry: agencies.HttpDeathRegistry | None = None


class SimulatorsRefused(ValueError):
    """The simulators were asked for where they must not run."""


def build(settings: Settings, *, host: str, port: int, simulate_agencies: bool) -> Served:
    """The app `serve` runs. Only with `simulate_agencies` (the demo, a developer's machine)
    are the simulators, their test-only /_sim control API included, mounted under
    /_agencies: a production `serve` answers 404 there. Refused on a public https site
    (SIREFUND_PUBLIC_URL), where anyone could script the bank's answers."""
    if simulate_agencies and settings.https:
        raise SimulatorsRefused(
            "--simulate-agencies is for the demo and tests, not a public https site "
            "(SIREFUND_PUBLIC_URL)"
        )
    base = f"http://{_local(host)}:{port}"
    if simulate_agencies:
        simulators = f"{base}{SIMULATORS_PATH}"
        settings = settings.model_copy(
            update={"agency_url": simulators, "sms_url": simulators, "identity_url": simulators}
        )
    engine = _app_engine(settings, processes=1)
    # The outside services registration calls (services/ports.py), injected here: web/
    # never imports agencies/.
    sms, identity_check = agencies.build_realname_adapters(settings)
    deaths = agencies.build_death_registry(settings)
    app = create_app(
        settings, engine=engine, sms=sms, identity_check=identity_check, death_registry=deaths
    )
    simulator_state: SimulatorState | None = None
    if simulate_agencies:
        simulator = create_simulator_app(settings, callback_url=f"{base}/api/v1/callbacks")
        simulator_state = simulator.state.simulator
        app.mount(SIMULATORS_PATH, simulator)
    return Served(app, settings, engine, simulator_state, (sms, identity_check), deaths)


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    worker: bool,
    simulate_agencies: bool,
    workers: int = 1,
) -> int:
    """`sirefund serve`: the app under uvicorn until SIGINT / SIGTERM.

    With `simulate_agencies` the simulators are mounted under /_agencies and the adapters
    point there (see `build`); with `worker` the dispatcher runs in a background thread that
    starts once the server listens and stops, after the message in hand, when the server
    shuts down.

    With `workers` > 1: N app processes on one listening socket (`serve_many`).
    """
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if workers > 1:
        return serve_many(
            settings,
            host=host,
            port=port,
            processes=workers,
            worker=worker,
            simulate_agencies=simulate_agencies,
        )
    try:
        served = build(settings, host=host, port=port, simulate_agencies=simulate_agencies)
    except SimulatorsRefused as exc:
        print(exc)
        return 2
    app, settings, engine = served.app, served.settings, served.engine
    simulator_state = served.simulator_state

    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1 (its default);
    # web/deps.py `client_address` believes it only from SIREFUND_TRUSTED_PROXIES.
    server = uvicorn.Server(_uvicorn_config(app, host=host, port=port))
    logsafe.install()  # after uvicorn configured its loggers
    stop = threading.Event()
    thread: threading.Thread | None = None
    adapters: dispatcher.Adapters = {}
    if worker:
        if not settings.agency_url:
            print("--worker needs SIREFUND_AGENCY_URL (or --simulate-agencies)")
            return 2
        adapters = agencies.build_adapters(settings)
        thread = _start_dispatcher(
            settings,
            engine,
            adapters,
            stop,
            until=lambda: bool(server.started),
            sms=served.realname_adapters[0],
        )
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; with
    # SIGTERM's default disposition that kills the process before the finally below stops
    # the worker and disposes of the engine (exit -15). Swallow that echo, then restore.
    echo = (
        {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
        if threading.current_thread() is threading.main_thread()
        else {}
    )
    try:
        server.run()
    finally:
        for sig, handler in echo.items():
            signal.signal(sig, handler)
        _stop_dispatcher(settings, stop, thread, adapters)
        if simulator_state is not None:
            simulator_state.close()
        for outside in (*served.realname_adapters, served.death_registry):
            if outside is not None:
                outside.close()
        engine.dispose()
    return 0


#: How long `serve --workers N` waits for a child's answer to its health ping before it kills
#: the child as hung and starts another. uvicorn's default, 5 s, is shorter than a child's
#: start (spawn, then importing the app) on a loaded host: measured under load average 16 on
#: 2 cores (bench/peak_season.py), every child was killed before it could answer, and again.
WORKER_HEALTHCHECK_SECONDS = 60


def _uvicorn_config(
    app: FastAPI | str, *, host: str, port: int, workers: int | None = None, factory: bool = False
) -> uvicorn.Config:
    """uvicorn as every `serve` runs it. proxy_headers off: uvicorn would believe
    X-Forwarded-For from 127.0.0.1 (its default); web/deps.py `client_address` believes it
    only from SIREFUND_TRUSTED_PROXIES. No log config and no access log of uvicorn's own:
    logconfig.py formats every line, and web/request_id.py writes the access lines with the
    route's template instead of the raw path."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="info",
        proxy_headers=False,
        log_config=None,
        access_log=False,
        workers=workers,
        factory=factory,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


def _start_dispatcher(
    settings: Settings,
    engine: Engine,
    adapters: dispatcher.Adapters,
    stop: threading.Event,
    *,
    until: Callable[[], bool],
    sms: SmsGateway | None = None,
) -> threading.Thread:
    """The dispatcher in a background thread, once `until()` (the server listens: in-process
    simulators only answer then)."""

    def _run() -> None:
        while not until() and not stop.is_set():
            stop.wait(0.05)
        if stop.is_set():  # the server never came up (port taken, ...)
            return
        dispatcher.Dispatcher(
            make_session_factory(engine),
            adapters=adapters,
            settings=settings,
            clock=SystemClock(),
            worker_id=dispatcher.new_worker_id(),
            rng=random.Random(),
            sms=sms,
        ).run_loop(stop=stop)

    thread = threading.Thread(target=_run, name="sirefund-worker", daemon=True)
    thread.start()
    return thread


def _stop_dispatcher(
    settings: Settings,
    stop: threading.Event,
    thread: threading.Thread | None,
    adapters: dispatcher.Adapters,
) -> None:
    """Ask the dispatcher thread (when one runs) to stop, give its attempt in flight the
    agencies' timeout to finish, then close the agency adapters."""
    stop.set()
    if thread is not None:
        thread.join(timeout=settings.agency_timeout_seconds + 5)
    for adapter in adapters.values():
        adapter.close()


# --------------------------------------------------------------------------- many processes

#: How many app processes share the database (each sizes its pool to its share).
PROCESSES_ENV = "SIREFUND_SERVE_PROCESSES"


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket N processes accept on, bound once here.

    Created with `proto=IPPROTO_TCP`. uvicorn's own `Config.bind_socket()` (what plain
    `uvicorn --workers N` and its gunicorn worker use) leaves `proto` at 0; accepted sockets
    inherit it, and asyncio only sets TCP_NODELAY on an accepted socket whose `proto` is
    IPPROTO_TCP, so every keep-alive request after the first waits ~40 ms on the client's
    delayed ACK (Nagle). See uvicorn issue #3149; `bench/serve_workers.py` measures it.
    TCP_NODELAY is also set on the listener, which Linux copies to accepted sockets.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _app_engine(settings: Settings, *, processes: int) -> Engine:
    """The engine of one app process, its pool sized to its share of the connections when
    `processes` processes share the database (Settings.pool_limits)."""
    pool_size, max_overflow = settings.pool_limits(processes)
    return make_engine(
        settings.database_url,
        echo=settings.echo_sql,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pooler=settings.db_pooler,
    )


def app_from_environment() -> FastAPI:
    """The app of one of N `serve --workers N` processes (uvicorn imports it by name in each
    child): settings from the environment like the parent's, a pool sized to 1/N of the
    connections (Settings.pool_limits)."""
    settings = load_settings()
    logconfig.configure(settings.log_format)
    engine = _app_engine(settings, processes=int(os.environ.get(PROCESSES_ENV, "1")))
    return create_app(
        settings, engine=engine, death_registry=agencies.build_death_registry(settings)
    )


class ManyProcessesRefused(ValueError):
    """`serve --workers N` asked for where N processes cannot work."""


def check_many(settings: Settings, *, processes: int, simulate_agencies: bool) -> None:
    if make_url(settings.database_url).get_backend_name() == "sqlite":
        raise ManyProcessesRefused(
            "--workers > 1 needs PostgreSQL: SQLite lets one process write at a time, so "
            "more processes only queue on its lock. Run one process on SQLite."
        )
    if simulate_agencies:
        raise ManyProcessesRefused(
            "--simulate-agencies keeps the simulated agencies in one process's memory; with "
            "--workers > 1 run `sirefund simulate-agencies` on its own and point "
            "SIREFUND_AGENCY_URL at it."
        )


def _fresh_metrics_dir(settings: Settings) -> Path:
    """Where the N processes keep their request metrics for one /metrics to add up
    (prometheus-client multiprocess mode); emptied at each start."""
    path = (settings.var_dir / f"metrics-{os.getpid()}").resolve()
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def serve_many(
    settings: Settings,
    *,
    host: str,
    port: int,
    processes: int,
    worker: bool,
    simulate_agencies: bool,
) -> int:
    """`sirefund serve --workers N`: N app processes (uvicorn's supervisor, which restarts
    one that dies) accepting on one socket bound here with TCP_NODELAY kept
    (`listening_socket`). With `worker`, this parent process runs the dispatcher.
    PostgreSQL only (`check_many`)."""
    try:
        check_many(settings, processes=processes, simulate_agencies=simulate_agencies)
    except ManyProcessesRefused as exc:
        print(exc)
        return 2
    if worker and not settings.agency_url:
        print("--worker needs SIREFUND_AGENCY_URL")
        return 2
    metrics_dir = _fresh_metrics_dir(settings)
    os.environ[MULTIPROC_ENV] = str(metrics_dir)
    os.environ[PROCESSES_ENV] = str(processes)
    sock = listening_socket(host, port)
    config = _uvicorn_config(
        f"{__name__}:app_from_environment", host=host, port=port, workers=processes, factory=True
    )
    stop = threading.Event()
    thread: threading.Thread | None = None
    adapters: dispatcher.Adapters = {}
    engine: Engine | None = None
    sms_gateway: agencies.HttpSmsGateway | None = None
    if worker:
        adapters = agencies.build_adapters(settings)
        engine = make_engine(
            settings.database_url, echo=settings.echo_sql, pool_size=2, pooler=settings.db_pooler
        )
        sms_gateway = agencies.build_realname_adapters(settings)[0]
        thread = _start_dispatcher(
            settings, engine, adapters, stop, until=lambda: True, sms=sms_gateway
        )
    try:
        Multiprocess(config, sockets=[sock]).run()
    finally:
        _stop_dispatcher(settings, stop, thread, adapters)
        if sms_gateway is not None:
            sms_gateway.close()
        if engine is not None:
            engine.dispose()
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def serve_simulators(settings: Settings, *, host: str, port: int) -> int:
    """`sirefund simulate-agencies`: HRSS, medical security and the bank on their own port,
    calling back settings.callback_url (default: the app on 127.0.0.1:8000)."""
    callback_url = settings.callback_url or "http://127.0.0.1:8000/api/v1/callbacks"
    app = create_simulator_app(settings, callback_url=callback_url)
    server = uvicorn.Server(_uvicorn_config(app, host=host, port=port))
    logsafe.install()
    try:
        server.run()
    finally:
        app.state.simulator.close()
    return 0
