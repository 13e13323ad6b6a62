"""税务端 queue search (`q`) and order (`sort`), api.md "Officer" wave 2: an officer finds a
case by the payer's full ID number (never a part of it, never echoed), the payer's name, the
application id or the 文书号, within the office's region only. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from tests import factories as f
from tests.web.officer_helpers import pension_app

API = "/api/v1/officer"


def _ids(client, headers, **params) -> list[int]:
    r = client.get(f"{API}/applications", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def _three(s):
    officer = f.make_officer(s, region="420700")
    qiu = f.make_person(s, region="420703", name="邱世贵")
    wang = f.make_person(s, region="420703", name="王小红")
    a = pension_app(s, person=qiu, at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    b = pension_app(s, person=wang, at=datetime(2026, 3, 3, 2, 0, tzinfo=UTC))
    c = pension_app(s, region="420703", at=datetime(2026, 3, 4, 2, 0, tzinfo=UTC))
    return officer, qiu, (a.id, a.document_no), (b.id, b.document_no), (c.id, c.document_no)


def test_q_finds_a_case_by_full_id_number_name_application_id_or_document_no(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        officer, qiu, (a, a_doc), (b, _), (c, c_doc) = _three(s)
    headers = login("officer", officer.id)

    assert _ids(client, headers, q=qiu.id_number) == [a]
    assert _ids(client, headers, q=qiu.id_number.lower()) == [a]  # a lower-case x
    assert _ids(client, headers, q="王小红") == [b]
    assert _ids(client, headers, q="小红") == [b]  # a part of the name
    assert _ids(client, headers, q=str(c)) == [c]
    assert _ids(client, headers, q=c_doc) == [c]
    assert _ids(client, headers, q=f"  {a_doc} ") == [a]
    assert _ids(client, headers, q="") == [a, b, c]  # blank is "any"


def test_q_never_matches_part_of_an_id_number_nor_echoes_it(client, login, session_factory):
    """Someone who knows a few digits of an ID number cannot browse the payers by it."""
    with session_factory() as s, s.begin():
        officer, qiu, *_ = _three(s)
    headers = login("officer", officer.id)

    assert _ids(client, headers, q=qiu.id_number[:14]) == []
    assert _ids(client, headers, q=qiu.id_number[-6:]) == []
    r = client.get(f"{API}/applications", headers=headers, params={"q": qiu.id_number})
    assert qiu.id_number not in r.text


def test_q_keeps_to_the_officers_region(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        wuhan = f.make_person(s, region="420102", name="武汉人")
        outside = pension_app(s, person=wuhan)
    headers = login("officer", officer.id)

    assert _ids(client, headers, q=wuhan.id_number) == []
    assert _ids(client, headers, q="武汉人") == []
    assert _ids(client, headers, q=str(outside.id)) == []
    assert _ids(client, headers, q=outside.document_no) == []


def test_q_with_like_wildcards_matches_them_literally(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer, *_ = _three(s)
    headers = login("officer", officer.id)

    assert _ids(client, headers, q="%") == []
    assert _ids(client, headers, q="_") == []


def test_sort_orders_the_queue_by_days_pending_by_default_and_as_asked(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        officer, _, (a, _), (b, _), (c, _) = _three(s)
    headers = login("officer", officer.id)

    assert _ids(client, headers) == [a, b, c]  # the longest-waiting first
    assert _ids(client, headers, sort="days_pending") == [a, b, c]
    assert _ids(client, headers, sort="-days_pending") == [c, b, a]
    assert _ids(client, headers, sort="-created_at") == [c, b, a]
    assert _ids(client, headers, sort="created_at") == [a, b, c]
    paged = client.get(
        f"{API}/applications", headers=headers, params={"sort": "-created_at", "page_size": 1}
    ).json()
    assert ([i["id"] for i in paged["items"]], paged["total"]) == ([c], 3)


def test_a_bad_sort_or_an_overlong_q_is_refused_with_the_field(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
    headers = login("officer", officer.id)

    bad_sort = client.get(f"{API}/applications", headers=headers, params={"sort": "drop table"})
    assert bad_sort.status_code == 422
    assert bad_sort.json()["error"]["code"] == "queue.sort"
    long_q = client.get(f"{API}/applications", headers=headers, params={"q": "字" * 51})
    assert long_q.status_code == 422
    assert "q" in long_q.text


def test_a_long_number_is_not_an_error_but_finds_nothing(client, login, session_factory):
    """Digits beyond any application id (or an ID number's length) are simply not found."""
    with session_factory() as s, s.begin():
        officer, *_ = _three(s)
    headers = login("officer", officer.id)

    assert _ids(client, headers, q="999999999999") == []
    assert _ids(client, headers, q="9" * 30) == []
