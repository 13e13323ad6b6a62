"""The persons' payments reads answer through a fast path in front of FastAPI's handler
(web/lean_route.py, issue 12): it must answer every query exactly as FastAPI's handler does,
leave everything unusual (and so every 422) to it, and know every parameter of its route."""

from __future__ import annotations

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.requests import Request

from sirefund.web import lean_route
from sirefund.web.api import medical, pension
from tests import factories as f

API = "/api/v1"
PENSION = f"{API}/pension/payments"
MEDICAL = f"{API}/medical/payments"

QUERIES = [
    (PENSION, ""),
    (PENSION, "year=2025"),
    (PENSION, "year=2025&page=2&page_size=1"),
    (PENSION, "year=02025&page=1&page=2&page_size=1"),  # the last of a repeated parameter
    (PENSION, "state=refundable&arrival_status=not_arrived"),
    (PENSION, "state=applied&unknown=1"),
    (PENSION, "year=1899"),
    (PENSION, "year=abc"),
    (PENSION, "year="),
    (PENSION, "year=%2B2025"),
    (PENSION, "page=0"),
    (PENSION, "page_size=101"),
    (PENSION, "state=other"),
    (PENSION, "arrival_status=ARRIVED"),
    (PENSION, "heir_claim_id=1"),
    (PENSION, "heir_claim_id=0"),
    (MEDICAL, ""),
    (MEDICAL, "insurance_year=2026"),
    (MEDICAL, "insurance_year=2026&page=1&page_size=1"),
    (MEDICAL, "insurance_year=2020"),
    (MEDICAL, "insurance_year=99999999999999999"),
    (MEDICAL, "insurance_year=-1"),
    (MEDICAL, "insurance_year=x"),
    (MEDICAL, "page_size=0"),
    (MEDICAL, "registration_id=MR1"),
    (MEDICAL, "registration_id="),
    (MEDICAL, "heir_claim_id=abc"),
]


def _person(session: Session) -> int:
    person = f.make_person(session)
    f.make_pension_payment(session, person, year=2025)
    f.make_pension_payment(session, person, year=2025, arrival_status="arrived")
    f.make_pension_payment(session, person, year=2024)
    reg = f.make_registration(session, person)
    f.make_medical_payment(session, reg, year=2026)
    f.make_medical_payment(session, reg, year=2026, ltc_fen=1500)
    return person.id


@pytest.mark.parametrize(("path", "query"), QUERIES)
def test_the_fast_path_answers_every_query_as_fastapis_handler_does(
    client, seed, login, monkeypatch, path, query
):
    headers = login("person", seed(_person))
    url = f"{path}?{query}"
    fast = client.get(url, headers=headers)
    # Both fast paths parse through lean_route.person_read: FastAPI's handler only.
    monkeypatch.setattr(lean_route, "plain_query", lambda *_: None)
    full = client.get(url, headers=headers)
    assert (fast.status_code, fast.json()) == (full.status_code, full.json())


@pytest.mark.parametrize(
    "query",
    ["year=+2025", "year= 2025", "year=2_025", "year=2025.0", "year=1e3", "year=-1", "page=0"],
)
def test_the_fast_path_leaves_any_number_not_in_plain_digits_within_bounds_to_fastapi(query):
    scope = {"type": "http", "query_string": query.replace("+", "%2B").encode(), "headers": []}
    assert lean_route.plain_query(Request(scope), pension.PAYMENTS_QUERY) is None


def test_the_fast_path_fills_in_the_declared_defaults():
    parsed = lean_route.plain_query(
        Request({"type": "http", "query_string": b"", "headers": []}), pension.PAYMENTS_QUERY
    )
    assert parsed is not None
    assert parsed.ints == {"page": 1, "page_size": 10, "year": None}
    assert parsed.texts == {"state": "all", "arrival_status": None}


def _query_names(dependant: Dependant) -> set[str]:
    names: set[str] = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


@pytest.mark.parametrize(
    ("path", "spec"), [(PENSION, pension.PAYMENTS_QUERY), (MEDICAL, medical.PAYMENTS_QUERY)]
)
def test_each_fast_path_knows_every_query_parameter_of_its_route(app, path, spec):
    # A parameter added to the route and not to the fast path would be ignored by it.
    routes = [r for r in app.routes if isinstance(r, APIRoute) and r.path == path]
    assert routes, "the hot copy of the route is on the app's own router"
    for route in routes:
        assert _query_names(route.dependant) == set(spec)


def test_the_hot_copies_stay_out_of_the_openapi_document(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert list(paths[PENSION]) == ["get"]
    assert list(paths[MEDICAL]) == ["get"]
    assert paths[PENSION]["get"]["tags"] == ["pension"]
