"""税务端 pages: the queue opens on 待审核, searches without echoing an ID number, and a case
moves on through the queue it was opened from (上一条 / 下一条, 通过并下一条 / 退回并下一条),
keeping the filters. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import urlencode

from sirefund.models import Application
from tests import factories as f
from tests.web.officer_helpers import medical_app, pension_app


def _at(day: int) -> datetime:
    return datetime(2026, 3, day, 2, 0, tzinfo=UTC)


def _status(session_factory, app_id: int) -> str:
    with session_factory() as s:
        return s.get(Application, app_id).status


def _link(page: str, rel: str) -> str | None:
    m = re.search(rf'href="([^"]+)" rel="{rel}"', page)
    return html.unescape(m.group(1)) if m else None


def test_searching_by_id_number_never_writes_it_into_the_page(client, session_factory, sign_in):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        person = f.make_person(s, region="420703")
        app = pension_app(s, person=person)
    sign_in(officer.id)

    page = client.get("/officer/applications?" + urlencode({"q": person.id_number})).text
    assert f'name="application_ids" value="{app.id}"' in page
    assert person.id_number not in page
    assert person.id_number[:6] + "********" + person.id_number[-4:] in page  # said masked
    case = client.get(f"/officer/applications/{app.id}?q={person.id_number}").text
    assert person.id_number not in case


def test_a_case_links_to_its_neighbours_in_the_filtered_sorted_queue(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        a, b, c = (pension_app(s, at=_at(d)).id for d in (2, 3, 4))
        medical_app(s)  # filtered away by kind
    sign_in(officer.id)

    filters = "status=pending_review&kind=pension&sort=-created_at"
    middle = client.get(f"/officer/applications/{b}?{filters}").text
    assert _link(middle, "prev") == f"/officer/applications/{c}?{filters}"
    assert _link(middle, "next") == f"/officer/applications/{a}?{filters}"
    first = client.get(f"/officer/applications/{c}?{filters}").text
    assert _link(first, "prev") is None
    assert "J 下一条" in _visible(first) and "K 上一条" in _visible(first)


def _visible(page: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def test_approve_and_next_opens_the_next_pending_case_keeping_the_filters(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        a, b, c = (pension_app(s, at=_at(d)).id for d in (2, 3, 4))
        other = medical_app(s).id
    csrf = sign_in(officer.id)
    filters = "status=pending_review&kind=pension"

    r = client.post(
        f"/officer/applications/{a}/decision?{filters}",
        data={"csrf_token": csrf, "decision": "approve_next", "opinion": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/officer/applications/{b}?{filters}&done=approved"
    # 退回并下一条 is a rejection: it needs the opinion, and stays on the case without it.
    refused = client.post(
        f"/officer/applications/{b}/decision?{filters}",
        data={"csrf_token": csrf, "decision": "reject_next", "opinion": ""},
        follow_redirects=False,
    )
    assert refused.status_code == 422 and _status(session_factory, b) == "pending_review"
    r = client.post(
        f"/officer/applications/{b}/decision?{filters}",
        data={"csrf_token": csrf, "decision": "reject_next", "opinion": "重复申请"},
        follow_redirects=False,
    )
    assert r.headers["location"] == f"/officer/applications/{c}?{filters}&done=rejected"
    r = client.post(
        f"/officer/applications/{c}/decision?{filters}",
        data={"csrf_token": csrf, "decision": "approve_next"},
        follow_redirects=False,
    )
    # Nothing of the kind left: back to the queue, which says so.
    assert r.headers["location"] == f"/officer/applications?{filters}&done=queue_done"
    assert "已没有待审核的申请" in client.get(r.headers["location"]).text
    assert [_status(session_factory, i) for i in (a, b, c, other)] == [
        "approved",
        "rejected",
        "approved",
        "pending_review",
    ]


def test_the_queue_opens_on_pending_and_all_states_are_one_choice_away(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        pending = pension_app(s).id
        done = pension_app(s)
        done.status = "rejected"
    sign_in(officer.id)

    opened = client.get("/officer/applications").text
    assert re.search(r'<option value="pending_review" selected>', opened)
    assert f'value="{pending}"' in opened and f'value="{done.id}"' not in opened
    everything = client.get("/officer/applications?status=").text
    assert f'value="{done.id}"' in everything
    # 全部 is kept by the pager and the case links.
    assert f'href="/officer/applications/{pending}?status="' in everything


def test_a_queue_longer_than_the_count_limit_says_at_least_and_keeps_the_next_page(
    client, session_factory, sign_in, monkeypatch
):
    from sirefund.services import review_queue

    monkeypatch.setattr(review_queue, "COUNT_LIMIT", 2)
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        for day in (2, 3, 4):
            pension_app(s, at=_at(day))
    sign_in(officer.id)

    api = client.get("/api/v1/officer/applications?page_size=1&status=pending_review").json()
    assert (api["total"], api["total_exact"]) == (2, False)
    page = client.get("/officer/applications?status=pending_review").text
    assert "共 3 条记录" in page  # a page that is not full knows its total
    monkeypatch.setattr(review_queue, "COUNT_LIMIT", 0)
    monkeypatch.setattr("sirefund.web.pages.officer.PAGE_SIZE", 1)
    first = _visible(client.get("/officer/applications?status=pending_review").text)
    assert "共 1 条以上记录" in first
    assert "共 1 页以上" in first
    assert "下一页" in first and 'aria-disabled="true">下一页' not in first
