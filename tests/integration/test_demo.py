"""`sirefund demo` (what `make demo` runs): a fresh embedded database under var/demo/ with the
generated demo data and the demo accounts, served with /docs; and the real command, both
preparing only (`--no-serve`) and serving until SIGTERM.

The demo is the embedded SQLite default by design, so these tests do not run on PostgreSQL.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from sirefund import demo
from sirefund import generate as gen
from sirefund.clock import SystemClock
from sirefund.db import make_engine, make_session_factory
from sirefund.domain.rules import ArrivalStatus
from sirefund.models import (
    Application,
    MedicalPayment,
    MedicalRegistration,
    Officer,
    PensionPayment,
    Person,
    UnitPayment,
    UnitPaymentPerson,
)
from sirefund.services import accounts
from sirefund.web.app import create_app

PERSONS = 20
SERVE_TIMEOUT = 60.0


def _sirefund() -> list[str]:
    """The installed console script, next to the interpreter running the tests."""
    script = Path(sys.executable).with_name("sirefund")
    assert script.exists(), f"console script not installed at {script} (pip install -e .)"
    return [str(script)]


def _env() -> dict[str, str]:
    # The demo decides its own database; a developer's settings must not redirect it.
    return {k: v for k, v in os.environ.items() if not k.startswith("SIREFUND_")}


def _count(session, model, *where) -> int:
    return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """demo.prepare over a directory holding a stale database and a stray file."""
    demo_dir = tmp_path_factory.mktemp("demo") / "var" / "demo"
    demo_dir.mkdir(parents=True)
    (demo_dir / "sirefund.db").write_bytes(b"not a database: a previous run's leftovers")
    (demo_dir / "stray.txt").write_text("left over")
    settings = demo.prepare(demo_dir, persons=PERSONS)
    return demo_dir, settings


@pytest.fixture(scope="module")
def demo_sessions(prepared):
    _, settings = prepared
    engine = make_engine(settings.database_url)
    yield make_session_factory(engine)
    engine.dispose()


def test_prepare_builds_a_fresh_sqlite_database_in_the_demo_directory(prepared):
    demo_dir, settings = prepared
    url = make_url(settings.database_url)
    assert url.get_backend_name() == "sqlite"
    assert Path(url.database).resolve() == (demo_dir / "sirefund.db").resolve()
    assert not (demo_dir / "stray.txt").exists()


def test_prepare_loads_pension_payments_registrations_and_unit_payments(demo_sessions):
    with demo_sessions() as s:
        counts = {
            model.__name__: _count(s, model)
            for model in (
                Person,
                PensionPayment,
                MedicalRegistration,
                MedicalPayment,
                UnitPayment,
                UnitPaymentPerson,
            )
        }
        demo_person = s.execute(
            select(Person).where(Person.id_number == gen.DEMO_PERSON_ID_NUMBER)
        ).scalar_one()
        own_payments = _count(s, PensionPayment, PensionPayment.person_id == demo_person.id)
        arrival = set(s.execute(select(PensionPayment.arrival_status).distinct()).scalars())
        applications = _count(s, Application)
    assert counts["Person"] >= PERSONS
    assert all(n > 0 for n in counts.values()), counts
    assert own_payments > 0
    assert arrival == {s.value for s in ArrivalStatus}
    assert applications == 0  # fresh: nobody has applied yet


@pytest.mark.parametrize("login", [gen.DEMO_PERSON_ID_NUMBER, demo.DEMO_PHONE])
def test_the_demo_person_logs_in_with_the_demo_password(prepared, demo_sessions, login):
    _, settings = prepared
    with demo_sessions() as s, s.begin():
        token, principal = accounts.login(
            s,
            kind="person",
            login=login,
            password=demo.DEMO_PASSWORD,
            client_address="127.0.0.1",
            at=SystemClock().now(),
            settings=settings,
        )
        person = s.get(Person, principal.account_id)
    assert token and principal.kind == "person"
    assert person.id_number == gen.DEMO_PERSON_ID_NUMBER


def test_the_demo_unit_and_every_demo_officer_logs_in(prepared, demo_sessions):
    """The officers with the password and the code of their demo TOTP secret (printed)."""
    _, settings = prepared
    now = SystemClock().now()
    logins = [("unit", gen.DEMO_UNIT_TAX_ID, None)] + [
        ("officer", code, pyotp.TOTP(secret).at(now))
        for code, _, _, _, secret in demo.DEMO_OFFICERS
    ]
    with demo_sessions() as s, s.begin():
        kinds = [
            accounts.login(
                s,
                kind=kind,
                login=login,
                password=demo.DEMO_PASSWORD,
                otp=otp,
                client_address="127.0.0.1",
                at=now,
                settings=settings,
            )[1].kind
            for kind, login, otp in logins
        ]
        officers = {(o.code, o.region_code) for o in s.execute(select(Officer)).scalars()}
    assert kinds == ["unit", *(["officer"] * len(demo.DEMO_OFFICERS))]
    assert officers == {(code, region) for code, _, region, *_ in demo.DEMO_OFFICERS}
    assert len(officers) == 4  # two reviewers, an auditor, a supervisor


def test_an_app_over_the_demo_database_serves_docs_and_the_demo_persons_payments(prepared):
    _, settings = prepared
    with TestClient(create_app(settings)) as client:
        docs = client.get("/docs")
        spec = client.get("/openapi.json")
        login = client.post(
            "/api/v1/sessions",
            json={
                "kind": "person",
                "login": gen.DEMO_PERSON_ID_NUMBER,
                "password": demo.DEMO_PASSWORD,
            },
        )
        assert login.status_code == 201, login.text
        payments = client.get(
            "/api/v1/pension/payments", headers={"Authorization": f"Bearer {login.json()['token']}"}
        )
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert spec.status_code == 200 and "/api/v1/pension/payments" in spec.json()["paths"]
    assert payments.status_code == 200 and payments.json()["total"] > 0


# --------------------------------------------------------------------------- the real command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sirefund_demo_no_serve_prepares_var_demo_in_the_working_directory_and_prints_logins(
    tmp_path,
):
    done = subprocess.run(
        [*_sirefund(), "demo", "--no-serve", "--persons", str(PERSONS)],
        check=False,
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "var" / "demo" / "sirefund.db").is_file()
    out = done.stdout
    for expected in (
        gen.DEMO_PERSON_ID_NUMBER,
        demo.DEMO_PHONE,
        gen.DEMO_UNIT_TAX_ID,
        demo.DEMO_PASSWORD,
        *(code for code, *_ in demo.DEMO_OFFICERS),
        *(secret for *_, secret in demo.DEMO_OFFICERS),
        "当前动态口令",
        "/docs",
        "/_agencies/_sim/sms/page",
        gen.DEMO_PERSONS[3][0],
        gen.DEMO_PERSONS[gen.DEMO_UNIT_HANDLER][0],
    ):
        assert expected in out, f"{expected!r} not printed:\n{out}"


def test_sirefund_demo_serves_docs_and_the_home_page_and_stops_cleanly_on_sigterm(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [*_sirefund(), "demo", "--port", str(port), "--persons", str(PERSONS)],
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + SERVE_TIMEOUT
        docs = None
        while time.monotonic() < deadline:
            assert proc.poll() is None, (
                f"demo exited early ({proc.returncode}):\n{proc.stdout.read()}"
            )
            try:
                docs = httpx.get(f"{base}/docs", timeout=2)
                if docs.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert docs is not None and docs.status_code == 200, f"/docs not up within {SERVE_TIMEOUT}s"
        assert "text/html" in docs.headers["content-type"]
        home = httpx.get(f"{base}/", follow_redirects=True, timeout=10)
        assert home.status_code == 200 and "text/html" in home.headers["content-type"]
        assert "电子税务局" in home.text
        _a_demo_person_and_the_demo_units_handler_register_with_sms_codes(base)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            pytest.fail(f"demo did not stop within 30 s of SIGTERM:\n{output[-3000:]}")
    assert proc.returncode == 0, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "Application shutdown complete" in output
    # The in-process dispatcher was told to stop and did: the shutdown ran to its end.
    assert re.search(r"worker \S+ stopped", output), output[-3000:]


def _a_demo_person_and_the_demo_units_handler_register_with_sms_codes(base: str) -> None:
    """In the running demo, a generated person (known to the identity simulator from
    identities.csv) and the demo unit's 办税员 (from units.csv) register with the codes the SMS
    simulator shows, and log in."""

    def code_for(phone: str) -> str:
        sent = httpx.post(
            f"{base}/api/v1/verification-codes",
            json={"phone": phone, "purpose": "register"},
            timeout=10,
        )
        assert sent.status_code == 202, sent.text
        messages = httpx.get(f"{base}/_agencies/_sim/sms", params={"phone": phone}, timeout=10)
        return str(messages.json()[0]["code"])

    id_number, name = gen.DEMO_PERSONS[3]
    phone = gen.person_phone(3)
    person = httpx.post(
        f"{base}/api/v1/register/person",
        json={
            "id_number": id_number,
            "name": name,
            "phone": phone,
            "verification_code": code_for(phone),
            "password": "Demo-newcomer-2026",
        },
        timeout=30,
    )
    assert person.status_code == 201, person.text
    handler_id, handler_name = gen.DEMO_PERSONS[gen.DEMO_UNIT_HANDLER]
    handler_phone = gen.person_phone(gen.DEMO_UNIT_HANDLER)
    # The demo unit is registered already: its handler is told so, nobody else could be.
    unit = httpx.post(
        f"{base}/api/v1/register/unit",
        json={
            "tax_id": gen.DEMO_UNIT_TAX_ID,
            "name": gen.DEMO_UNIT_NAME,
            "handler_id_number": handler_id,
            "handler_name": handler_name,
            "handler_phone": handler_phone,
            "verification_code": code_for(handler_phone),
            "password": "Demo-newcomer-2026",
        },
        timeout=30,
    )
    assert unit.status_code == 409, unit.text
    login = httpx.post(
        f"{base}/api/v1/sessions",
        json={"kind": "person", "login": phone, "password": "Demo-newcomer-2026"},
        timeout=30,
    )
    assert login.status_code == 201, login.text
