"""Security headers on every response (web/security_headers.py): pages, the API's JSON, its
errors, files; HSTS and Secure cookies once SIREFUND_PUBLIC_URL is https. Runs on SQLite and
PostgreSQL."""

from __future__ import annotations

import pytest

from sirefund.config import Settings
from sirefund.web.deps import SESSION_COOKIE
from tests import factories as f

API = "/api/v1"
ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def _assert_always(headers) -> None:  # type: ignore[no-untyped-def]
    for name, value in ALWAYS.items():
        assert headers[name] == value, name
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/etax/login", 200),
        ("/m/login", 200),
        ("/officer/login", 200),
        ("/etax/pension", 303),  # the login redirect
        ("/etax/no-such-page", 404),
    ],
)
def test_every_page_carries_the_security_headers_a_csp_and_no_store(client, path, status):
    r = client.get(path, follow_redirects=False)
    assert r.status_code == status
    _assert_always(r.headers)
    assert r.headers["cache-control"] == "no-store"
    if r.headers.get("content-type", "").startswith("text/html"):
        assert r.headers["content-security-policy"].startswith("default-src 'self';")
        assert "script-src 'self';" in r.headers["content-security-policy"]


def test_the_apis_json_answers_and_errors_carry_them_too(client, login, seed):
    person_id = seed(lambda s: f.make_person(s).id)
    headers = login("person", person_id)
    for r in (
        client.get(f"{API}/me", headers=headers),
        client.get(f"{API}/me"),  # 401 in the error format
        client.post(f"{API}/sessions", json={"kind": "person"}),  # 422
        client.post(f"{API}/sessions", content=b"x" * 2_000_000),  # 413 from the body limit
    ):
        assert r.headers["content-type"].startswith("application/json"), r.status_code
        _assert_always(r.headers)
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
        assert r.headers["cache-control"] == "no-store"


def test_static_files_may_be_cached_and_the_api_docs_keep_their_own_csp(client):
    css = client.get("/static/swagger-ui/swagger-ui.css")
    assert css.status_code == 200
    _assert_always(css.headers)
    assert "no-store" not in css.headers.get("cache-control", "")
    docs = client.get("/docs")
    _assert_always(docs.headers)
    assert "'unsafe-inline'" in docs.headers["content-security-policy"]


def test_no_hsts_and_no_secure_cookie_without_an_https_public_url(client, seed):
    seed(lambda s: f.make_person(s, password=f.PASSWORD, id_number=f.resident_id(seq=901)))
    r = client.post(
        f"{API}/sessions",
        json={"kind": "person", "login": f.resident_id(seq=901), "password": f.PASSWORD},
    )
    assert r.status_code == 201
    assert "strict-transport-security" not in r.headers
    assert "secure" not in r.headers["set-cookie"].lower()


def test_an_https_public_url_sends_hsts_and_makes_every_cookie_secure(client, seed, settings):
    settings.public_url = "https://etax.example.cn"
    seed(lambda s: f.make_person(s, password=f.PASSWORD, id_number=f.resident_id(seq=902)))
    r = client.post(
        f"{API}/sessions",
        json={"kind": "person", "login": f.resident_id(seq=902), "password": f.PASSWORD},
    )
    assert r.status_code == 201
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    session_cookie = next(
        c for c in r.headers.get_list("set-cookie") if c.startswith(f"{SESSION_COOKIE}=")
    )
    assert "; secure" in session_cookie.lower()
    page = client.get("/etax/login")  # the anonymous CSRF cookie of a form
    assert page.headers["strict-transport-security"].startswith("max-age=31536000")
    cookies = page.headers.get_list("set-cookie")
    assert cookies and all("; secure" in c.lower() for c in cookies)


def test_the_public_url_must_be_an_http_or_https_url() -> None:
    with pytest.raises(ValueError, match="SIREFUND_PUBLIC_URL"):
        Settings(public_url="etax.example.cn")
    assert Settings(public_url="HTTPS://etax.example.cn").https
    assert not Settings(public_url="http://127.0.0.1:8000").https
