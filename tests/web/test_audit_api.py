"""The audit log over HTTP: GET /api/v1/officer/audit and its xlsx export for auditors only,
the 税务端 page 审计日志, and the client address each row names."""

from __future__ import annotations

import html
import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from sirefund.domain.audit import AuditAction
from sirefund.models import AuditRecord
from sirefund.services import audit
from tests import factories as f
from tests.web.officer_helpers import pension_app

API = "/api/v1/officer/audit"


@pytest.fixture
def world(seed, clock):
    """An auditor, a reviewer, two applications (one approved by the reviewer)."""

    def build(s):
        auditor = f.make_officer(s, code="AUD01", reviewer=False, auditor=True)
        reviewer = f.make_officer(s, code="REV01")
        first = pension_app(s)
        second = pension_app(s, region="420102")
        return {
            "auditor": auditor.id,
            "reviewer": reviewer.id,
            "first": first.id,
            "first_person": first.person_id,
            "second": second.id,
        }

    return seed(build)


def _approve(client, login, world):
    reply = client.post(
        f"/api/v1/officer/applications/{world['first']}/approve",
        json={"opinion": "同意退费"},
        headers=login("officer", world["reviewer"]),
    )
    assert reply.status_code == 200, reply.text


def test_an_auditor_browses_the_log_newest_first_with_who_what_and_from_where(client, login, world):
    _approve(client, login, world)

    reply = client.get(API, headers=login("officer", world["auditor"]))

    assert reply.status_code == 200
    body = reply.json()
    assert body["total"] == 3
    newest = body["items"][0]
    assert newest["action"] == "application.transition"
    assert newest["action_label"] == "申请状态变更"
    assert (newest["actor_kind"], newest["actor_id"]) == ("officer", "REV01")
    assert newest["application_id"] == world["first"]
    assert newest["details"]["to"] == "approved"
    assert newest["address"] == "testclient"  # the client address the request came from
    assert [i["id"] for i in body["items"]] == sorted(
        (i["id"] for i in body["items"]), reverse=True
    )


def test_the_log_filters_by_application_actor_person_and_date(client, login, world):
    _approve(client, login, world)
    headers = login("officer", world["auditor"])

    def ids(**params):
        reply = client.get(API, params=params, headers=headers)
        assert reply.status_code == 200, reply.text
        return [(i["application_id"], i["actor_kind"]) for i in reply.json()["items"]]

    assert ids(application_id=world["second"]) == [(world["second"], "person")]
    assert ids(actor="REV01") == [(world["first"], "officer")]
    assert ids(actor="officer:REV01") == [(world["first"], "officer")]
    assert ids(person_id=world["first_person"]) == [
        (world["first"], "officer"),
        (world["first"], "person"),
    ]
    assert len(ids(date_from="2026-03-10", date_to="2026-03-10")) == 3
    assert ids(date_from="2026-03-11") == []


def test_a_bad_filter_is_422_with_its_field(client, login, world):
    headers = login("officer", world["auditor"])
    reply = client.get(
        API, params={"date_from": "2026-03-12", "date_to": "2026-03-10"}, headers=headers
    )
    assert reply.status_code == 422
    assert reply.json()["error"]["code"] == "audit.date_range"
    assert client.get(API, params={"application_id": "x"}, headers=headers).status_code == 422


@pytest.mark.parametrize("kind", ["reviewer", "person"])
def test_anyone_but_an_auditor_gets_403_from_the_log_and_its_export(client, login, world, kind):
    headers = (
        login("officer", world["reviewer"])
        if kind == "reviewer"
        else login("person", world["first_person"])
    )
    for path in (API, API + ".xlsx"):
        reply = client.get(path, headers=headers)
        assert reply.status_code == 403, path
        assert "审计" in reply.text or kind == "person"


def test_the_export_is_a_workbook_whose_cells_never_start_a_formula(
    client, login, world, session_factory, clock
):
    with session_factory() as s, s.begin():
        audit.record(
            s,
            actor=audit.Actor.officer("REV01"),
            action=AuditAction.REVEAL,
            at=clock.now(),
            subject=audit.Subject(application_id=world["first"]),
            details={"field": "id_number", "reason": '=HYPERLINK("http://x")'},
            address="=1+1",
        )
    reply = client.get(API + ".xlsx", headers=login("officer", world["auditor"]))

    assert reply.status_code == 200
    assert "audit-log-" in reply.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(reply.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:5] == ("序号", "时间（北京时间）", "操作人类型", "操作人", "操作")
    assert len(rows) == 1 + 3
    reveal = rows[1]
    assert reveal[4] == "查看完整信息" and reveal[9] == "=1+1"
    cells = list(sheet.iter_rows())[1]
    assert all(c.data_type != "f" for c in cells)


def test_the_auditor_page_lists_the_log_in_chinese_and_others_are_refused(
    client, world, session_factory, clock, settings
):
    from sirefund.services import accounts

    def sign_in(officer_id):
        with session_factory() as s, s.begin():
            token, _ = accounts.create_session(
                s, kind="officer", account_id=officer_id, at=clock.now(), settings=settings
            )
        client.cookies.set("sirefund_session", token)

    sign_in(world["auditor"])
    page = client.get("/officer/audit", params={"application_id": world["second"]})
    assert page.status_code == 200
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.text))
    for words in ("审计日志", "申请编号", "操作人", "来源地址", "导出Excel", "申请状态变更"):
        assert words in text
    assert f'href="/officer/audit.xlsx?application_id={world["second"]}"' in page.text
    assert client.get("/officer/audit.xlsx").status_code == 200

    sign_in(world["reviewer"])
    refused = client.get("/officer/audit")
    assert refused.status_code == 403
    assert "仅审计人员可以查看审计日志" in refused.text
    assert "申请状态变更" not in refused.text


def test_an_api_login_is_audited_with_the_client_address(client, world, session_factory, clock):
    reply = client.post(
        "/api/v1/sessions",
        json={"kind": "officer", "login": "REV01", "password": "wrong-Passw0rd!", "otp": "000000"},
    )
    assert reply.status_code == 401
    with session_factory() as s:
        row = s.execute(
            select(AuditRecord).where(AuditRecord.action == "login.failure")
        ).scalar_one()
    assert row.address == "testclient" and row.officer_id == world["reviewer"]
    assert "wrong-Passw0rd!" not in row.details and "REV01" not in row.details


def test_the_page_shows_details_as_readable_chinese_not_escaped(
    client, world, session_factory, clock, settings
):
    from sirefund.services import accounts

    with session_factory() as s, s.begin():
        token, _ = accounts.create_session(
            s, kind="officer", account_id=world["auditor"], at=clock.now(), settings=settings
        )
    client.cookies.set("sirefund_session", token)
    page = client.get("/officer/audit")
    assert "提交退费申请" in html.unescape(page.text)
    assert "\\u63d0" not in page.text
