"""继承人代办 pages (PC /etax/heirs, phone /m/heirs): the claim form with errors next to its
fields, the claim's status and reason, the deceased's payments and the application form."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from sirefund.models import Application
from sirefund.services import accounts
from tests import factories as f

DEATH = "2025-12-01"


def text(page: str) -> str:
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


@pytest.fixture
def browse(client, session_factory, clock, settings):
    def _browse(kind: str, account_id: int) -> str:
        with session_factory() as s, s.begin():
            token, row = accounts.create_session(
                s, kind=kind, account_id=account_id, at=clock.now(), settings=settings
            )
        client.cookies.set("sirefund_session", token)
        return row.csrf_token

    return _browse


@pytest.fixture
def family(seed, realname_sim):
    def build(s):
        deceased = f.make_person(s, name="邱世贵", region="420703")
        pay = f.make_pension_payment(s, deceased)
        heir = f.make_person(s, name="邱小贵", region="420102", password=f.PASSWORD)
        return deceased.id_number, pay.payment_id, heir.id

    found = seed(build)
    realname_sim.add_death(found[0], DEATH, name="邱世贵")
    return found


def claim_form(csrf, deceased_id, **overrides):
    return {
        "csrf_token": csrf,
        "relationship": "child",
        "deceased_id_number": deceased_id,
        "deceased_name": "邱世贵",
        "death_date": DEATH,
        **overrides,
    }


@pytest.mark.parametrize("site", ["etax", "m"])
def test_the_heir_claims_then_applies_for_the_deceased_payment_on_the_page(
    client, browse, family, session_factory, site
):
    deceased_id, payment_id, heir = family
    csrf = browse("person", heir)
    page = client.get(f"/{site}/heirs")
    assert page.status_code == 200
    assert "与已故参保人关系" in page.text
    r = client.post(f"/{site}/heirs", data=claim_form(csrf, deceased_id), follow_redirects=False)
    assert r.status_code == 303, r.text
    claim_url = r.headers["location"]
    page = client.get(claim_url)
    assert "已核实" in text(page.text)
    assert payment_id in page.text
    assert deceased_id not in page.text
    r = client.post(
        f"{claim_url}/apply",
        data={
            "csrf_token": csrf,
            "payment_ids": payment_id,
            "bank_account_type": "bank_card",
            "bank_account_no": "6228480402564890018",
            "bank_account_name": "邱小贵",
            "bank_category": "103",
            "contact_name": "邱小贵",
            "contact_phone": "13812341234",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    with session_factory() as s:
        app = s.query(Application).filter_by(pension_payment_id=payment_id).one()
        assert (app.person_id, app.heir_claim_id is not None) == (heir, True)


def test_a_claim_form_error_is_shown_next_to_its_field(client, browse, family):
    deceased_id, _, heir = family
    csrf = browse("person", heir)
    r = client.post("/etax/heirs", data=claim_form(csrf, deceased_id, deceased_id_number="123"))
    assert r.status_code == 422
    assert 'id="h-deceased_id_number-error"' in r.text


def test_a_refused_claim_shows_its_reason_and_no_payment(client, browse, family):
    deceased_id, payment_id, heir = family
    csrf = browse("person", heir)
    r = client.post("/etax/heirs", data=claim_form(csrf, deceased_id, death_date="2025-01-02"))
    page = client.get(r.headers["location"]) if r.status_code == 303 else r
    assert "死亡日期与死亡登记信息不符" in text(page.text)
    assert payment_id not in page.text


def test_the_heir_account_must_be_the_heir_own_on_the_page(client, browse, family):
    deceased_id, payment_id, heir = family
    csrf = browse("person", heir)
    claim_url = client.post(
        "/m/heirs", data=claim_form(csrf, deceased_id), follow_redirects=False
    ).headers["location"]
    r = client.post(
        f"{claim_url}/apply",
        data={
            "csrf_token": csrf,
            "payment_ids": payment_id,
            "bank_account_type": "bank_card",
            "bank_account_no": "6228480402564890018",
            "bank_account_name": "邱世贵",
            "bank_category": "103",
            "contact_name": "邱小贵",
            "contact_phone": "13812341234",
        },
    )
    assert r.status_code == 422
    assert 'id="d-bank_account_name-error"' in r.text


@pytest.mark.parametrize("site", ["etax", "m"])
def test_the_claims_answer_arrives_in_the_message_centre_and_leads_back_to_the_claim(
    client, browse, family, site
):
    deceased_id, _, heir = family
    csrf = browse("person", heir)
    claim_url = client.post(
        f"/{site}/heirs",
        data=claim_form(csrf, deceased_id, deceased_name="邱世富"),
        follow_redirects=False,
    ).headers["location"]
    listing = client.get(f"/{site}/messages")
    assert "继承人代办申请核实不通过" in text(listing.text)
    opened_url = re.search(rf'href="(/{site}/messages/\d+)"', listing.text)
    assert opened_url is not None
    opened = client.get(opened_url.group(1))
    assert opened.status_code == 200
    assert "原因：姓名与死亡登记信息不符" in text(opened.text)
    assert f'href="{claim_url}"' in opened.text and "查看继承人代办" in opened.text
