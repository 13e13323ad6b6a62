"""消息中心 and the reasons on the PC (电子税务局) and phone (楚税通) pages: the header counts
unread notices, opening one marks it read, another's is not found, and a refused or failed
case shows why on the applicant's and the unit's progress pages."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from sqlalchemy import select

from sirefund.models import Notification
from tests import factories as f
from tests.web.refund_requests import UNIT_NAME, apply, apply_unit

SITES = [("etax", "/etax/"), ("m", "/m/")]


def text(page: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def unread_badge(page: str) -> str | None:
    found = re.search(r'<span class="badge" data-unread>(\d+)</span>', page)
    return found.group(1) if found else None


@pytest.fixture
def applicant(seed, client, login):
    """A person with one submitted pension refund (so one unread notice)."""
    me = seed(lambda s: f.make_person(s, name="邱世贵"))
    pay = seed(lambda s: f.make_pension_payment(s, s.get(f.Person, me.id)).payment_id)
    app = apply(client, login("person", me.id), pay)
    return me.id, app


@pytest.mark.parametrize(("site", "home"), SITES)
def test_the_header_counts_unread_notices_and_opening_one_marks_it_read(
    client, browse, applicant, session_factory, site, home
):
    person_id, app = applicant
    browse("person", person_id)
    assert unread_badge(client.get(home).text) == "1"

    listing = client.get(f"/{site}/messages")
    assert listing.status_code == 200
    shown = text(listing.text)
    assert "消息中心" in shown and "退费申请已受理" in shown and "未读" in shown
    with session_factory() as s:
        notice_id = s.execute(select(Notification.id)).scalar_one()

    opened = client.get(f"/{site}/messages/{notice_id}")
    assert opened.status_code == 200
    assert app["document_no"] in text(opened.text) and "30个工作日" in text(opened.text)
    assert unread_badge(opened.text) is None
    assert unread_badge(client.get(home).text) is None
    assert "未读" not in text(client.get(f"/{site}/messages").text)


@pytest.mark.parametrize(("site", "home"), SITES)
def test_another_persons_notice_does_not_open_and_stays_unread(
    client, browse, applicant, seed, session_factory, site, home
):
    with session_factory() as s:
        notice_id = s.execute(select(Notification.id)).scalar_one()
    stranger = seed(f.make_person)
    browse("person", stranger.id)
    r = client.get(f"/{site}/messages/{notice_id}")
    assert r.status_code == 404 and "消息不存在" in r.text
    assert "退费申请已受理" not in client.get(f"/{site}/messages").text
    with session_factory() as s:
        assert s.execute(select(Notification.read_at)).scalar_one() is None


@pytest.mark.parametrize("site", ["etax", "m"])
def test_the_message_centre_asks_an_anonymous_visitor_to_log_in(client, site):
    r = client.get(f"/{site}/messages", follow_redirects=False)
    assert r.status_code == 303 and "login" in r.headers["location"]


# --------------------------------------------------------------------------- reasons


@pytest.mark.parametrize("url", ["/etax/pension/progress", "/m/pension?view=progress"])
def test_the_payer_sees_why_hrss_refused_and_why_the_payout_failed(
    client, login, browse, seed, session_factory, url
):
    me = seed(lambda s: f.make_person(s, name="邱世贵"))
    pays = seed(
        lambda s: [f.make_pension_payment(s, s.get(f.Person, me.id)).payment_id for _ in range(2)]
    )
    headers = login("person", me.id)
    frozen = apply(client, headers, pays[0])["id"]
    seed(lambda s: f.fail_payout(s, frozen, reason="账户已冻结"))
    refused = apply(client, headers, pays[1])["id"]
    seed(lambda s: f.refuse_at_agency(s, refused, reason="人社退回：参保状态异常"))
    browse("person", me.id)
    shown = text(client.get(url).text)
    assert "退付失败：账户已冻结" in shown
    assert "人社退回：参保状态异常" in shown


def test_the_units_progress_rows_tell_an_hrss_refusal_from_a_bank_failure(
    client, login, browse, seed, session_factory
):
    def build(s):
        unit = f.make_unit(s, name=UNIT_NAME)
        up, lines = f.make_unit_payment(
            s, unit, [f.make_person(s), f.make_person(s)], payment_type="collective_subsidy"
        )
        return unit.id, up.unit_payment_id, [line.line_id for line in lines]

    unit_id, payment, lines = seed(build)
    failed, refused = apply_unit(client, login("unit", unit_id), payment, lines)
    seed(lambda s: f.fail_payout(s, failed, reason="账户已销户"))
    seed(lambda s: f.refuse_at_agency(s, refused, reason="人社退回：已享受待遇"))
    browse("unit", unit_id)
    shown = text(client.get("/etax/unit/progress").text)
    assert "退付失败：账户已销户" in shown
    assert "人社退回：已享受待遇" in shown


# --------------------------------------------------------------------------- 重新申请


@pytest.mark.parametrize(
    ("progress", "form"),
    [("/etax/pension/progress", "/etax/pension"), ("/m/pension?view=progress", "/m/pension")],
)
def test_a_refused_case_offers_to_apply_again_with_its_details_filled_in(
    client, login, browse, seed, session_factory, progress, form
):
    me = seed(lambda s: f.make_person(s, name="邱世贵"))
    pay = seed(lambda s: f.make_pension_payment(s, s.get(f.Person, me.id)).payment_id)
    app_id = apply(client, login("person", me.id), pay)["id"]
    seed(lambda s: f.refuse_at_agency(s, app_id, reason="人社退回：参保状态异常"))
    browse("person", me.id)
    page = client.get(progress).text
    assert f'href="{form}?reapply={app_id}"' in page and "重新申请" in page

    dialog = client.get(f"{form}?reapply={app_id}")
    assert dialog.status_code == 200
    assert f'name="payment_ids" value="{pay}"' in dialog.text
    assert 'value="6228480402564890018"' in dialog.text  # the refused case's account
    assert 'value="13812341234"' in dialog.text


def test_nobody_else_can_open_a_refused_case_to_apply_again(
    client, login, browse, seed, session_factory
):
    me, stranger = seed(lambda s: (f.make_person(s, name="邱世贵"), f.make_person(s)))
    pay = seed(lambda s: f.make_pension_payment(s, s.get(f.Person, me.id)).payment_id)
    app_id = apply(client, login("person", me.id), pay)["id"]
    seed(lambda s: f.refuse_at_agency(s, app_id, reason="人社退回：参保状态异常"))
    browse("person", stranger.id)
    for url in (f"/etax/pension?reapply={app_id}", f"/m/pension?reapply={app_id}"):
        page = client.get(url)
        assert page.status_code == 404  # 页面不存在, as for one that does not exist
        assert "6228480402564890018" not in page.text and pay not in page.text
