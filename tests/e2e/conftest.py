"""Fixtures for the applicant browser tests: the real app served by uvicorn in a thread on a
free 127.0.0.1 port over a migrated SQLite copy, and Debian's Chromium driven by Playwright.

Chromium is never downloaded: without /usr/bin/chromium the tests are skipped with the reason,
except under CI=true, where that is a failure (scripts/ensure-browser.sh installs it).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import FixedClock

from sirefund.agencies.deaths import build_death_registry
from sirefund.agencies.realname import build_realname_adapters
from sirefund.agencies.simulator import create_simulator_app
from sirefund.config import Settings
from sirefund.db import make_engine, make_session_factory
from sirefund.web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PC = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def applicant_chromium() -> str:
    if not Path(CHROMIUM).exists():
        if IN_CI:
            pytest.fail(
                f"CI=true but {CHROMIUM} is missing: the browser tests must run in CI "
                "(scripts/ensure-browser.sh installs chromium and fonts-wqy-microhei)"
            )
        pytest.skip(
            f"browser tests skipped: {CHROMIUM} is not installed "
            "(apt-get install chromium fonts-wqy-microhei)"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def applicant_site(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, applicant_chromium: str
) -> Iterator[dict]:
    """{"base": URL, "sessions": session factory} of the app over a fresh SQLite copy, with
    the tests' fixed clock (2026-03-10: 参保年度 2026)."""
    import uvicorn

    root = tmp_path_factory.mktemp("applicant-e2e")
    db = root / "e2e.db"
    shutil.copyfile(sqlite_template, db)
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    settings = Settings(
        database_url=url,
        var_dir=root / "var",
        secret_key="e2e-secret-key-0123456789abcdef",
        callback_secret="e2e-callback-secret-0123456789",
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    # The SMS gateway and identity simulators mounted as `serve --simulate-agencies` does:
    # registration pages send real codes, tests read them at /_agencies/_sim/sms.
    # The death registry (继承人代办) too, at the agencies' base.
    settings = settings.model_copy(
        update={
            "sms_url": f"{base}/_agencies",
            "identity_url": f"{base}/_agencies",
            "agency_url": f"{base}/_agencies",
        }
    )
    sms, identity_check = build_realname_adapters(settings)
    app = create_app(
        settings,
        engine=engine,
        clock=FixedClock(),
        sms=sms,
        identity_check=identity_check,
        death_registry=build_death_registry(settings),
    )
    app.mount("/_agencies", create_simulator_app(settings, callback_url=None))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    yield {"base": base, "sessions": make_session_factory(engine)}
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    engine.dispose()


@pytest.fixture(scope="module")
def applicant_browser(applicant_chromium: str) -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=applicant_chromium, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(applicant_browser, applicant_site):
    """open_page(viewport=PC) -> a page in a fresh context (own cookies), zh-CN. Pages fail
    the test on a JavaScript error; window.confirm questions are answered yes."""
    contexts = []
    errors: list[str] = []

    def _open(viewport: dict = PC, *, javascript: bool = True):
        context = applicant_browser.new_context(
            locale="zh-CN", viewport=viewport, java_script_enabled=javascript
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield _open
    for context in contexts:
        context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"applicant-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
