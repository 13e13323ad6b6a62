"""Long-running entry points: the web server (optionally with the dispatcher and the agency
simulators in the same process) and the simulators on their own."""

from __future__ import annotations

import logging
import random
import signal
import threading
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine

from . import agencies, logsafe
from . import worker as dispatcher
from .agencies.simulator import SimulatorState, create_simulator_app
from .clock import SystemClock
from .config import Settings
from .db import make_engine, make_session_factory
from .web.app import create_app

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
    engine = make_engine(settings.database_url, echo=settings.echo_sql)
    # The outside services registration calls (services/ports.py), injected here: web/
    # never imports agencies/.
    sms, identity_check = agencies.build_realname_adapters(settings)
    app = create_app(settings, engine=engine, sms=sms, identity_check=identity_check)
    simulator_state: SimulatorState | None = None
    if simulate_agencies:
        simulator = create_simulator_app(settings, callback_url=f"{base}/api/v1/callbacks")
        simulator_state = simulator.state.simulator
        app.mount(SIMULATORS_PATH, simulator)
    return Served(app, settings, engine, simulator_state, (sms, identity_check))


def serve(
    settings: Settings, *, host: str, port: int, worker: bool, simulate_agencies: bool
) -> int:
    """`sirefund serve`: the app under uvicorn until SIGINT / SIGTERM.

    With `simulate_agencies` the simulators are mounted under /_agencies and the adapters
    point there (see `build`); with `worker` the dispatcher runs in a background thread that
    starts once the server listens and stops, after the message in hand, when the server
    shuts down.
    """
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        served = build(settings, host=host, port=port, simulate_agencies=simulate_agencies)
    except SimulatorsRefused as exc:
        print(exc)
        return 2
    app, settings, engine = served.app, served.settings, served.engine
    simulator_state = served.simulator_state

    # proxy_headers off: uvicorn would believe X-Forwarded-For from 127.0.0.1 (its default);
    # web/deps.py `client_address` believes it only from SIREFUND_TRUSTED_PROXIES.
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="info", proxy_headers=False)
    )
    logsafe.install()  # after uvicorn configured its loggers
    stop = threading.Event()
    thread: threading.Thread | None = None
    adapters: dispatcher.Adapters = {}
    if worker:
        if not settings.agency_url:
            print("--worker needs SIREFUND_AGENCY_URL (or --simulate-agencies)")
            return 2
        adapters = agencies.build_adapters(settings)

        def _run() -> None:
            # The in-process simulators only answer once the server listens.
            while not server.started and not stop.is_set():
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
            ).run_loop(stop=stop)

        thread = threading.Thread(target=_run, name="sirefund-worker", daemon=True)
        thread.start()
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
        stop.set()
        if thread is not None:
            thread.join(timeout=settings.agency_timeout_seconds + 5)
        for adapter in adapters.values():
            adapter.close()
        if simulator_state is not None:
            simulator_state.close()
        for outside in served.realname_adapters:
            if outside is not None:
                outside.close()
        engine.dispose()
    return 0


def serve_simulators(settings: Settings, *, host: str, port: int) -> int:
    """`sirefund simulate-agencies`: HRSS, medical security and the bank on their own port,
    calling back settings.callback_url (default: the app on 127.0.0.1:8000)."""
    callback_url = settings.callback_url or "http://127.0.0.1:8000/api/v1/callbacks"
    app = create_simulator_app(settings, callback_url=callback_url)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
    logsafe.install()
    try:
        server.run()
    finally:
        app.state.simulator.close()
    return 0
