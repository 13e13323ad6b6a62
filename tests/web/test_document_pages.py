"""The 文书号 and the print links on the pages: the PC and phone progress views and the unit's
progress rows offer 打印回执 for every application and 打印凭证 once it is paid; the officer
queue shows the 文书号 under the application number and the detail prints both."""

from __future__ import annotations

import pytest

from sirefund.models import Person
from tests import factories as f
from tests.web.officer_helpers import medical_app, pension_app, unit_app


def _links(page: str, app_id: int) -> tuple[bool, bool]:
    receipt = f'href="/api/v1/applications/{app_id}/receipt.pdf"'
    certificate = f'href="/api/v1/applications/{app_id}/certificate.pdf"'
    return receipt in page, certificate in page


def _make(session_factory, build):
    with session_factory() as s, s.begin():
        app = build(s)
        return {
            "id": app.id,
            "no": app.document_no,
            "person": app.person_id,
            "unit": app.unit_id,
            "registration": app.registration_id,
        }


@pytest.mark.parametrize("url", ["/etax/pension/progress", "/m/pension?view=progress"])
def test_pension_progress_shows_the_document_number_and_the_print_links(
    client, browse, seed, session_factory, url
):
    pending = _make(session_factory, pension_app)
    with session_factory() as s, s.begin():
        paid = {"id": pension_app(s, person=s.get(Person, pending["person"])).id}
    seed(lambda s: f.pay_out(s, paid["id"]))
    browse("person", pending["person"])
    page = client.get(url).text
    assert pending["no"] in page and "文书号" in page
    assert _links(page, pending["id"]) == (True, False)
    assert _links(page, paid["id"]) == (True, True)
    assert "打印回执" in page and "打印凭证" in page


@pytest.mark.parametrize("url", ["/etax/medical/progress", "/m/medical/query"])
def test_medical_progress_shows_the_document_number_and_the_receipt_link(
    client, browse, session_factory, url
):
    app = _make(session_factory, medical_app)
    browse("person", app["person"])
    params = {"insurance_year": 2026, "registration_id": app["registration"], "view": "progress"}
    page = client.get(url, params=params).text
    assert app["no"] in page
    assert _links(page, app["id"]) == (True, False)


def test_unit_progress_rows_show_the_document_number_and_the_print_links(
    client, browse, seed, session_factory
):
    app = _make(session_factory, unit_app)
    seed(lambda s: f.pay_out(s, app["id"]))
    browse("unit", app["unit"])
    page = client.get("/etax/unit/progress").text
    assert app["no"] in page
    assert _links(page, app["id"]) == (True, True)


def test_the_officer_queue_and_detail_show_the_document_number_and_print(
    client, browse, seed, session_factory
):
    app = _make(session_factory, pension_app)
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420703").id
    browse("officer", officer)
    queue = client.get("/officer/applications").text
    assert app["no"] in queue
    detail = client.get(f"/officer/applications/{app['id']}").text
    assert app["no"] in detail
    assert _links(detail, app["id"]) == (True, False)
    seed(lambda s: f.pay_out(s, app["id"]))
    detail = client.get(f"/officer/applications/{app['id']}").text
    assert _links(detail, app["id"]) == (True, True)
