"""The real clock (issue 11 part 2): working days left of the statutory 30 follow China's
holidays and 调休 days, the officers' calendar table first; the `due_within` filter and the
queue's highlight. The fixed clock's today is Tuesday 2026-03-10. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from sirefund.models import CalendarDay
from tests import factories as f
from tests.web.officer_helpers import pension_app

API = "/api/v1/officer"


def _cases(s):
    """Four applications and how many working days each has left on 2026-03-10."""
    officer = f.make_officer(s, region="420700")
    return officer, {
        # 38 working days waited (Spring Festival: -6 weekdays, +2 调休 Saturdays): overdue.
        "overdue": pension_app(s, at=datetime(2026, 1, 9, 2, 0, tzinfo=UTC)).id,
        # Wednesday 28 Jan: 25 waited, 5 left.
        "five_left": pension_app(s, at=datetime(2026, 1, 28, 2, 0, tzinfo=UTC)).id,
        # Thursday 29 Jan: 24 waited, 6 left.
        "six_left": pension_app(s, at=datetime(2026, 1, 29, 2, 0, tzinfo=UTC)).id,
        "recent": pension_app(s, at=datetime(2026, 3, 6, 10, 0, tzinfo=UTC)).id,
    }


def _items(client, headers, **params) -> dict[int, dict]:
    r = client.get(f"{API}/applications", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return {i["id"]: i for i in r.json()["items"]}


def test_each_case_shows_working_days_left_counting_holidays_and_tiaoxiu(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        officer, ids = _cases(s)
    items = _items(client, login("officer", officer.id))

    left = {name: items[i]["working_days_left"] for name, i in ids.items()}
    assert left == {"overdue": 0, "five_left": 5, "six_left": 6, "recent": 28}
    assert items[ids["overdue"]]["overdue"] is True
    assert items[ids["overdue"]]["working_days_pending"] == 38


def test_due_within_lists_the_pending_cases_due_within_that_many_working_days_and_overdue(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        officer, ids = _cases(s)
        # A decided case, however old, is due no more.
        decided = pension_app(s, at=datetime(2026, 1, 5, 2, 0, tzinfo=UTC))
    headers = login("officer", officer.id)
    assert (
        client.post(f"{API}/applications/{decided.id}/approve", headers=headers).status_code == 200
    )

    due = _items(client, headers, due_within=5)
    assert set(due) == {ids["overdue"], ids["five_left"]}
    assert set(_items(client, headers, due_within=6)) == {
        ids["overdue"],
        ids["five_left"],
        ids["six_left"],
    }
    assert set(_items(client, headers, due_within=0)) == {ids["overdue"]}
    r = client.get(f"{API}/applications", params={"due_within": 5}, headers=headers)
    assert r.json()["total"] == 2


def test_due_within_refuses_what_is_no_number_of_working_days(client, login, session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
    headers = login("officer", officer.id)
    for bad in ("-1", "31", "五", "５"):
        r = client.get(f"{API}/applications", params={"due_within": bad}, headers=headers)
        assert r.status_code == 422, bad


def test_the_officers_calendar_table_is_consulted_before_the_package(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        officer, ids = _cases(s)
        # The table says Monday 16 Feb (a Spring Festival day in the package) was worked.
        s.add(CalendarDay(day=date(2026, 2, 16), is_workday=True, label="测试：改为上班",
                          changed_by="cli:test", changed_at=datetime(2026, 3, 1, tzinfo=UTC)))  # fmt: skip
    headers = login("officer", officer.id)

    items = _items(client, headers)
    assert items[ids["six_left"]]["working_days_left"] == 5
    assert ids["six_left"] in _items(client, headers, due_within=5)


def test_the_queue_page_highlights_overdue_and_due_soon_cases_and_filters_them(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer, ids = _cases(s)
    sign_in(officer.id)

    page = client.get("/officer/applications").text
    rows = {
        int(m.group(2)): m.group(1)
        for m in re.finditer(r'<tr class="([^"]*)">\s*<td class="seq">.*?value="(\d+)"', page, re.S)
    }
    assert rows[ids["overdue"]] == "overdue"
    assert rows[ids["five_left"]] == "due-soon"
    assert rows[ids["six_left"]] == rows[ids["recent"]] == ""
    assert "即将到期" in page and "已超期" in page
    assert "剩余5个工作日" in page
    assert "审核期限" in page and "5个工作日内到期（含已超期）" in page

    filtered = client.get("/officer/applications?due_within=5").text
    shown = {int(v) for v in re.findall(r'name="application_ids" value="(\d+)"', filtered)}
    assert shown == {ids["overdue"], ids["five_left"]}
    # The export takes the same filter.
    assert client.get("/officer/applications.xlsx?due_within=5").status_code == 200


# --------------------------------------------------------------------------- 节假日设置


def test_a_reviewer_sets_a_day_of_a_year_the_package_lacks_on_the_calendar_page(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, code="13420700001", region="420700")
    csrf = sign_in(officer.id)

    page = client.get("/officer/calendar?year=2027").text
    assert "2027年的节假日安排尚未收录" in page and "节假日设置" in page

    r = client.post(
        "/officer/calendar",
        data={"csrf_token": csrf, "day": "2027-02-05", "kind": "holiday", "label": "春节"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and "year=2027" in r.headers["location"]
    page = client.get(r.headers["location"]).text
    assert "已保存" in page
    assert re.search(r"2027-02-05</td><td>星期五</td><td>休息</td><td[^>]*>春节</td>", page)
    with session_factory() as s:
        row = s.get(CalendarDay, date(2027, 2, 5))
        assert (row.is_workday, row.changed_by) == (False, "13420700001")

    r = client.post(
        "/officer/calendar/remove", data={"csrf_token": csrf, "day": "2027-02-05"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303
    with session_factory() as s:
        assert s.get(CalendarDay, date(2027, 2, 5)) is None


def test_the_calendar_page_lists_the_published_days_of_a_known_year(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
    sign_in(officer.id)
    page = client.get("/officer/calendar?year=2026").text
    assert "尚未收录" not in page
    assert re.search(
        r"2026-10-10</td><td>星期六</td><td>上班</td><td[^>]*>国庆节调休上班</td>", page
    )


def test_a_bad_day_is_refused_next_to_the_field_and_an_initiator_may_not_set_days(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        reviewer = f.make_officer(s, region="420700")
        initiator = f.make_officer(s, region="420700", reviewer=False, initiator=True)
    csrf = sign_in(reviewer.id)
    r = client.post(
        "/officer/calendar",
        data={"csrf_token": csrf, "day": "2027-02-30", "kind": "holiday", "label": "春节"},
    )
    assert r.status_code == 422 and "请填写正确的日期" in r.text

    csrf = sign_in(initiator.id)
    r = client.post(
        "/officer/calendar",
        data={"csrf_token": csrf, "day": "2027-02-05", "kind": "holiday", "label": "春节"},
    )
    assert r.status_code == 403 and "只有审核人员可以设置节假日" in r.text
    with session_factory() as s:
        assert s.get(CalendarDay, date(2027, 2, 5)) is None
