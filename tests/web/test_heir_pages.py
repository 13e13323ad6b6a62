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


# --------------------------------------------------------------------------- 城乡居民医疗保险

HEIR_CARD = "6228480402564890018"


@pytest.fixture
def medical_family(seed, realname_sim):
    """The deceased with a registration and a 2026 medical payment of 410.00 (and an older
    2024 one); their child with a submitted deposit account of the heir's own; a stranger."""

    def build(s):
        deceased = f.make_person(s, name="邱世贵", region="420703")
        reg = f.make_registration(s, deceased)
        f.make_medical_payment(s, reg, year=2024, medical_fen=30000)
        pay = f.make_medical_payment(s, reg, year=2026, medical_fen=41000)
        heir = f.make_person(s, name="邱小贵", region="420102", password=f.PASSWORD)
        mine = f.make_submitted_account(s, heir, account_no=HEIR_CARD)
        stranger = f.make_person(s, name="冒领人", region="420102", password=f.PASSWORD)
        return {
            "deceased_id": deceased.id_number,
            "payment": pay.payment_id,
            "ticket": pay.ticket_no,
            "heir": heir.id,
            "heir_account": mine.id,
            "stranger": stranger.id,
        }

    found = seed(build)
    realname_sim.add_death(found["deceased_id"], DEATH, name="邱世贵")
    return found


def medical_form(csrf, world, **overrides):
    return {
        "csrf_token": csrf,
        "payment_ids": world["payment"],
        "deposit_account_id": str(world["heir_account"]),
        "handler_phone": "13812341234",
        "reason_code": "deceased",
        "reason_text": "",
        **overrides,
    }


def verified_claim(client, csrf, world, site="etax", **overrides):
    r = client.post(
        f"/{site}/heirs",
        data=claim_form(csrf, world["deceased_id"], **overrides),
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return r.headers["location"]


@pytest.mark.parametrize("site", ["etax", "m"])
def test_the_claim_page_lists_the_deceased_medical_payments_of_the_newest_year(
    client, browse, medical_family, site
):
    csrf = browse("person", medical_family["heir"])
    page = client.get(verified_claim(client, csrf, medical_family, site))
    assert page.status_code == 200
    shown = text(page.text)
    assert "城乡居民医疗保险" in shown
    assert "2026参保年度" in shown
    assert medical_family["ticket"] in shown and "410.00" in shown
    assert "300.00" not in shown  # the 2024 payment is of an older year
    assert medical_family["deceased_id"] not in page.text
    assert f'action="/{site}/heirs/' in page.text and '/medical"' in page.text


@pytest.mark.parametrize("site", ["etax", "m"])
def test_the_heir_applies_for_the_deceased_medical_payment_into_the_heir_own_account(
    client, browse, medical_family, session_factory, site
):
    csrf = browse("person", medical_family["heir"])
    claim_url = verified_claim(client, csrf, medical_family, site)
    r = client.post(
        f"{claim_url}/medical", data=medical_form(csrf, medical_family), follow_redirects=False
    )
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith(claim_url)
    with session_factory() as s:
        app = s.query(Application).filter_by(medical_payment_id=medical_family["payment"]).one()
        assert (app.person_id, app.deposit_account_id) == (
            medical_family["heir"],
            medical_family["heir_account"],
        )
        assert app.heir_claim_id == int(claim_url.rsplit("/", 1)[1])
    assert "退费申请已提交" in text(client.get(r.headers["location"]).text)


@pytest.mark.parametrize("site", ["etax", "m"])
def test_medical_form_errors_are_shown_next_to_their_fields_in_chinese(
    client, browse, medical_family, session_factory, site
):
    csrf = browse("person", medical_family["heir"])
    claim_url = verified_claim(client, csrf, medical_family, site)
    r = client.post(
        f"{claim_url}/medical",
        data=medical_form(csrf, medical_family, handler_phone="12", reason_code=""),
    )
    assert r.status_code == 422
    assert 'id="med-handler_phone-error"' in r.text
    assert 'id="med-reason_code-error"' in r.text
    assert "请选择退费理由" in text(r.text)
    with session_factory() as s:
        assert (
            s.query(Application).filter_by(medical_payment_id=medical_family["payment"]).count()
            == 0
        )


def test_another_person_claim_page_and_medical_form_are_not_found(
    client, browse, medical_family, session_factory
):
    csrf = browse("person", medical_family["heir"])
    claim_url = verified_claim(client, csrf, medical_family)
    csrf = browse("person", medical_family["stranger"])
    assert client.get(claim_url).status_code == 404
    r = client.post(f"{claim_url}/medical", data=medical_form(csrf, medical_family))
    assert r.status_code == 404
    with session_factory() as s:
        assert (
            s.query(Application).filter_by(medical_payment_id=medical_family["payment"]).count()
            == 0
        )


def test_a_refused_claim_shows_no_medical_payment_and_cannot_apply(
    client, browse, medical_family, session_factory
):
    csrf = browse("person", medical_family["heir"])
    claim_url = verified_claim(client, csrf, medical_family, death_date="2025-01-02")
    page = client.get(claim_url)
    assert "核实不通过" in text(page.text)
    assert medical_family["ticket"] not in page.text
    assert "城乡居民医疗保险" not in text(page.text)
    r = client.post(f"{claim_url}/medical", data=medical_form(csrf, medical_family))
    assert r.status_code == 422
    with session_factory() as s:
        assert (
            s.query(Application).filter_by(medical_payment_id=medical_family["payment"]).count()
            == 0
        )
