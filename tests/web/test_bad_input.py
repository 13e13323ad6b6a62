"""Bad input never yields a 500: malformed JSON, wrong types, missing fields, oversize bodies
(announced, chunked or understated) and strings, characters the database cannot store,
unknown routes. Every refusal comes in the error format. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import select

from sirefund.models import Person
from sirefund.web.deps import DbSession
from tests import realname
from tests.factories import resident_id

API = "/api/v1"
LOGIN = {"kind": "person", "login": "420703195803120013", "password": "Hubei-2026-refund"}
REGISTER = {
    "id_number": "420703195803120013",
    "name": "邱世贵",
    "phone": "13812341234",
    "verification_code": "123456",
    "password": "Hubei-2026-refund",
}
UNIT = {
    "tax_id": "544207030000000001",
    "name": "新庙村村民委员会",
    "handler_id_number": "420703198507150026",
    "handler_name": "刘桂芳",
    "handler_phone": "13972001234",
    "verification_code": "123456",
    "password": "Hubei-2026-refund",
}
CODE = {"phone": "13812341234", "purpose": "register"}
ENDPOINTS = [
    ("/sessions", LOGIN),
    ("/register/person", REGISTER),
    ("/register/unit", UNIT),
    ("/verification-codes", CODE),
]


def _error(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "field"}
    assert body["error"]["message"]  # a Chinese sentence for people, never empty
    return body["error"]


def _post_raw(client, path: str, content: bytes, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    return client.post(f"{API}{path}", content=content, headers={"Content-Type": content_type})


# --------------------------------------------------------------------------- malformed JSON


MALFORMED = [
    b'{"kind": "person", "login": ',  # truncated
    b"{'kind': 'person'}",  # not JSON quotes
    b'{"kind": "person",}',  # trailing comma
    b"\xff\xfe\x00{",  # not UTF-8
    b'{"login": ' + b"9" * 5000 + b"}",  # a number too long to parse
    b"[" * 100_000 + b"]" * 100_000,  # nesting deeper than the parser goes
]


def test_malformed_json_is_a_422_with_its_own_code(client):
    for content in MALFORMED:
        for path, _ in ENDPOINTS:
            error = _error(_post_raw(client, path, content), 422)
            assert error["code"] == "request.malformed_json", content[:40]


def test_an_empty_body_is_a_422(client):
    for path, _ in ENDPOINTS:
        _error(_post_raw(client, path, b""), 422)


def test_a_body_that_is_not_an_object_is_a_422(client):
    for content in (b"[1, 2, 3]", b'"a string"', b"42", b"null"):
        for path, _ in ENDPOINTS:
            _error(_post_raw(client, path, content), 422)


def test_json_sent_as_text_plain_is_refused_not_guessed(client):
    _error(_post_raw(client, "/sessions", json.dumps(LOGIN).encode(), "text/plain"), 422)


# --------------------------------------------------------------------------- types and fields


@pytest.mark.parametrize(("path", "valid"), ENDPOINTS)
def test_each_missing_field_is_a_422_naming_the_field(client, path, valid):
    for field in valid:
        body = {k: v for k, v in valid.items() if k != field}
        error = _error(client.post(f"{API}{path}", json=body), 422)
        assert error == {"code": "validation.missing", "message": "此项为必填项", "field": field}


@pytest.mark.parametrize(("path", "valid"), ENDPOINTS)
def test_a_field_of_the_wrong_type_is_a_422_naming_the_field(client, path, valid):
    for wrong in (123, 1.5, True, ["a"], {"a": 1}, None):
        for field in valid:
            error = _error(client.post(f"{API}{path}", json=valid | {field: wrong}), 422)
            assert error["field"] == field, (field, wrong)


def test_an_unknown_account_kind_is_a_422(client):
    error = _error(client.post(f"{API}/sessions", json=LOGIN | {"kind": "admin"}), 422)
    assert error["field"] == "kind"


def test_unknown_fields_are_ignored(client):
    r = client.post(f"{API}/sessions", json=LOGIN | {"is_admin": True, "role": "officer"})
    assert _error(r, 401)["code"] == "auth.invalid_credentials"


# --------------------------------------------------------------------------- oversize strings


@pytest.mark.parametrize(("path", "valid"), ENDPOINTS)
def test_a_10000_character_string_in_any_field_is_a_422(client, path, valid):
    for filler in ("a", "邱", "😀"):
        for field in valid:
            if field in ("kind", "purpose"):  # choices, not free text
                continue
            r = client.post(f"{API}{path}", json=valid | {field: filler * 10_000})
            assert _error(r, 422) == {
                "code": "validation.string_too_long",
                "message": "内容过长",
                "field": field,
            }


def test_control_characters_and_lone_surrogates_are_a_422(client):
    for bad in ("邱\x00世贵", "邱世贵\x07", "\ud800"):
        raw = json.dumps(REGISTER | {"name": bad}).encode()  # json.dumps escapes the surrogate
        assert _error(_post_raw(client, "/register/person", raw), 422)["field"] == "name"
        raw = json.dumps(LOGIN | {"login": bad}).encode()
        assert _error(_post_raw(client, "/sessions", raw), 422)["field"] == "login"


def test_rare_characters_beyond_the_basic_plane_are_accepted_in_names(client):
    r = realname.register_person(
        client, id_number=resident_id(), name="𠀋阿卜杜 热合曼", password=REGISTER["password"]
    )
    assert r.status_code == 201, r.text
    assert r.json()["display_name"] == "𠀋阿卜杜 热合曼"


# --------------------------------------------------------------------------- oversize bodies


def test_a_2_mb_body_is_a_413(client):
    big = json.dumps(LOGIN | {"padding": "x" * 2_000_000}).encode()
    for path, _ in ENDPOINTS:
        assert _error(_post_raw(client, path, big), 413)["code"] == "request.too_large"


def test_a_2_mb_chunked_body_without_content_length_is_a_413(client):
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"kind": "person", "padding": "'
        for _ in range(32):
            yield b"x" * 64_000
        yield b'"}'

    r = client.post(
        f"{API}/sessions", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in r.request.headers
    assert _error(r, 413)["code"] == "request.too_large"


async def _asgi_post(app, path: str, headers: dict[str, str], chunks: list[bytes]):  # type: ignore[no-untyped-def]
    """POST straight through ASGI, so the body can disagree with its Content-Length."""
    pending = [{"type": "http.request", "body": c, "more_body": True} for c in chunks]
    pending.append({"type": "http.request", "body": b"", "more_body": False})
    total = len(pending)
    sent: list[dict] = []

    async def receive():  # type: ignore[no-untyped-def]
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "client": ("192.0.2.1", 1234),
        "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body), total - len(pending)


def test_a_body_longer_than_its_content_length_is_cut_off_at_the_limit(app, settings):
    chunk = b"x" * 64_000
    status, body, read = asyncio.run(
        _asgi_post(
            app,
            f"{API}/sessions",
            {"content-type": "application/json", "content-length": "20"},
            [chunk] * 40,
        )
    )  # 2.5 MB claimed as 20 bytes
    assert status == 413
    assert body["error"]["code"] == "request.too_large"
    # Reading stopped just past the limit instead of buffering the whole body.
    assert read * len(chunk) <= settings.max_body_bytes + 2 * len(chunk)


def test_an_unparsable_content_length_is_refused(client):
    r = client.post(
        f"{API}/sessions",
        content=json.dumps(LOGIN).encode(),
        headers={"Content-Type": "application/json", "Content-Length": "abc"},
    )
    assert r.status_code in (400, 413)
    _error(r, r.status_code)


def test_a_body_just_under_the_limit_is_read(client, settings):
    padding = "x" * (settings.max_body_bytes - 200)
    r = client.post(f"{API}/sessions", json=LOGIN | {"padding": padding})
    assert _error(r, 401)["code"] == "auth.invalid_credentials"


# --------------------------------------------------------------------------- routes


def test_an_unknown_route_is_a_404_in_the_error_format(client):
    for path in (f"{API}/nothing-here", f"{API}/pension/refunds/1/explode", "/no-such-page"):
        assert _error(client.get(path), 404)["code"] == "not_found"


def test_a_wrong_method_is_a_405_in_the_error_format(client):
    assert (
        _error(client.put(f"{API}/sessions", json=LOGIN), 405)["code"]
        == "request.method_not_allowed"
    )


# --------------------------------------------------------------------------- the database's limits


@pytest.fixture
def lookup_route(app):  # type: ignore[no-untyped-def]
    """A route that passes its input unchecked to the database, standing in for any route
    whose validation missed something."""

    @app.get("/test-only/persons/{person_id}")
    def _lookup(person_id: int, db: DbSession, name: str = "") -> dict[str, int]:
        with db.begin() as session:
            rows = session.execute(
                select(Person.id).where(Person.id == person_id, Person.name == name)
            ).all()
        return {"found": len(rows)}

    return "/test-only/persons"


def test_an_integer_beyond_64_bits_reaching_the_database_is_a_422(client, lookup_route):
    error = _error(client.get(f"{lookup_route}/{10**20}"), 422)
    assert error["code"] == "request.unstorable_value"


def test_a_nul_character_reaching_the_database_is_never_a_500(client, lookup_route):
    r = client.get(f"{lookup_route}/1", params={"name": "a\x00b"})
    # SQLite stores NUL; PostgreSQL refuses it, which must read as bad input.
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        assert _error(r, 422)["code"] == "request.unstorable_value"
