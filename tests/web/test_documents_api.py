"""The printed documents (api.md "Outcomes"): GET /applications/{id}/receipt.pdf, the 受理回执,
at once after submission; GET /applications/{id}/certificate.pdf, the 退费凭证, once
``refunded``. Only the applicant (the person; the unit for its batches) and officers within
the payer's region may print; anybody else gets 404 as for a missing application. The PDF's
text is read back (pypdf): it says the 文书号, the name and the amount, and never a full ID
or account number. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import re

import pypdf
import pytest

from sirefund.domain.workflow import ApplicationStatus as S
from tests import factories as f
from tests.web.officer_helpers import ACCOUNT, medical_app, pension_app, unit_app

API = "/api/v1"
NUMBER = re.compile(r"鄂税退〔2026〕\d{6}-\d{6}")


def pdf_text(response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    return "\n".join(page.extract_text() for page in reader.pages)


@pytest.fixture
def case(session_factory):
    """A person's pending pension application (700.00 yuan), their ID number and account."""
    with session_factory() as s, s.begin():
        person = f.make_person(s, name="邱世贵", region="420703")
        app = pension_app(s, person=person)
        return {
            "person": person.id,
            "id_number": person.id_number,
            "app": app.id,
            "document_no": app.document_no,
        }


# --------------------------------------------------------------------------- 受理回执


def test_the_applicant_downloads_the_receipt_at_once_after_submitting(client, login, case):
    r = client.get(
        f"{API}/applications/{case['app']}/receipt.pdf", headers=login("person", case["person"])
    )
    text = pdf_text(r)
    assert "attachment" in r.headers["content-disposition"]
    assert "no-store" in r.headers["cache-control"]
    for words in (
        "城乡居民社会保险费退费受理回执",
        case["document_no"],
        "邱世贵",
        "¥700.00",
        "人民币柒佰元整",
        "城乡居民基本养老保险费",
        "30个工作日内",
        "国家税务总局鄂州市华容区税务局",
    ):
        assert words in text, words


def test_the_receipt_shows_no_full_id_or_account_number(client, login, case):
    text = pdf_text(
        client.get(
            f"{API}/applications/{case['app']}/receipt.pdf", headers=login("person", case["person"])
        )
    )
    digits = re.sub(r"\s", "", text)
    assert case["id_number"] not in digits
    assert ACCOUNT not in digits
    assert f"{case['id_number'][0]}****************{case['id_number'][-1]}" in text
    assert "*" * (len(ACCOUNT) - 4) + ACCOUNT[-4:] in text


def test_the_document_number_in_the_receipt_is_the_applications(client, login, case):
    headers = login("person", case["person"])
    listed = client.get(f"{API}/pension/refunds", headers=headers).json()["items"]
    assert [row["document_no"] for row in listed] == [case["document_no"]]
    assert NUMBER.fullmatch(case["document_no"])
    text = pdf_text(client.get(f"{API}/applications/{case['app']}/receipt.pdf", headers=headers))
    assert f"文书号：{case['document_no']}" in text


def test_another_person_asking_for_the_receipt_gets_404(client, login, seed, case):
    stranger = seed(lambda s: f.make_person(s, name="王秀英").id)
    for doc in ("receipt", "certificate"):
        r = client.get(
            f"{API}/applications/{case['app']}/{doc}.pdf", headers=login("person", stranger)
        )
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "application.not_found"


def test_a_missing_application_and_an_anonymous_caller_are_refused(client, login, case):
    headers = login("person", case["person"])
    assert client.get(f"{API}/applications/999999/receipt.pdf", headers=headers).status_code == 404
    assert client.get(f"{API}/applications/{case['app']}/receipt.pdf").status_code == 401


