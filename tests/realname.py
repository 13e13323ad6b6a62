"""The SMS gateway and identity simulators for tests, over real HTTP: one simulator app on a
free 127.0.0.1 port per test run (`realname_sim` in tests/conftest.py), the adapters the app
gets pointing at it, and helpers that register a person or a unit the way a citizen does
(identity seeded, code asked for, read from the SMS simulator, registration posted).

Phones: `fresh_phone()` gives each caller its own, so tests never share one's 60 s limit.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import httpx
import uvicorn
from sqlalchemy.orm import Session

from sirefund.agencies.deaths import HttpDeathRegistry
from sirefund.agencies.realname import HttpIdentityCheck, HttpSmsGateway
from sirefund.agencies.simulator import create_simulator_app
from sirefund.config import Settings
from sirefund.services import accounts, verification

SECRET = "test-callback-secret-0123456789"
_phones = itertools.count(1)
#: The simulator of this run, once `serve_realname_sim` started it.
RUNNING: list[RealNameSim] = []


def fresh_phone() -> str:
    """A mobile number no other test has used in this run."""
    return f"139{next(_phones):08d}"


class RealNameSim:
    """The running simulators: what they sent, whom they know, and adapters for them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http = httpx.Client(base_url=url, timeout=5)
        self._sms: HttpSmsGateway | None = None
        self._identity: HttpIdentityCheck | None = None
        self._deaths: HttpDeathRegistry | None = None

    def add_identity(self, id_number: str, name: str, phone: str) -> None:
        r = self._http.post(
            "/_sim/identities", json=[{"id_number": id_number, "name": name, "phone": phone}]
        )
        r.raise_for_status()

    def add_death(self, id_number: str, death_date: str, name: str | None = None) -> None:
        """HRSS's death registry learns of this death (POST /_sim/deaths)."""
        item = {"id_number": id_number, "death_date": death_date}
        if name is not None:
            item["name"] = name
        r = self._http.post("/_sim/deaths", json=[item])
        r.raise_for_status()

    def messages(self, phone: str) -> list[dict[str, Any]]:
        r = self._http.get("/_sim/sms", params={"phone": phone})
        r.raise_for_status()
        items: list[dict[str, Any]] = r.json()
        return items

    def latest_code(self, phone: str) -> str:
        messages = self.messages(phone)
        assert messages, "no text message was sent to this phone"
        return str(messages[0]["code"])

    def sms(self) -> HttpSmsGateway:
        """The SMS gateway adapter of the app, pointing at this simulator (one per run)."""
        if self._sms is None:
            self._sms = HttpSmsGateway(self.url, secret=SECRET, timeout_seconds=5)
        return self._sms

    def identity_check(self) -> HttpIdentityCheck:
        if self._identity is None:
            self._identity = HttpIdentityCheck(self.url, secret=SECRET, timeout_seconds=5)
        return self._identity

    def death_registry(self) -> HttpDeathRegistry:
        if self._deaths is None:
            self._deaths = HttpDeathRegistry(self.url, secret=SECRET, timeout_seconds=5)
        return self._deaths

    def close(self) -> None:
        for adapter in (self._sms, self._identity, self._deaths):
            if adapter is not None:
                adapter.close()
        self._http.close()


def serve_realname_sim() -> Iterator[RealNameSim]:
    """The simulator app under uvicorn in a thread for as long as the generator lives."""
    app = create_simulator_app(
        Settings(secret_key="test-secret-key-0123456789abcdef", callback_secret=SECRET),
        callback_url=None,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the SMS / identity simulator did not start")
        time.sleep(0.01)
    sim = RealNameSim(f"http://127.0.0.1:{port}")
    RUNNING.append(sim)
    yield sim
    RUNNING.remove(sim)
    sim.close()
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def running() -> RealNameSim:
    assert RUNNING, "use the realname_sim fixture (web tests' `app` does)"
    return RUNNING[0]


def send_code(client: Any, phone: str, *, api: str = "/api/v1") -> str:
    """Ask for a registration code for `phone` and read it from the SMS simulator."""
    sent = client.post(f"{api}/verification-codes", json={"phone": phone, "purpose": "register"})
    assert sent.status_code == 202, sent.text
    return running().latest_code(phone)


def register_unit(
    client: Any,
    *,
    tax_id: str,
    name: str,
    handler: tuple[str, str, str],
    password: str,
    api: str = "/api/v1",
) -> httpx.Response:
    """Register a unit through the API as its 办税员 on record does."""
    handler_id, handler_name, handler_phone = handler
    response: httpx.Response = client.post(
        f"{api}/register/unit",
        json={
            "tax_id": tax_id,
            "name": name,
            "handler_id_number": handler_id,
            "handler_name": handler_name,
            "handler_phone": handler_phone,
            "verification_code": send_code(client, handler_phone, api=api),
            "password": password,
        },
    )
    return response


def register_person(
    client: Any,
    *,
    id_number: str,
    name: str,
    password: str,
    phone: str | None = None,
    username: str | None = None,
    api: str = "/api/v1",
) -> httpx.Response:
    """Register a person through the API as a citizen does: the identity service knows them
    with this phone, a code is asked for and read from the SMS simulator."""
    phone = phone or fresh_phone()
    running().add_identity(id_number, name, phone)
    body = {
        "id_number": id_number,
        "name": name,
        "phone": phone,
        "verification_code": send_code(client, phone, api=api),
        "password": password,
    }
    if username is not None:
        body["username"] = username
    response: httpx.Response = client.post(f"{api}/register/person", json=body)
    return response


def register_person_service(
    session: Session,
    *,
    settings: Settings,
    at: datetime,
    today: date,
    id_number: str,
    name: str,
    password: str,
    phone: str | None = None,
    username: str | None = None,
    known_to_identity_service: bool = True,
) -> accounts.PersonAccount:
    """accounts.register_person as a citizen gets there: (the identity service knows them
    with this phone,) a code is sent to the phone through the SMS simulator and read back."""
    sim = running()
    phone = phone or fresh_phone()
    if known_to_identity_service:
        sim.add_identity(id_number, name, phone)
    verification.send_code(
        session,
        phone=phone,
        purpose="register",
        client_address="192.0.2.50",
        sms=sim.sms(),
        at=at,
        settings=settings,
    )
    return accounts.register_person(
        session,
        id_number=id_number,
        name=name,
        phone=phone,
        verification_code=sim.latest_code(phone),
        password=password,
        username=username,
        identity_check=sim.identity_check(),
        at=at,
        today=today,
        settings=settings,
    )
