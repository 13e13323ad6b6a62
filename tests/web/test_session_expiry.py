"""A session that ends while someone is typing (issue 10, part 9): the form they send leads to
the login page saying why (登录已超时，请重新登录); after logging in again they are back on the
form with what they typed — kept on the server for that account, never in a URL."""

from __future__ import annotations

import re
from urllib.parse import unquote

import pytest

from tests import factories as f

CARD = "6228480402564890018"
CONTACT_PHONE = "13912345678"


@pytest.fixture
def people(seed):
    def build(s):
        p = f.make_person(s, password=f.PASSWORD, phone="13812341234")
        other = f.make_person(s, name="王五", password=f.PASSWORD, phone="13812345555")
        pay = f.make_pension_payment(s, p, amount_fen=70000)
        return {"id": p.id, "other_id": other.id, "payment": pay.payment_id}

    return seed(build)


def _typed(csrf: str, payment: str) -> dict[str, str]:
    return {
        "csrf_token": csrf,
        "year": "2025",
        "payment_ids": payment,
        "bank_account_type": "bank_card",
        "bank_account_no": CARD,
        "bank_category": "103",
        "contact_name": "邱世贵",
        "contact_phone": CONTACT_PHONE,
    }


def _login(client, login_page: str, phone: str):
    page = client.get(login_page)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    next_url = re.search(r'name="next" value="([^"]*)"', page.text).group(1)
    return client.post(
        "/m/login",
        data={
            "csrf_token": csrf,
            "kind": "person",
            "login": phone,
            "password": f.PASSWORD,
            "next": next_url.replace("&amp;", "&"),
        },
        follow_redirects=False,
    )


def test_a_form_sent_after_the_session_ended_says_why_and_comes_back_filled_in(
    client, browse, people, clock
):
    csrf = browse("person", people["id"])
    form_page = f"/m/pension?year=2025&apply={people['payment']}"
    assert client.get(form_page).status_code == 200
    clock.advance(minutes=31)  # idle longer than the session allows

    r = client.post(
        "/m/pension/apply",
        data=_typed(csrf, people["payment"]),
        headers={"referer": "http://testserver" + form_page},
        follow_redirects=False,
    )
    assert r.status_code == 303
    location = r.headers["location"]
    assert location.startswith("/m/login?kind=person&done=session_expired&next=")
    assert unquote(location.split("next=", 1)[1]) == form_page
    assert CARD not in unquote(location) and CONTACT_PHONE not in unquote(location)
    assert r.cookies.get("sirefund_typed")

    login_page = client.get(location)
    assert "登录已超时，请重新登录" in login_page.text

    r = _login(client, location, "13812341234")
    assert r.status_code == 303 and r.headers["location"] == form_page
    page = client.get(form_page).text
    assert "已恢复登录超时前填写的内容" in page
    assert f'value="{CARD}"' in page and f'value="{CONTACT_PHONE}"' in page
    # Handed back once: the next visit shows an empty form again.
    again = client.get(form_page).text
    assert CARD not in again and "已恢复" not in again


def test_another_account_logging_in_on_that_browser_does_not_see_what_was_typed(
    client, browse, people, clock
):
    csrf = browse("person", people["id"])
    form_page = f"/m/pension?year=2025&apply={people['payment']}"
    clock.advance(minutes=31)
    r = client.post(
        "/m/pension/apply",
        data=_typed(csrf, people["payment"]),
        headers={"referer": "http://testserver" + form_page},
        follow_redirects=False,
    )
    _login(client, r.headers["location"], "13812345555")
    page = client.get(form_page).text
    assert CARD not in page and CONTACT_PHONE not in page and "已恢复" not in page


def test_a_form_without_the_ended_sessions_own_token_is_not_kept(client, browse, people, clock):
    """Another site posting into our form cannot plant values for the victim's next login."""
    browse("person", people["id"])
    clock.advance(minutes=31)
    r = client.post(
        "/m/pension/apply",
        data=_typed("forged-token", people["payment"]),
        headers={"referer": f"http://testserver/m/pension?apply={people['payment']}"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "sirefund_typed" not in r.cookies


def test_an_anonymous_visitor_is_sent_to_login_without_the_timeout_message(client):
    r = client.get("/m/pension", follow_redirects=False)
    assert "session_expired" not in r.headers["location"]


def test_pc_dialog_shown_without_javascript_comes_back_on_the_list_page_with_the_dialog_open(
    client, browse, people, clock
):
    """The no-JavaScript 申请退费 dialog is the answer to a POST (/etax/pension/action), which
    cannot be opened again: the way back is the list page, with the dialog open as typed."""
    csrf = browse("person", people["id"])
    clock.advance(minutes=31)
    r = client.post(
        "/etax/pension/apply",
        data=_typed(csrf, people["payment"]),
        headers={"referer": "http://testserver/etax/pension/action"},
        follow_redirects=False,
    )
    location = r.headers["location"]
    assert location.startswith("/etax/login?kind=person&done=session_expired&next=")
    assert unquote(location.split("next=", 1)[1]) == "/etax/pension"
    page = client.get(location)
    csrf_login = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post(
        "/etax/login",
        data={
            "csrf_token": csrf_login,
            "kind": "person",
            "login": "13812341234",
            "password": f.PASSWORD,
            "next": "/etax/pension",
        },
        follow_redirects=False,
    )
    assert r.headers["location"] == "/etax/pension"
    page = client.get("/etax/pension").text
    assert re.search(r'<dialog id="apply-dialog"[^>]*\bopen\b', page)
    assert "合计 700.00 元" in page
    assert f'value="{CARD}"' in page and f'value="{CONTACT_PHONE}"' in page
