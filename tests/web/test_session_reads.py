"""Reads stay reads (issue 12, part 1): a request restarts the session's idle timer without
writing the session row each time, and on SQLite a read does not take the write lock."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event, make_url

from tests import factories as f

API = "/api/v1"


@pytest.fixture
def session_updates(engine):
    """How many UPDATEs of auth_sessions the app has sent so far."""
    seen: list[str] = []

    def _count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE AUTH_SESSIONS"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", _count)
    yield lambda: len(seen)
    event.remove(engine, "before_cursor_execute", _count)


def test_requests_within_a_minute_of_the_recorded_use_do_not_write_the_session(
    client, seed, login, clock, session_updates
):
    headers = login("person", seed(lambda s: f.make_person(s).id))
    for _ in range(5):
        clock.advance(seconds=10)
        assert client.get(f"{API}/me", headers=headers).status_code == 200
    assert session_updates() == 0
    clock.advance(seconds=15)  # 65 s since the login: 1/30 of the 30 idle minutes has passed
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    assert session_updates() == 1
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    assert session_updates() == 1


def test_a_session_idles_out_30_minutes_after_its_recorded_use_at_most_a_minute_early(
    client, seed, login, clock
):
    a = login("person", seed(lambda s: f.make_person(s).id))
    b = login("person", seed(lambda s: f.make_person(s, id_number=f.resident_id(seq=7)).id))
    clock.advance(minutes=20)
    for headers in (a, b):
        assert client.get(f"{API}/me", headers=headers).status_code == 200  # recorded
    clock.advance(seconds=50)
    for headers in (a, b):
        assert client.get(f"{API}/me", headers=headers).status_code == 200  # not recorded
    clock.advance(minutes=29, seconds=9)  # 29:59 after the recorded use, 29:09 after the last
    assert client.get(f"{API}/me", headers=a).status_code == 200
    clock.advance(seconds=1)
    assert client.get(f"{API}/me", headers=b).status_code == 401


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_authenticated_read_answers_while_another_process_holds_the_write_lock(
    client, seed, login, db_url
):
    headers = login("person", seed(lambda s: f.make_person(s).id))
    writer = sqlite3.connect(make_url(db_url).database, isolation_level=None, timeout=1)
    writer.execute("BEGIN IMMEDIATE")  # held for the whole request
    try:
        assert client.get(f"{API}/me", headers=headers).status_code == 200
        resp = client.get(f"{API}/pension/payments", headers=headers)
        assert resp.status_code == 200
    finally:
        writer.execute("ROLLBACK")
        writer.close()
