"""Accounts and sessions through the API: registration, login, throttling, logout, expiry,
cookies with CSRF, password hashing. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from sirefund.config import Settings
from sirefund.models import LoginFailure, Person, SecurityEvent, Unit
from sirefund.services import passwords
from sirefund.web.deps import CSRF_HEADER, SESSION_COOKIE, CurrentPrincipal
from tests import realname
from tests.factories import PASSWORD, make_officer, make_person, make_unit, otp, resident_id
from tests.realname import fresh_phone

API = "/api/v1"
NEW_PASSWORD = "Hubei-2026-refund"


def _seed(session_factory, build):  # type: ignore[no-untyped-def]
    """Run `build(session)` in a committed transaction and return its result."""
    with session_factory() as s:
        with s.begin():
            result = build(s)
        s.expunge_all()
    return result


def _register(client: TestClient, **overrides: object):  # type: ignore[no-untyped-def]
    """A real-name registration: the identity service knows this ID, name and phone, and the
    code sent to the phone is read from the SMS simulator (unless `verification_code` is
    given, or the phone is none the gateway takes)."""
    body = {
        "id_number": resident_id(),
        "name": "邱世贵",
        "phone": fresh_phone(),
        "password": NEW_PASSWORD,
    } | overrides
    sim = realname.running()
    sim.add_identity(str(body["id_number"]), str(body["name"]), str(body["phone"]))
    if "verification_code" not in body:
        sent = client.post(
            f"{API}/verification-codes", json={"phone": body["phone"], "purpose": "register"}
        )
        body["verification_code"] = (
            sim.latest_code(str(body["phone"])) if sent.status_code == 202 else "000000"
        )
    return client.post(f"{API}/register/person", json=body)


def _login(client: TestClient, kind: str, login: str, password: str = PASSWORD, **more: str):  # type: ignore[no-untyped-def]
    body = {"kind": kind, "login": login, "password": password} | more
    return client.post(f"{API}/sessions", json=body)


def _bearer(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {response.json()['token']}"}


def _error(response) -> dict:  # type: ignore[no-untyped-def]
    return response.json()["error"]


# --------------------------------------------------------------------------- registration


def test_registering_an_unknown_id_creates_the_person_with_an_argon2id_hash(
    client, session_factory
):
    id_number = resident_id(region="420102")
    r = _register(client, id_number=id_number, username="Qiu_SG", phone="13812341234")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id_number_masked"] == id_number[0] + "*" * 16 + id_number[-1]
    assert body["phone_masked"] == "138****1234"
    assert body["username"] == "qiu_sg"
    assert id_number not in r.text and "13812341234" not in r.text
    with session_factory() as s:
        person = s.execute(select(Person).where(Person.id_number == id_number)).scalar_one()
        assert person.region_code == "420102"
        assert person.password_hash.startswith("$argon2id$")
        assert NEW_PASSWORD not in person.password_hash


def test_registering_a_known_id_keeps_the_imported_person(client, session_factory):
    known = _seed(session_factory, lambda s: make_person(s, name="王秀英"))
    r = _register(client, id_number=known.id_number, name="王秀英")
    assert r.status_code == 201, r.text
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Person)) == 1
        assert s.get(Person, known.id).password_hash is not None


def test_registering_a_known_id_with_another_name_is_refused(client, session_factory):
    known = _seed(session_factory, lambda s: make_person(s, name="王秀英"))
    r = _register(client, id_number=known.id_number, name="王秀兰")
    assert r.status_code == 422
    assert _error(r) == {
        "code": "register.name_mismatch",
        "message": _error(r)["message"],
        "field": "name",
    }
    with session_factory() as s:
        assert s.get(Person, known.id).password_hash is None


def test_registering_an_id_with_a_wrong_check_digit_is_refused(client):
    good = resident_id()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    r = _register(client, id_number=bad)
    assert r.status_code == 422
    assert _error(r)["code"] == "id_number.check_digit"
    assert _error(r)["field"] == "id_number"


def test_registering_twice_is_a_conflict(client):
    id_number = resident_id()
    assert _register(client, id_number=id_number).status_code == 201
    r = _register(client, id_number=id_number)
    assert r.status_code == 409
    assert _error(r)["code"] == "register.already_registered"


def test_registration_never_says_that_a_phone_has_an_account(client, session_factory, clock):
    # The number was given up by its first holder and is now, by the carrier's real-name
    # record, someone else's: the new holder registers, and the old account lets go of it.
    first = _register(client, phone="13700001111")
    assert first.status_code == 201
    clock.advance(seconds=61)
    second_id = resident_id()
    r = _register(client, id_number=second_id, name="王秀英", phone="13700001111")
    assert r.status_code == 201, r.text
    with session_factory() as s:
        holders = s.execute(select(Person.name).where(Person.phone == "13700001111")).all()
        events = [e.kind for e in s.execute(select(SecurityEvent)).scalars()]
    assert holders == [("王秀英",)]
    assert "register.phone_reassigned" in events


def test_a_username_already_in_use_is_refused_whatever_its_case(client):
    assert _register(client, username="villager_1").status_code == 201
    r = _register(client, username="Villager_1")
    assert r.status_code == 409
    assert _error(r)["code"] == "register.username_taken"


@pytest.mark.parametrize("username", ["abc", "12345678", "bad name", "名字名字"])
def test_a_malformed_username_is_refused(client, username):
    r = _register(client, username=username)
    assert r.status_code == 422
    assert _error(r)["field"] == "username"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short1!", "password.too_short"),
        ("password123", "password.weak"),
        ("woaini1314", "password.weak"),
        ("aaaaaaaaaaaa", "password.weak"),
        ("woaini123", "password.weak"),
        ("Password1", "password.weak"),
        ("qwerty123456", "password.weak"),
    ],
)
def test_weak_or_common_passwords_are_refused(client, password, code):
    r = _register(client, password=password)
    assert r.status_code == 422
    assert _error(r)["code"] == code
    assert _error(r)["field"] == "password"


@pytest.mark.parametrize(
    "password",
    ["13655556666", "Tel:13655556666!", "{id_number}", "zz{id_number}!Q", "Born{birth}-ok!"],
)
def test_a_password_containing_the_phone_id_number_or_birth_date_is_refused(client, password):
    id_number = resident_id()
    r = _register(
        client,
        id_number=id_number,
        phone="13655556666",
        password=password.format(id_number=id_number, birth=id_number[6:14]),
    )
    assert r.status_code == 422
    assert (_error(r)["code"], _error(r)["field"]) == ("password.weak", "password")
    assert "证件号码" in _error(r)["message"]


def test_a_strong_passphrase_is_accepted(client):
    r = _register(client, password="lantern Orchard 47 drifting")
    assert r.status_code == 201


def test_a_landline_is_not_accepted_as_the_account_phone(client):
    r = _register(client, phone="027-87654321")
    assert r.status_code == 422
    assert _error(r)["field"] == "phone"


HANDLER_NAME = "刘桂芳"


def _unit_with_handler(session_factory, name: str = "新庙村村民委员会"):  # type: ignore[no-untyped-def]
    handler = (resident_id(birth="19850715"), HANDLER_NAME, fresh_phone())
    unit = _seed(session_factory, lambda s: make_unit(s, name=name, handler=handler))
    return unit, handler


def _register_unit(client, *, tax_id, name, handler, code=None):  # type: ignore[no-untyped-def]
    handler_id, handler_name, handler_phone = handler
    if code is None:
        code = realname.send_code(client, handler_phone)
    return client.post(
        f"{API}/register/unit",
        json={
            "tax_id": tax_id,
            "name": name,
            "handler_id_number": handler_id,
            "handler_name": handler_name,
            "handler_phone": handler_phone,
            "verification_code": code,
            "password": NEW_PASSWORD,
        },
    )


def test_a_known_unit_registers_through_its_handler_on_record(client, session_factory, clock):
    unit, handler = _unit_with_handler(session_factory)
    r = _register_unit(client, tax_id=unit.tax_id.lower(), name="新庙村村民委员会", handler=handler)
    assert r.status_code == 201, r.text
    assert r.json()["tax_id"] == unit.tax_id
    with session_factory() as s:
        stored = s.get(Unit, unit.id)
        assert stored.password_hash.startswith("$argon2id$")
        assert stored.verified_at is not None
    clock.advance(seconds=61)
    again = _register_unit(client, tax_id=unit.tax_id, name="新庙村村民委员会", handler=handler)
    assert again.status_code == 409
    assert _error(again)["code"] == "register.already_registered"


def test_an_unknown_unit_cannot_register(client):
    handler = (resident_id(), HANDLER_NAME, fresh_phone())
    r = _register_unit(client, tax_id="91420700MA4KXXXX0X", name="某村", handler=handler)
    assert r.status_code == 422
    assert _error(r)["code"] == "unit.handler_not_on_record"


def test_a_unit_with_another_name_cannot_register(client, session_factory):
    unit, handler = _unit_with_handler(session_factory)
    r = _register_unit(client, tax_id=unit.tax_id, name="旧庙村村民委员会", handler=handler)
    assert r.status_code == 422
    assert _error(r)["code"] == "unit.handler_not_on_record"


@pytest.mark.parametrize("wrong", ["id_number", "name", "phone"])
def test_registering_a_known_unit_with_another_handler_fails(client, session_factory, wrong):
    # The unit's tax ID and name are public; its 办税员 on record is what is not.
    unit, (handler_id, handler_name, handler_phone) = _unit_with_handler(session_factory)
    impostor = {
        "id_number": (resident_id(birth="19900101"), handler_name, handler_phone),
        "name": (handler_id, "王小明", handler_phone),
        "phone": (handler_id, handler_name, fresh_phone()),
    }[wrong]
    r = _register_unit(client, tax_id=unit.tax_id, name="新庙村村民委员会", handler=impostor)
    assert r.status_code == 422
    assert _error(r) | {"message": ""} == {
        "code": "unit.handler_not_on_record",
        "message": "",
        "field": "handler_id_number",
    }
    with session_factory() as s:
        assert s.get(Unit, unit.id).password_hash is None


def test_a_unit_without_a_handler_on_record_cannot_register(client, session_factory):
    unit = _seed(session_factory, lambda s: make_unit(s, name="新庙村村民委员会"))
    handler = (resident_id(), HANDLER_NAME, fresh_phone())
    r = _register_unit(client, tax_id=unit.tax_id, name="新庙村村民委员会", handler=handler)
    assert r.status_code == 422
    assert _error(r)["code"] == "unit.handler_not_on_record"


def test_a_unit_handler_needs_the_code_sent_to_the_phone_on_record(client, session_factory):
    unit, handler = _unit_with_handler(session_factory)
    r = _register_unit(
        client, tax_id=unit.tax_id, name="新庙村村民委员会", handler=handler, code="123456"
    )
    assert r.status_code == 422
    assert _error(r)["code"] == "verification.code_invalid"


# --------------------------------------------------------------------------- login


def test_a_registered_person_logs_in_by_id_number_phone_or_username(client):
    id_number = resident_id()
    assert (
        _register(
            client, id_number=id_number, phone="13512345678", username="qiushigui"
        ).status_code
        == 201
    )
    for login in (id_number, id_number.lower(), "135 1234 5678", "QiuShiGui"):
        r = _login(client, "person", login, NEW_PASSWORD)
        assert r.status_code == 201, (login, r.text)
        body = r.json()
        assert body["kind"] == "person" and body["display_name"] == "邱世贵"
        assert body["token"] and body["csrf_token"] and body["expires_at"]
        me = client.get(f"{API}/me", headers=_bearer(r))
        assert me.status_code == 200
        assert me.json()["id_number_masked"] == id_number[0] + "*" * 16 + id_number[-1]
        assert me.json()["phone_masked"] == "135****5678"


def test_login_sets_the_token_as_an_httponly_samesite_lax_cookie(client, session_factory):
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    r = _login(client, "person", person.id_number)
    assert r.status_code == 201
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}={r.json()['token']};")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert "secure" not in cookie.lower()  # cookie_secure is off in the test settings


def test_the_session_cookie_is_secure_when_configured(client, session_factory, settings):
    settings.cookie_secure = True
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    r = _login(client, "person", person.id_number)
    assert "secure" in r.headers["set-cookie"].lower()


def test_a_unit_logs_in_by_tax_id_and_an_officer_by_code_and_otp(client, session_factory, clock):
    unit, officer = _seed(
        session_factory,
        lambda s: (make_unit(s, password=PASSWORD), make_officer(s, code="OF7001", name="李审核")),
    )
    r = _login(client, "unit", unit.tax_id)
    assert r.status_code == 201
    assert r.json()["kind"] == "unit"
    assert client.get(f"{API}/me", headers=_bearer(r)).json()["tax_id"] == unit.tax_id
    r = _login(client, "officer", "OF7001", otp=otp(clock.now()))
    assert r.status_code == 201
    assert r.json() | {"token": "", "csrf_token": "", "expires_at": ""} == {
        "token": "",
        "kind": "officer",
        "display_name": "李审核",
        "csrf_token": "",
        "expires_at": "",
    }
    assert client.get(f"{API}/me", headers=_bearer(r)).json()["officer_code"] == "OF7001"


def test_an_account_kind_does_not_log_in_as_another_kind(client, session_factory):
    unit = _seed(session_factory, lambda s: make_unit(s, password=PASSWORD))
    assert _login(client, "person", unit.tax_id).status_code == 401


def test_a_wrong_password_and_an_unknown_account_get_the_same_401(client, session_factory):
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    wrong = _login(client, "person", person.id_number, "Wrong-passw0rd")
    unknown = _login(client, "person", resident_id(), "Wrong-passw0rd")
    imported_only = _seed(session_factory, make_person)  # never registered
    unregistered = _login(client, "person", imported_only.id_number, PASSWORD)
    for r in (wrong, unknown, unregistered):
        assert r.status_code == 401
        assert r.json() == {
            "error": {
                "code": "auth.invalid_credentials",
                "message": "账号或密码错误",
                "field": None,
            }
        }
        assert SESSION_COOKIE not in r.headers.get("set-cookie", "")


def test_a_deactivated_officer_cannot_log_in(client, session_factory, clock):
    def build(s):  # type: ignore[no-untyped-def]
        o = make_officer(s, code="OF7002")
        o.active = False
        return o

    _seed(session_factory, build)
    assert _login(client, "officer", "OF7002", otp=otp(clock.now())).status_code == 401


# --------------------------------------------------------------------------- officers' second factor

OFFICER_REFUSED = {
    "error": {
        "code": "auth.invalid_credentials",
        "message": "账号、密码或动态口令错误",
        "field": None,
    }
}


def test_an_officer_without_a_right_otp_gets_the_message_of_a_wrong_password(
    client, session_factory, settings, clock
):
    settings.login_free_failures = 10
    _seed(session_factory, lambda s: make_officer(s, code="OF7101"))
    now = clock.now()
    refused = [
        _login(client, "officer", "OF7101"),  # no otp
        _login(client, "officer", "OF7101", otp=""),
        _login(client, "officer", "OF7101", otp="12345x"),
        _login(client, "officer", "OF7101", otp=otp(now - timedelta(minutes=5))),  # stale
        _login(client, "officer", "OF7101", "Wrong-passw0rd", otp=otp(now)),  # wrong password
    ]
    for r in refused:
        assert (r.status_code, r.json()) == (401, OFFICER_REFUSED)
        assert SESSION_COOKIE not in r.headers.get("set-cookie", "")
    # The wrong password did not use the code up: it still opens a session.
    assert _login(client, "officer", "OF7101", otp=otp(now)).status_code == 201


def test_an_officers_otp_is_accepted_once_only(client, session_factory, clock):
    _seed(session_factory, lambda s: make_officer(s, code="OF7102"))
    code = otp(clock.now())
    assert _login(client, "officer", "OF7102", otp=code).status_code == 201
    replayed = _login(client, "officer", "OF7102", otp=code)
    assert (replayed.status_code, replayed.json()) == (401, OFFICER_REFUSED)
    # Ten seconds on, still the same step: the same code is still refused.
    clock.advance(seconds=10)
    assert _login(client, "officer", "OF7102", otp=code).status_code == 401
    # The code of the previous step (clock drift) is older than the one used: refused too.
    assert (
        _login(
            client, "officer", "OF7102", otp=otp(clock.now() - timedelta(seconds=30))
        ).status_code
        == 401
    )
    # The next step's code is new: accepted.
    clock.advance(seconds=30)
    assert _login(client, "officer", "OF7102", otp=otp(clock.now())).status_code == 201


def test_a_code_of_the_neighbouring_step_is_accepted_for_a_drifting_phone(
    client, session_factory, clock
):
    _seed(session_factory, lambda s: make_officer(s, code="OF7103"))
    late = otp(clock.now() - timedelta(seconds=30))
    assert _login(client, "officer", "OF7103", otp=late).status_code == 201


def test_wrong_otps_count_as_failures_and_throttle_the_officer(
    client, session_factory, settings, clock
):
    _seed(session_factory, lambda s: make_officer(s, code="OF7104"))
    for _ in range(3):
        assert _login(client, "officer", "OF7104", otp="000000").status_code == 401
    assert _login(client, "officer", "OF7104", otp=otp(clock.now())).status_code == 429


# --------------------------------------------------------------------------- throttling


def _fail(client: TestClient, login: str, times: int, kind: str = "person") -> None:
    for _ in range(times):
        assert _login(client, kind, login, "Wrong-passw0rd").status_code == 401


def _other_address(app: FastAPI, host: str) -> TestClient:
    return TestClient(app, raise_server_exceptions=False, client=(host, 50000))


def _throttled(wait: str) -> dict:
    return {
        "error": {
            "code": "auth.throttled",
            "message": f"登录失败次数过多，请{wait}后再试",
            "field": None,
        }
    }


THROTTLED = _throttled("15分钟")


def test_an_account_waits_a_growing_delay_after_too_many_failures_even_with_the_right_password(
    client, app, session_factory, settings, clock
):
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    _fail(client, person.id_number, 3)
    r = _login(client, "person", person.id_number)
    assert r.status_code == 429
    assert r.json() == _throttled("5秒")
    assert r.headers["retry-after"] == "5"
    # From another address too: the account itself is protected.
    with _other_address(app, "198.51.100.20") as elsewhere:
        assert _login(elsewhere, "person", person.id_number).status_code == 429
    with session_factory() as s:
        event = s.execute(select(SecurityEvent)).scalars().first()
        assert event is not None and event.kind == "login.throttled"
        assert person.id_number not in (event.detail or "")
        assert all(
            person.id_number not in f.scope for f in s.execute(select(LoginFailure)).scalars()
        )
    # One more failure once the delay has passed doubles it.
    clock.advance(seconds=5)
    _fail(client, person.id_number, 1)
    assert _login(client, "person", person.id_number).headers["retry-after"] == "10"
    # The owner is slowed down, not locked out: once the delay has passed, they get in.
    clock.advance(seconds=10)
    assert _login(client, "person", person.id_number).status_code == 201


def test_an_unknown_account_is_throttled_exactly_like_a_known_one(
    client, app, settings, session_factory
):
    settings.login_address_max_failures = 3
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    ghost = resident_id(region="420102")
    _fail(client, ghost, 3)
    with _other_address(app, "198.51.100.40") as elsewhere:
        unknown = _login(elsewhere, "person", ghost, "Wrong-passw0rd")
        assert (unknown.status_code, unknown.json()) == (429, _throttled("5秒"))
        # Refused attempts are not failures: that address is still free for real accounts.
        assert _login(elsewhere, "person", person.id_number).status_code == 201
    # The known account from the failing address: throttled by the address, same answer.
    known = _login(client, "person", person.id_number)
    assert (known.status_code, known.json()) == (429, THROTTLED)


def test_one_address_failing_on_many_accounts_is_throttled_but_others_are_not(
    client, app, session_factory, settings
):
    settings.login_address_max_failures = 3
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    with _other_address(app, "203.0.113.7") as attacker:
        for _ in range(3):
            _fail(attacker, resident_id(), 1)
        assert _login(attacker, "person", person.id_number).status_code == 429
    # The account itself had no failures: its owner elsewhere logs in.
    assert _login(client, "person", person.id_number).status_code == 201


def test_a_successful_login_clears_the_accounts_failures(client, app, session_factory, settings):
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    with _other_address(app, "198.51.100.30") as first:
        _fail(first, person.id_number, 2)
        assert _login(first, "person", person.id_number).status_code == 201
    with _other_address(app, "198.51.100.31") as second:
        _fail(second, person.id_number, 2)
        assert _login(second, "person", person.id_number).status_code == 201


def _fail_via(client: TestClient, forwarded_for: str) -> int:
    """A failed login of a new account, claiming to come from `forwarded_for`."""
    r = client.post(
        f"{API}/sessions",
        json={"kind": "person", "login": resident_id(), "password": "Wrong-passw0rd"},
        headers={"X-Forwarded-For": forwarded_for},
    )
    return r.status_code


def test_rotating_x_forwarded_for_does_not_escape_the_per_address_budget(
    app, session_factory, settings
):
    settings.login_address_max_failures = 3
    with _other_address(app, "203.0.113.66") as attacker:
        codes = [_fail_via(attacker, f"198.51.100.{n}") for n in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    with session_factory() as s:
        scopes = {f.scope for f in s.execute(select(LoginFailure)).scalars()}
    assert "addr:203.0.113.66" in scopes
    assert not any(scope.startswith("addr:198.51.100.") for scope in scopes)


def test_x_forwarded_for_is_believed_from_a_trusted_proxy_only_for_the_hop_it_added(
    app, session_factory, settings
):
    settings.login_address_max_failures = 3
    settings.trusted_proxies = "10.0.0.0/8, 192.0.2.10"
    with _other_address(app, "10.1.2.3") as proxy:
        # The client behind the proxy puts its own fake hops first: they are not believed.
        codes = [_fail_via(proxy, f"192.0.2.{n}, 203.0.113.77") for n in range(4)]
        assert codes == [401, 401, 401, 429]
        # Another client behind the same proxy has its own budget; a chain of trusted proxies
        # (192.0.2.10, then 10.1.2.3) is walked back to the first address that is no proxy.
        assert _fail_via(proxy, "203.0.113.78, 192.0.2.10") == 401
    with session_factory() as s:
        scopes = {f.scope for f in s.execute(select(LoginFailure)).scalars()}
    assert {"addr:203.0.113.77", "addr:203.0.113.78"} <= scopes
    assert "addr:10.1.2.3" not in scopes


def _unknown_unit(client: TestClient, forwarded_for: str | None = None) -> int:
    """A registration attempt of a unit that is not on record (refused at once: 422)."""
    r = client.post(
        f"{API}/register/unit",
        json={
            "tax_id": "91420700MA4KXXXX0X",
            "name": "无此村",
            "handler_id_number": "420703198507150026",
            "handler_name": "刘桂芳",
            "handler_phone": "13972001234",
            "verification_code": "000000",
            "password": NEW_PASSWORD,
        },
        headers={"X-Forwarded-For": forwarded_for} if forwarded_for else None,
    )
    return r.status_code


def test_the_eleventh_registration_from_one_address_in_the_window_is_throttled(
    client, app, settings, clock
):
    assert (settings.register_address_max_attempts, settings.register_window_seconds) == (10, 900)
    with _other_address(app, "203.0.113.90") as attacker:
        codes = [_unknown_unit(attacker) for _ in range(9)]
        clock.advance(seconds=100)
        # Persons and units share the address's budget.
        codes.append(_register(attacker).status_code)
        throttled = _register(attacker, id_number=resident_id())
        assert codes == [422] * 9 + [201]
        assert throttled.status_code == 429
        assert throttled.json() == {
            "error": {
                "code": "register.too_frequent",
                "message": "注册尝试过于频繁，请14分钟后再试",  # 800 s
                "field": None,
            }
        }
        assert throttled.headers["retry-after"] == "800"  # the oldest attempt leaves then
        assert _unknown_unit(attacker) == 429
        # Another address is not affected.
        assert _unknown_unit(client) == 422
        # Once the oldest attempts have left the window, the address may try again.
        clock.advance(seconds=800)
        assert _unknown_unit(attacker) == 422


def test_rotating_x_forwarded_for_does_not_escape_the_registration_budget(
    app, session_factory, settings
):
    with _other_address(app, "203.0.113.91") as attacker:
        codes = [_unknown_unit(attacker, f"198.51.100.{n}") for n in range(12)]
    assert codes == [422] * 10 + [429, 429]
    with session_factory() as s:
        scopes = {f.scope for f in s.execute(select(LoginFailure)).scalars()}
        events = [e.kind for e in s.execute(select(SecurityEvent)).scalars()]
    assert scopes == {"reg:addr:203.0.113.91"}
    assert events == ["register.throttled", "register.throttled"]


def test_a_trusted_proxies_setting_that_is_no_address_list_is_refused():
    with pytest.raises(ValueError, match="trusted_proxies"):
        Settings(trusted_proxies="10.0.0.0/8, proxy.internal")


# --------------------------------------------------------------------------- sessions


def test_logout_ends_the_session_on_the_server(client, session_factory):
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    r = _login(client, "person", person.id_number)
    headers = _bearer(r)
    client.cookies.clear()
    out = client.delete(f"{API}/sessions/current", headers=headers)
    assert out.status_code == 204
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"]
    again = client.get(f"{API}/me", headers=headers)
    assert again.status_code == 401
    assert _error(again)["code"] == "auth.required"


def test_a_session_ends_after_30_idle_minutes(client, session_factory, clock):
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    headers = _bearer(_login(client, "person", person.id_number))
    client.cookies.clear()
    clock.advance(minutes=29)
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    clock.advance(minutes=31)
    assert client.get(f"{API}/me", headers=headers).status_code == 401


def test_each_request_restarts_the_idle_timer(client, session_factory, clock, settings):
    settings.session_idle_minutes = 2
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    headers = _bearer(_login(client, "person", person.id_number))
    client.cookies.clear()
    clock.advance(seconds=50)
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    clock.advance(seconds=75)  # 125 s after login, 75 s after the last request
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    clock.advance(seconds=120)
    assert client.get(f"{API}/me", headers=headers).status_code == 401


def test_a_session_ends_after_12_hours_even_when_active(client, session_factory, clock):
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    headers = _bearer(_login(client, "person", person.id_number))
    client.cookies.clear()
    elapsed = 0
    while elapsed + 25 < 12 * 60:
        clock.advance(minutes=25)
        elapsed += 25
        assert client.get(f"{API}/me", headers=headers).status_code == 200, elapsed
    clock.advance(minutes=12 * 60 - elapsed)
    assert client.get(f"{API}/me", headers=headers).status_code == 401


def test_a_cookie_session_needs_the_csrf_token_to_write(app, client, session_factory):
    @app.post("/test-only/write")
    async def _write(principal: CurrentPrincipal) -> dict[str, str]:
        return {"kind": principal.kind}

    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    r = _login(client, "person", person.id_number)
    csrf = r.json()["csrf_token"]
    # The client keeps the cookie; no Authorization header from here on.
    assert client.get(f"{API}/me").status_code == 200
    refused = client.post("/test-only/write")
    assert refused.status_code == 403
    assert _error(refused)["code"] == "auth.csrf"
    assert client.post("/test-only/write", headers={CSRF_HEADER: "forged"}).status_code == 403
    assert client.post("/test-only/write", headers={CSRF_HEADER: csrf}).status_code == 200
    assert client.delete(f"{API}/sessions/current").status_code == 403
    assert client.delete(f"{API}/sessions/current", headers={CSRF_HEADER: csrf}).status_code == 204
    assert (
        client.get(
            f"{API}/me", headers={"Cookie": f"{SESSION_COOKIE}={r.json()['token']}"}
        ).status_code
        == 401
    )


def test_a_bearer_session_needs_no_csrf_token(app, client, session_factory):
    @app.post("/test-only/write")
    async def _write(principal: CurrentPrincipal) -> dict[str, str]:
        return {"kind": principal.kind}

    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    headers = _bearer(_login(client, "person", person.id_number))
    client.cookies.clear()
    assert client.post("/test-only/write", headers=headers).status_code == 200


def test_anonymous_me_is_401(client):
    r = client.get(f"{API}/me")
    assert r.status_code == 401
    assert _error(r)["code"] == "auth.required"


# --------------------------------------------------------------------------- password hashing


def test_a_hash_made_with_weaker_parameters_is_replaced_at_login(client, session_factory):
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(PASSWORD)
    assert passwords.needs_rehash(weak)

    def build(s):  # type: ignore[no-untyped-def]
        p = make_person(s)
        p.password_hash, p.registered_at, p.verified_at = weak, p.created_at, p.created_at
        return p

    person = _seed(session_factory, build)
    assert _login(client, "person", person.id_number).status_code == 201
    with session_factory() as s:
        stored = s.get(Person, person.id).password_hash
    assert stored != weak
    assert stored.startswith("$argon2id$")
    assert not passwords.needs_rehash(stored)
    assert passwords.verify_password(stored, PASSWORD)


def test_a_current_hash_is_left_alone_at_login(client, session_factory):
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    with session_factory() as s:
        before = s.get(Person, person.id).password_hash
    assert _login(client, "person", person.id_number).status_code == 201
    with session_factory() as s:
        assert s.get(Person, person.id).password_hash == before


def test_login_hashes_in_a_worker_thread_not_on_the_event_loop(
    client, session_factory, monkeypatch
):
    import asyncio

    loop_running: list[bool] = []
    real = passwords.verify_password

    def spy(password_hash, password):  # type: ignore[no-untyped-def]
        try:
            asyncio.get_running_loop()
            loop_running.append(True)
        except RuntimeError:
            loop_running.append(False)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", spy)
    person = _seed(session_factory, lambda s: make_person(s, password=PASSWORD))
    assert _login(client, "person", person.id_number).status_code == 201
    assert loop_running == [False]


# --------------------------------------------------------------------------- races, contract


@pytest.mark.parametrize("known", [False, True], ids=["unknown-id", "imported-id"])
def test_a_registration_racing_another_for_the_same_id_gets_409_not_500(
    client, session_factory, db_url, monkeypatch, known
):
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): no race to lose")
    id_number = resident_id()
    if known:
        _seed(session_factory, lambda s: make_person(s, id_number=id_number))
    real_hash = passwords.hash_password

    def rival_commits_first(password):  # type: ignore[no-untyped-def]
        # Runs between our checks and our write: the other registration wins the race.
        with session_factory() as s, s.begin():
            rival = (
                s.execute(select(Person).where(Person.id_number == id_number)).scalar_one()
                if known
                else make_person(s, id_number=id_number)
            )
            rival.password_hash = real_hash("Rival-passw0rd!")
            rival.verified_at = rival.created_at
        return real_hash(password)

    monkeypatch.setattr(passwords, "hash_password", rival_commits_first)
    r = _register(client, id_number=id_number)
    assert r.status_code == 409, r.text
    assert _error(r)["code"] == "register.already_registered"
    with session_factory() as s:
        person = s.execute(select(Person).where(Person.id_number == id_number)).scalar_one()
        assert passwords.verify_password(person.password_hash, "Rival-passw0rd!")


def test_openapi_documents_the_account_endpoints_with_examples(client):
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    for path, method in (
        ("/register/person", "post"),
        ("/register/unit", "post"),
        ("/sessions", "post"),
        ("/sessions/current", "delete"),
        ("/me", "get"),
    ):
        assert method in paths[f"{API}{path}"], path
    login = paths[f"{API}/sessions"]["post"]
    assert {"201", "401", "422", "429"} <= set(login["responses"])
    schemas = doc["components"]["schemas"]
    assert schemas["LoginIn"]["examples"][0]["kind"] == "person"
    assert schemas["RegisterPersonIn"]["properties"]["name"]["maxLength"] == 50
    assert schemas["Error"]["properties"]["error"]