def test_a_unit_prints_its_own_applications_and_gets_404_for_another_units(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        ours = unit_app(s)
        theirs = unit_app(s)
        ours_ids = {"app": ours.id, "unit": ours.unit_id, "villager": ours.person_id}
        theirs_id = theirs.id
    headers = login("unit", ours_ids["unit"])
    text = pdf_text(
        client.get(f"{API}/applications/{ours_ids['app']}/receipt.pdf", headers=headers)
    )
    assert "华容区庙岭镇新庙村村民委员会" in text and "申请单位" in text and "¥200.00" in text
    assert (
        client.get(f"{API}/applications/{theirs_id}/receipt.pdf", headers=headers).status_code
        == 404
    )
    # The villager the unit applied for does not print the unit's application either.
    villager = login("person", ours_ids["villager"])
    assert (
        client.get(
            f"{API}/applications/{ours_ids['app']}/receipt.pdf", headers=villager
        ).status_code
        == 404
    )


def test_a_person_cannot_print_a_units_application_by_its_id(client, login, session_factory):
    with session_factory() as s, s.begin():
        app = unit_app(s)
        person = f.make_person(s)
        ids = (app.id, person.id)
    r = client.get(f"{API}/applications/{ids[0]}/receipt.pdf", headers=login("person", ids[1]))
    assert r.status_code == 404


def test_a_medical_receipt_names_the_ticket_and_the_insurance_year(client, login, session_factory):
    with session_factory() as s, s.begin():
        app = medical_app(s)
        ids = (app.id, app.person_id, app.document_no)
    text = pdf_text(
        client.get(f"{API}/applications/{ids[0]}/receipt.pdf", headers=login("person", ids[1]))
    )
    for words in (
        ids[2],
        "城乡居民基本医疗保险费",
        "参保年度",
        "票证号码",
        "¥350.00",
        "叁佰伍拾元整",
        "医疗保障部门",
    ):
        assert words in text, words
    assert "6217000010001234567" not in re.sub(r"\s", "", text)


# --------------------------------------------------------------------------- officers


def test_an_officer_within_the_region_prints_and_one_outside_gets_404(
    client, login, session_factory, case
):
    with session_factory() as s, s.begin():
        ezhou = f.make_officer(s, region="420700").id
        wuhan = f.make_officer(s, region="420100").id
    text = pdf_text(
        client.get(f"{API}/applications/{case['app']}/receipt.pdf", headers=login("officer", ezhou))
    )
    assert case["document_no"] in text
    # The document goes to the citizen: the citizen's masks, also when an officer prints it.
    assert case["id_number"] not in re.sub(r"\s", "", text)
    r = client.get(f"{API}/applications/{case['app']}/receipt.pdf", headers=login("officer", wuhan))
    assert r.status_code == 404


def test_officer_queue_and_detail_carry_the_document_number(client, login, session_factory, case):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420703").id
    headers = login("officer", officer)
    items = client.get(f"{API}/officer/applications", headers=headers).json()["items"]
    assert [i["document_no"] for i in items] == [case["document_no"]]
    detail = client.get(f"{API}/officer/applications/{case['app']}", headers=headers).json()
    assert case["document_no"] in str(detail)


# --------------------------------------------------------------------------- 退费凭证


@pytest.mark.parametrize(
    "path",
    [(), (S.APPROVED,), (S.APPROVED, S.AT_AGENCY), (S.REJECTED,)],
    ids=["pending", "approved", "at_agency", "rejected"],
)
def test_the_certificate_before_the_refund_is_paid_is_409(
    client, login, seed, session_factory, case, path
):
    seed(lambda s: f.walk(s, case["app"], *path))
    r = client.get(
        f"{API}/applications/{case['app']}/certificate.pdf", headers=login("person", case["person"])
    )
    assert r.status_code == 409
    assert r.json()["error"] == {
        "code": "document.not_refunded",
        "message": "退费成功后才能打印退费凭证",
        "field": None,
    }


def test_the_certificate_once_refunded_says_when_and_where_the_money_went(
    client, login, seed, session_factory, case
):
    seed(lambda s: f.pay_out(s, case["app"], bank_result="退付成功"))
    text = pdf_text(
        client.get(
            f"{API}/applications/{case['app']}/certificate.pdf",
            headers=login("person", case["person"]),
        )
    )
    for words in (
        "城乡居民社会保险费退费凭证",
        case["document_no"],
        "邱世贵",
        "¥700.00",
        "人民币柒佰元整",
        "2026年04月02日",
        "退付成功",
        "特此证明",
    ):
        assert words in text, words
    assert case["id_number"] not in re.sub(r"\s", "", text)
    # The receipt stays printable after the refund.
    r = client.get(
        f"{API}/applications/{case['app']}/receipt.pdf", headers=login("person", case["person"])
    )
    assert r.status_code == 200


def test_another_units_certificate_is_404_even_once_refunded(client, login, seed, session_factory):
    with session_factory() as s, s.begin():
        ours = unit_app(s)
        theirs = unit_app(s)
        ids = (ours.unit_id, theirs.id)
    seed(lambda s: f.pay_out(s, ids[1]))
    r = client.get(f"{API}/applications/{ids[1]}/certificate.pdf", headers=login("unit", ids[0]))
    assert r.status_code == 404


# --------------------------------------------------------------------------- no font


def test_without_a_cjk_font_printing_answers_503_and_names_the_package(
    client, login, app, case, tmp_path
):
    app.state.settings = app.state.settings.model_copy(update={"pdf_font": tmp_path / "none.ttc"})
    r = client.get(
        f"{API}/applications/{case['app']}/receipt.pdf", headers=login("person", case["person"])
    )
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "pdf.font_missing"
    assert "fonts-wqy-microhei" in r.json()["error"]["message"]


def test_every_kinds_progress_carries_the_document_number(client, login, session_factory):
    with session_factory() as s, s.begin():
        unit = unit_app(s)
        medical = medical_app(s)
        ids = {
            "unit": (unit.unit_id, unit.document_no),
            "medical": (medical.person_id, medical.document_no),
        }
    unit_rows = client.get(
        f"{API}/unit/refunds", params={"year": 2025}, headers=login("unit", ids["unit"][0])
    ).json()["items"]
    assert [r["document_no"] for r in unit_rows] == [ids["unit"][1]]
    medical_rows = client.get(
        f"{API}/medical/refunds",
        params={"insurance_year": 2026},
        headers=login("person", ids["medical"][0]),
    ).json()["items"]
    assert [r["document_no"] for r in medical_rows] == [ids["medical"][1]]
