"""Fixtures for the browser tests: the real app served by uvicorn in a thread on a free
127.0.0.1 port over a migrated SQLite copy (one per test module), Debian's Chromium driven by
Playwright, and the 税务端 officers and cases the console tests arrange in it.

Chromium is never downloaded: without /usr/bin/chromium the tests are skipped with the reason,
except under CI=true, where that is a failure (scripts/ensure-browser.sh installs it).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from tests import factories as f
from tests.conftest import NOW, FixedClock

from sirefund.agencies.deaths import build_death_registry
from sirefund.agencies.realname import build_realname_adapters
from sirefund.agencies.simulator import create_simulator_app
from sirefund.config import Settings
from sirefund.db import make_engine, make_session_factory
from sirefund.models import Application
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
#: The 税务端 screens: an office monitor, and the wider one of the console's first tests.
OFFICE = {"width": 1366, "height": 768}
WIDE = {"width": 1440, "height": 900}


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


@pytest.fixture(scope="module")
def live(applicant_site: dict) -> dict:
    """The module's live server (applicant_site): {"base": URL, "sessions": session factory
    for arranging rows}."""
    return applicant_site


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


def shot(page, name: str) -> Path:
    """Save a full-page screenshot of a 税务端 screen as test-artifacts/officer-NAME.png."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"officer-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --------------------------------------------------------------------------- 税务端

_officer_codes = itertools.count(1)


def add_officer(
    site: dict,
    code: str | None = None,
    *,
    name: str = "李审核",
    region: str = "420700",
    **roles: bool,
) -> str:
    """An officer (password f.PASSWORD, the tests' TOTP secret) in the live site's database;
    returns the code, a fresh E2Ennn one unless given. A TOTP code is accepted once per
    officer, so each login on the fixed clock wants an officer of its own."""
    code = code or f"E2E{next(_officer_codes):03d}"
    with site["sessions"]() as s, s.begin():
        f.make_officer(s, code=code, name=name, region=region, **roles)
    return code


def officer_login(page, site: dict, code: str) -> None:
    """Log officer ``code`` in: the queue sends to /officer/login, and the code the fixed
    clock's authenticator shows opens the queue."""
    page.goto(site["base"] + "/officer/applications")
    assert "/officer/login" in page.url
    page.get_by_label("税务人员代码").fill(code)
    page.get_by_label("密码").fill(f.PASSWORD)
    page.get_by_label("动态口令").fill(f.otp(NOW))
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(re.compile(r".*/officer/applications$"))


def pension_case(
    site: dict,
    *,
    at: datetime = f.AT,
    name: str = "邱世贵",
    region: str = "420703",
    account: str | None = None,
) -> int:
    """A person's pension refund submitted at ``at`` (so awaiting review); its id. The payee's
    own account and phone unless ``account`` is given: one shared by payees is a 风险提示
    (services/risk.py)."""
    with site["sessions"]() as s, s.begin():
        person = f.make_person(s, name=name, region=region)
        app = f.pension_application(
            person,
            f.make_pension_payment(s, person),
            bank_account_no=account or f"62284804{person.id:011d}",
            contact_phone=f"138{person.id:08d}",
        )
        return f.submit(s, app, at=at).id


def status(site: dict, app_id: int) -> str:
    with site["sessions"]() as s:
        return s.get(Application, app_id).status
