"""重新申请 for every kind (issue 10, part 2): a refused medical application (PC and phone)
and a refused unit batch (PC) offer to apply again, the form opening on the same payment with
the earlier details filled in — only while the payment is refundable again, and never from
someone else's application (页面不存在, 404)."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import Application
from sirefund.services import accounts, applications
from sirefund.services.applications import Actor
from tests import factories as f
from tests.web.officer_helpers import medical_app, pension_app, unit_app

API = "/api/v1"
DEPOSIT = "6217000010001234567"  # officer_helpers.medical_app's submitted account


@pytest.fixture
def browse(client, session_factory, clock, settings):
    def _browse(kind: str, account_id: int) -> None:
        with session_factory() as s, s.begin():
            token, _ = accounts.create_session(
                s, kind=kind, account_id=account_id, at=clock.now(), settings=settings
            )
        client.cookies.clear()
        client.cookies.set("sirefund_session", token)

    return _browse


def refuse(session_factory, app_id: int, *, by_agency: bool) -> None:
    """审核不通过 (an officer), or approved and then 人社退回 / 核验不通过 (the agency)."""
    with session_factory() as s, s.begin():
        app = applications.get(s, app_id)
        agency = "medical_security" if app.kind == "medical" else "hrss"
        steps = (
            [
                (S.APPROVED, Actor.officer("OF0001"), {}),
                (
                    S.AGENCY_REJECTED,
                    Actor.agency(agency),
                    {"agency_message": "核验不通过：无重复缴费"},
                ),
            ]
            if by_agency
            else [(S.REJECTED, Actor.officer("OF0001"), {"review_opinion": "信息不符"})]
        )
    for target, actor, values in steps:
        with session_factory() as s, s.begin():
            applications.transition(
                s,
                application=applications.get(s, app_id),
                target=target,
                actor=actor,
                at=f.AT,
                reason="refused",
                values=values,
            )


def _text(page: str) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


# --------------------------------------------------------------------------- medical


@pytest.mark.parametrize(
    ("progress", "form"),
    [
        ("/etax/medical/progress?insurance_year=2026", "/etax/medical/apply"),
        ("/m/medical/query?view=progress&insurance_year=2026", "/m/medical/apply/fill"),
    ],
)
def test_a_refused_medical_case_offers_to_apply_again_with_its_details_filled_in(
    client, seed, browse, session_factory, progress, form
):
    app = seed(medical_app)
    refuse(session_factory, app.id, by_agency=True)
    browse("person", app.person_id)
    page = client.get(progress).text
    assert f'href="{form}?reapply={app.id}"' in page and "重新申请" in page

    opened = client.get(f"{form}?reapply={app.id}")
    assert opened.status_code == 200, opened.text[:500]
    assert f'name="payment_ids" value="{app.medical_payment_id}"' in opened.text
    assert 'value="13912345678"' in opened.text  # 办税人电话 of the refused case
    assert '<option value="duplicate_payment" selected>' in opened.text
    assert f'value="{app.deposit_account_id}"' in opened.text
    assert DEPOSIT[-4:] in _text(opened.text)


def test_the_medical_progress_api_says_which_refused_case_can_be_applied_for_again(
    client, seed, login, session_factory
):
    app = seed(medical_app)
    refuse(session_factory, app.id, by_agency=False)
    headers = login("person", app.person_id)

    def reapplicable() -> bool:
        r = client.get(f"{API}/medical/refunds", params={"insurance_year": 2026}, headers=headers)
        assert r.status_code == 200, r.text
        return next(row for row in r.json()["items"] if row["id"] == app.id)["reapplicable"]

    assert reapplicable() is True
    assert client.get(f"{API}/medical/refunds/{app.id}", headers=headers).json()["reapplicable"]
    again = client.post(
        f"{API}/medical/refunds",
        json={
            "payment_ids": [app.medical_payment_id],
            "registration_id": app.registration_id,
            "deposit_account_id": app.deposit_account_id,
            "handler_phone": "13912345678",
            "reason_code": "duplicate_payment",
            "reason_text": "",
            "channel": "web",
        },
        headers=headers,
    )
    assert again.status_code == 201, again.text
    # The payment has an open application again: nothing left to re-apply for.
    assert reapplicable() is False


def test_a_medical_case_that_was_not_refused_offers_no_reapplication(client, seed, browse):
    app = seed(medical_app)
    browse("person", app.person_id)
    page = client.get("/etax/medical/progress?insurance_year=2026").text
    assert "reapply=" not in page
    assert client.get(f"/etax/medical/apply?reapply={app.id}").status_code == 404


# --------------------------------------------------------------------------- unit


def test_a_refused_unit_line_offers_to_apply_again_with_the_batch_details_filled_in(
    client, seed, browse, session_factory
):
    app = seed(unit_app)
    refuse(session_factory, app.id, by_agency=True)
    with session_factory() as s:
        payment = s.get(f.UnitPaymentPerson, app.unit_line_id).unit_payment_id
    browse("unit", app.unit_id)
    progress = client.get("/etax/unit/progress?year=2025").text
    url = f"/etax/unit/payments/{payment}/refund?reapply={app.id}"
    assert f'href="{url}"' in progress and "重新申请" in progress

    page = client.get(url)
    assert page.status_code == 200, page.text[:500]
    assert f'name="chosen" value="{app.unit_line_id}"' in page.text  # in the 退费区 at once
    assert f'value="{app.bank_account_no}"' in page.text
    assert f'value="{app.contact_phone}"' in page.text
    assert 'value="村会计"' in page.text


def test_the_unit_progress_api_marks_a_refused_line_reapplicable_until_applied_again(
    client, seed, login, session_factory
):
    app = seed(unit_app)
    headers = login("unit", app.unit_id)

    def row() -> dict:
        r = client.get(f"{API}/unit/refunds", params={"year": 2025}, headers=headers)
        return next(x for x in r.json()["items"] if x["id"] == app.id)

    assert row()["reapplicable"] is False  # pending: nothing refused
    refuse(session_factory, app.id, by_agency=False)
    assert row()["reapplicable"] is True
    with session_factory() as s:
        payment = s.get(f.UnitPaymentPerson, app.unit_line_id).unit_payment_id
    again = client.post(
        f"{API}/unit/refund-batches",
        json={
            "unit_payment_id": payment,
            "line_ids": [app.unit_line_id],
            "payment_month": 1,
            "bank_account_no": app.bank_account_no,
            "bank_account_name": app.bank_account_name,
            "bank_account_type": "bank_card",
            "bank_category": "314",
            "contact_name": "村会计",
            "contact_phone": app.contact_phone,
        },
        headers=headers,
    )
    assert again.status_code == 201, again.text
    assert row()["reapplicable"] is False


def test_a_unit_cannot_reapply_a_line_under_another_payment(client, seed, browse, session_factory):
    app = seed(unit_app)
    refuse(session_factory, app.id, by_agency=False)
    other = seed(
        lambda s: (
            f.make_unit_payment(s, s.get(f.Unit, app.unit_id), [f.make_person(s)])[
                0
            ].unit_payment_id
        )
    )
    browse("unit", app.unit_id)
    assert client.get(f"/etax/unit/payments/{other}/refund?reapply={app.id}").status_code == 404


# --------------------------------------------------------------------------- nobody else's


@pytest.mark.parametrize(
    ("build", "who", "url"),
    [
        (pension_app, "person", "/etax/pension?reapply={id}"),
        (pension_app, "person", "/m/pension?reapply={id}"),
        (medical_app, "person", "/etax/medical/apply?reapply={id}"),
        (medical_app, "person", "/m/medical/apply/fill?reapply={id}"),
        (unit_app, "unit", "/etax/unit/payments/{payment}/refund?reapply={id}"),
    ],
)
def test_nobody_can_fill_a_form_from_someone_elses_refused_application(
    client, seed, browse, session_factory, build, who, url
):
    app = seed(build)
    refuse(session_factory, app.id, by_agency=True)
    with session_factory() as s:
        line = s.get(f.UnitPaymentPerson, app.unit_line_id) if app.unit_line_id else None
        stranger = f.make_unit(s) if who == "unit" else f.make_person(s)
        s.commit()
        stranger_id = stranger.id
    payment = line.unit_payment_id if line else ""
    browse(who, stranger_id)
    page = client.get(url.format(id=app.id, payment=payment))
    assert page.status_code == 404
    assert "页面不存在" in _text(page.text)
    for secret in (app.bank_account_no, app.handler_phone, app.contact_phone):
        if secret:
            assert secret not in page.text


@pytest.mark.parametrize(
    "url", ["/etax/medical/apply?reapply={id}", "/m/medical/apply/fill?reapply={id}"]
)
def test_a_pension_case_does_not_open_as_a_medical_reapplication(
    client, seed, browse, session_factory, url
):
    app = seed(pension_app)
    refuse(session_factory, app.id, by_agency=True)
    browse("person", app.person_id)
    assert client.get(url.format(id=app.id)).status_code == 404


def test_an_application_is_reapplicable_only_in_a_refused_state(seed, session_factory):
    from sirefund.services import reapply

    app = seed(pension_app)
    with session_factory() as s:
        assert reapply.reapplicable_ids(s, [s.get(Application, app.id)]) == set()
    refuse(session_factory, app.id, by_agency=False)
    with session_factory() as s:
        assert reapply.reapplicable_ids(s, [s.get(Application, app.id)]) == {app.id}
