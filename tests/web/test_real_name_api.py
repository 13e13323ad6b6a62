"""Real-name registration through the API (issue 8): SMS verification codes and the
identity check, with the attacks they stop. The SMS gateway and the identity service are the
simulators over real HTTP (tests/realname.py). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sirefund.models import Person, VerificationCode
from sirefund.services import accounts
from tests import realname
from tests.factories import PASSWORD, make_pension_payment, make_person, resident_id
from tests.realname import fresh_phone

API = "/api/v1"
NEW_PASSWORD = "Hubei-2026-refund"


def _ask(client, phone, purpose="register", **kwargs):  # type: ignore[no-untyped-def]
    return client.post(
        f"{API}/verification-codes", json={"phone": phone, "purpose": purpose}, **kwargs
    )


def _register(client, *, id_number, name, phone, code, password=NEW_PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(
        f"{API}/register/person",
        json={
            "id_number": id_number,
            "name": name,
            "phone": phone,
            "verification_code": code,
            "password": password,
        },
    )


def _error(response) -> dict:  # type: ignore[no-untyped-def]
    return response.json()["error"]


# --------------------------------------------------------------------------- sending codes


def test_a_code_is_six_digits_sent_by_sms_and_stored_only_hashed(client, session_factory):
    phone = fresh_phone()
    r = _ask(client, phone)
    assert (r.status_code, r.json()) == (202, {"resend_after_seconds": 60})
    [message] = realname.running().messages(phone)
    assert message["code"].isdigit() and len(message["code"]) == 6
    assert message["code"] in message["text"] and "5分钟" in message["text"]
    with session_factory() as s:
        [row] = s.execute(select(VerificationCode)).scalars()
    assert message["code"] not in row.code_hash and len(row.code_hash) == 64


def test_the_answer_is_the_same_for_a_phone_with_and_without_an_account(client, seed):
    taken = fresh_phone()
    seed(lambda s: make_person(s, phone=taken, password=PASSWORD))
    with_account, without = _ask(client, taken), _ask(client, fresh_phone())
    assert with_account.status_code == without.status_code == 202
    assert with_account.json() == without.json()
    assert with_account.headers.keys() == without.headers.keys()


def test_one_phone_gets_one_code_a_minute(client, clock):
    phone = fresh_phone()
    assert _ask(client, phone).status_code == 202
    clock.advance(seconds=20)
    again = _ask(client, phone)
    assert again.status_code == 429
    assert _error(again) == {
        "code": "verification.too_frequent",
        "message": "验证码发送过于频繁，请40秒后再试",
        "field": "phone",
    }
    assert again.headers["retry-after"] == "40"
    clock.advance(seconds=40)
    assert _ask(client, phone).status_code == 202


def test_one_phone_gets_ten_codes_a_day(client, clock):
    phone = fresh_phone()
    for _ in range(10):
        assert _ask(client, phone).status_code == 202
        clock.advance(seconds=61)
    eleventh = _ask(client, phone)
    assert eleventh.status_code == 429
    assert _error(eleventh)["code"] == "verification.too_frequent"
    # The first code leaves the day 24 h after it was sent.
    assert int(eleventh.headers["retry-after"]) == 24 * 3600 - 10 * 61


def test_one_client_address_cannot_flood_many_phones(client, settings):
    settings.verification_address_max_sends = 3
    codes = [_ask(client, fresh_phone()).status_code for _ in range(4)]
    assert codes == [202, 202, 202, 429]


def test_a_code_for_a_landline_is_refused_next_to_the_phone(client):
    r = _ask(client, "027-87654321")
    assert r.status_code == 422 and _error(r)["field"] == "phone"


# --------------------------------------------------------------------------- person registration


def _known(name="邱世贵"):  # type: ignore[no-untyped-def]
    id_number, phone = resident_id(), fresh_phone()
    realname.running().add_identity(id_number, name, phone)
    return id_number, name, phone


def test_a_person_registers_with_the_code_sent_to_their_own_phone(client, session_factory):
    id_number, name, phone = _known()
    _ask(client, phone)
    code = realname.running().latest_code(phone)
    r = _register(client, id_number=id_number, name=name, phone=phone, code=code)
    assert r.status_code == 201, r.text
    with session_factory() as s:
        person = s.execute(select(Person).where(Person.id_number == id_number)).scalar_one()
    assert person.verified_at is not None and person.phone == phone
    login = {"kind": "person", "login": phone, "password": NEW_PASSWORD}
    assert client.post(f"{API}/sessions", json=login).status_code == 201


def test_registering_someone_elses_id_without_their_phone_fails(client, session_factory):
    # The attacker knows the victim's name and ID number and proves their own phone.
    victim_id, victim_name, _ = _known("王秀英")
    attacker_phone = fresh_phone()
    _ask(client, attacker_phone)
    code = realname.running().latest_code(attacker_phone)
    r = _register(client, id_number=victim_id, name=victim_name, phone=attacker_phone, code=code)
    assert r.status_code == 422
    assert _error(r)["code"] == "identity.not_verified"
    with session_factory() as s:
        assert s.execute(select(Person).where(Person.id_number == victim_id)).first() is None


def test_a_code_sent_to_another_phone_does_not_register(client):
    id_number, name, phone = _known()
    other = fresh_phone()
    _ask(client, other)
    code = realname.running().latest_code(other)
    r = _register(client, id_number=id_number, name=name, phone=phone, code=code)
    assert (r.status_code, _error(r)["code"]) == (422, "verification.code_invalid")
    assert _error(r)["field"] == "verification_code"


def test_guessing_a_code_stops_after_five_tries(client):
    id_number, name, phone = _known()
    _ask(client, phone)
    code = realname.running().latest_code(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        r = _register(client, id_number=id_number, name=name, phone=phone, code=wrong)
        assert _error(r)["code"] == "verification.code_invalid"
    # The sixth answer is refused although it is the right code.
    r = _register(client, id_number=id_number, name=name, phone=phone, code=code)
    assert (r.status_code, _error(r)["code"]) == (422, "verification.code_invalid")


def test_a_code_expires_after_five_minutes(client, clock):
    id_number, name, phone = _known()
    _ask(client, phone)
    code = realname.running().latest_code(phone)
    clock.advance(minutes=5)
    r = _register(client, id_number=id_number, name=name, phone=phone, code=code)
    assert _error(r)["code"] == "verification.code_invalid"


def test_a_code_is_used_once_and_a_newer_one_replaces_it(client, clock):
    id_number, name, phone = _known()
    _ask(client, phone)
    first = realname.running().latest_code(phone)
    clock.advance(seconds=61)
    _ask(client, phone)
    second = realname.running().latest_code(phone)
    if first != second:
        r = _register(client, id_number=id_number, name=name, phone=phone, code=first)
        assert _error(r)["code"] == "verification.code_invalid"
    assert (
        _register(client, id_number=id_number, name=name, phone=phone, code=second).status_code
        == 201
    )
    again = _register(client, id_number=resident_id(), name=name, phone=phone, code=second)
    assert _error(again)["code"] == "verification.code_invalid"


def test_a_code_for_another_purpose_does_not_register(client):
    id_number, name, phone = _known()
    _ask(client, phone, purpose="reset_password")
    code = realname.running().latest_code(phone)
    r = _register(client, id_number=id_number, name=name, phone=phone, code=code)
    assert _error(r)["code"] == "verification.code_invalid"


# --------------------------------------------------------------------------- accounts from before


def test_an_account_from_before_real_name_registration_sees_nothing_until_verified(
    client, seed, session_factory, clock, settings
):
    # Registered before migration 0004: a password, no verified marker, payments imported.
    id_number, name, phone = _known()

    def build(s):  # type: ignore[no-untyped-def]
        person = make_person(s, id_number=id_number, name=name)
        person.password_hash = accounts.passwords.hash_password(PASSWORD)
        make_pension_payment(s, person)
        token, _ = accounts.create_session(
            s, kind="person", account_id=person.id, at=clock.now(), settings=settings
        )
        return token

    old_token = seed(build)
    payments = client.get(
        f"{API}/pension/payments", headers={"Authorization": f"Bearer {old_token}"}
    )
    assert payments.status_code == 401
    login = {"kind": "person", "login": id_number, "password": PASSWORD}
    refused = client.post(f"{API}/sessions", json=login)
    assert (refused.status_code, _error(refused)["code"]) == (403, "auth.not_verified")
    assert "实名" in _error(refused)["message"]
    # Its owner registers again with their phone and takes the account over.
    _ask(client, phone)
    code = realname.running().latest_code(phone)
    assert (
        _register(client, id_number=id_number, name=name, phone=phone, code=code).status_code == 201
    )
    token = client.post(f"{API}/sessions", json={**login, "password": NEW_PASSWORD}).json()["token"]
    seen = client.get(f"{API}/pension/payments", headers={"Authorization": f"Bearer {token}"})
    assert seen.status_code == 200 and seen.json()["total"] == 1


@pytest.mark.parametrize("path", ["/verification-codes", "/register/person"])
def test_without_the_outside_services_the_answer_is_503_not_500(settings, engine, clock, path):
    from fastapi.testclient import TestClient

    from sirefund.web.app import create_app

    bare = create_app(settings, engine=engine, clock=clock)
    body = {
        "phone": fresh_phone(),
        "purpose": "register",
        "id_number": resident_id(),
        "name": "邱世贵",
        "verification_code": "123456",
        "password": NEW_PASSWORD,
    }
    with TestClient(bare) as c:
        r = c.post(f"{API}{path}", json=body)
    assert r.status_code == 503
    assert _error(r)["code"] in {"sms.unavailable", "identity.unavailable"}
