"""Web fixtures: the real app over the test database, and logged-in clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sirefund.config import Settings
from sirefund.services import accounts
from sirefund.web.app import create_app


@pytest.fixture
def settings(db_url: str, tmp_path) -> Settings:
    return Settings(
        database_url=db_url,
        var_dir=tmp_path / "var",
        secret_key="test-secret-key-0123456789abcdef",
        callback_secret="test-callback-secret-0123456789",
    )


@pytest.fixture
def app(settings, engine, clock, realname_sim):
    return create_app(
        settings,
        engine=engine,
        clock=clock,
        sms=realname_sim.sms(),
        identity_check=realname_sim.identity_check(),
        death_registry=realname_sim.death_registry(),
    )


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


@pytest.fixture
def seed(session_factory):
    """seed(fn): run fn(session) in a committed transaction and return its result."""

    def _seed(fn):
        with session_factory() as s, s.begin():
            return fn(s)

    return _seed


@pytest.fixture
def browse(client, session_factory, clock, settings):
    """browse(kind, account_id) -> the CSRF token of a fresh page session (the cookie the
    login pages set) that `client` then carries."""

    def _browse(kind: str, account_id: int) -> str:
        with session_factory() as s, s.begin():
            token, row = accounts.create_session(
                s, kind=kind, account_id=account_id, at=clock.now(), settings=settings
            )
        client.cookies.set("sirefund_session", token)
        return row.csrf_token

    return _browse


@pytest.fixture
def sign_in(browse):
    """sign_in(officer_id) -> the CSRF token: `browse` for an officer (税务端 pages)."""

    def _sign_in(account_id: int, kind: str = "officer") -> str:
        return browse(kind, account_id)

    return _sign_in


@pytest.fixture
def login(app, session_factory, clock, settings):
    """login(kind, account_id) -> headers with a Bearer token for a fresh server session."""

    def _login(kind: str, account_id: int) -> dict[str, str]:
        with session_factory() as s, s.begin():
            token, _ = accounts.create_session(
                s, kind=kind, account_id=account_id, at=clock.now(), settings=settings
            )
        return {"Authorization": f"Bearer {token}"}

    return _login
