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


# The person's "my payments" reads look the session up themselves (deps.PersonReader): the same
# rules as every other authenticated request.

PAYMENT_READS = [
    f"{API}/pension/payments?year=2025",
    f"{API}/medical/payments?insurance_year=2026",
]


def _person_with_payments(session):  # type: ignore[no-untyped-def]
    person = f.make_person(session)
    f.make_pension_payment(session, person, year=2025)
    f.make_medical_payment(session, f.make_registration(session, person), year=2026)
    return person.id


@pytest.fixture
def checkouts(engine):
    """How many connections the app has checked out of the pool so far."""
    seen: list[int] = []

    def _count(*_args):  # type: ignore[no-untyped-def]
        seen.append(1)

    event.listen(engine, "checkout", _count)
    yield lambda: len(seen)
    event.remove(engine, "checkout", _count)


@pytest.mark.parametrize("path", PAYMENT_READS)
def test_a_payments_read_looks_the_session_up_and_reads_on_one_connection(
    client, seed, login, checkouts, path
):
    headers = login("person", seed(_person_with_payments))
    before = checkouts()
    resp = client.get(path, headers=headers)
    assert resp.status_code == 200
    assert checkouts() - before == 1
    body = resp.json()
    assert body["total"] == 1
    # 缴费人 comes with the session: name and the ID number still masked
    payer = body if "payer_name" in body else body["items"][0]
    assert payer["payer_name"] == "邱世贵"
    assert payer["id_number_masked"].count("*") == 16


@pytest.mark.parametrize("path", PAYMENT_READS)
def test_payments_reads_restart_the_idle_timer_with_a_write_at_most_once_a_minute(
    client, seed, login, clock, session_updates, path
):
    headers = login("person", seed(_person_with_payments))
    clock.advance(seconds=30)
    assert client.get(path, headers=headers).status_code == 200
    assert session_updates() == 0
    clock.advance(seconds=35)  # 65 s since the login
    assert client.get(path, headers=headers).json()["total"] == 1
    assert session_updates() == 1
    clock.advance(minutes=29, seconds=30)  # 29:30 idle since the recorded use
    assert client.get(path, headers=headers).status_code == 200
    clock.advance(minutes=30)
    out = client.get(path, headers=headers)
    assert out.status_code == 401


@pytest.mark.parametrize("path", PAYMENT_READS)
def test_payments_reads_refuse_a_logged_out_session_and_other_kinds_of_account(
    client, seed, login, path
):
    headers = login("person", seed(_person_with_payments))
    assert client.delete(f"{API}/sessions/current", headers=headers).status_code == 204
    assert client.get(path, headers=headers).status_code == 401
    unit = login("unit", seed(lambda s: f.make_unit(s).id))
    out = client.get(path, headers=unit)
    assert out.status_code == 403
    assert out.json()["error"]["code"] == "auth.wrong_account_kind"
    assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    ("path", "statements"),
    # pension: the session row comes with the payments; medical: the session row comes with
    # the registrations, then the registration's years and its payments
    zip(PAYMENT_READS, [1, 3], strict=True),
)
def test_on_postgresql_the_session_lookup_is_in_the_reads_first_statement(
    client, seed, login, monkeypatch, db_url, path, statements
):
    import psycopg  # noqa: PLC0415 - PostgreSQL only

    headers = login("person", seed(_person_with_payments))
    sent: list[str] = []
    execute = psycopg.Cursor.execute

    def counting(cursor, query, *args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(str(query))
        return execute(cursor, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)
    resp = client.get(path, headers=headers)
    assert resp.status_code == 200
    assert resp.json()["total"] == 1
    assert len(sent) == statements, sent
