"""风险提示 in the officer's review (api.md "Officer" wave 2): the queue's `risk` filter and
`risk_flags` items, the explanation in the case, batch approval leaving flagged cases out
(`risk.confirm_individually`), single approval refusing them without `confirm_risk`
(409 `risk.unconfirmed`), and the same on the pages (badge, 确认风险). SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re

import pytest

from sirefund.models import Application
from tests import factories as f
from tests.integration.approvals import unique_resident_id
from tests.web.officer_helpers import pension_app

API = "/api/v1/officer"
MULE = "6228480402564890018"


def _flagged_pair_and_clean(s):
    """Two people's refunds into one account (flagged) and a third with their own (clean)."""
    flagged = [
        pension_app(
            s,
            person=f.make_person(s, name=name, id_number=unique_resident_id("420703")),
            account=MULE,
        ).id
        for name in ("邱世贵", "王桂英")
    ]
    other = f.make_person(s, name="李德明", id_number=unique_resident_id("420703"))
    return flagged, pension_app(s, person=other).id


@pytest.fixture
def world(session_factory):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700").id
        flagged, clean = _flagged_pair_and_clean(s)
    return officer, flagged, clean


def test_queue_items_carry_their_risk_flags_and_the_risk_filter_keeps_them(client, login, world):
    officer, flagged, clean = world
    headers = login("officer", officer)
    items = {i["id"]: i for i in client.get(f"{API}/applications", headers=headers).json()["items"]}
    assert items[flagged[0]]["risk_flags"] == [
        {"code": "shared_account", "label": "多名缴费人使用同一银行账户"}
    ]
    assert items[clean]["risk_flags"] == []
    only = client.get(f"{API}/applications", params={"risk": "true"}, headers=headers).json()
    assert sorted(i["id"] for i in only["items"]) == sorted(flagged) and only["total"] == 2
    none = client.get(f"{API}/applications", params={"risk": "false"}, headers=headers).json()
    assert [i["id"] for i in none["items"]] == [clean]
    bad = client.get(f"{API}/applications", params={"risk": "maybe"}, headers=headers)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "queue.risk"


def test_the_case_explains_what_was_found(client, login, world):
    officer, flagged, _ = world
    r = client.get(f"{API}/applications/{flagged[0]}", headers=login("officer", officer))
    assert r.json()["application"]["risk_flags"] == [
        {
            "code": "shared_account",
            "label": "多名缴费人使用同一银行账户",
            "detail": "该银行账户另有1名缴费人使用",
        }
    ]


def test_batch_approval_leaves_flagged_cases_out_with_a_result_each(
    client, login, world, session_factory
):
    officer, flagged, clean = world
    r = client.post(
        f"{API}/reviews",
        headers=login("officer", officer),
        json={"application_ids": [*flagged, clean], "decision": "approve"},
    )
    results = {x["id"]: x for x in r.json()["results"]}
    assert results[clean]["ok"] is True
    for app_id in flagged:
        assert results[app_id]["ok"] is False
        assert results[app_id]["status"] == "pending_review"
        assert results[app_id]["error"]["code"] == "risk.confirm_individually"
    with session_factory() as s:
        assert {s.get(Application, i).status for i in flagged} == {"pending_review"}


def test_batch_rejection_of_flagged_cases_is_allowed(client, login, world):
    officer, flagged, _ = world
    r = client.post(
        f"{API}/reviews",
        headers=login("officer", officer),
        json={"application_ids": flagged, "decision": "reject", "opinion": "账户存疑"},
    )
    assert r.json()["succeeded"] == 2


def test_approving_a_flagged_case_needs_confirm_risk(client, login, world):
    officer, flagged, clean = world
    headers = login("officer", officer)
    for body in (None, {}, {"opinion": "同意", "confirm_risk": False}):
        r = client.post(f"{API}/applications/{flagged[0]}/approve", json=body, headers=headers)
        assert r.status_code == 409
        assert r.json()["error"]["code"] == "risk.unconfirmed"
    r = client.post(
        f"{API}/applications/{flagged[0]}/approve",
        json={"opinion": "已电话核实", "confirm_risk": True},
        headers=headers,
    )
    assert r.status_code == 200 and r.json()["status"] == "approved"
    history = client.get(f"{API}/applications/{flagged[0]}", headers=headers).json()["history"]
    assert "已确认风险提示" in history[-1]["reason"]
    # A case without flags needs no confirmation.
    assert client.post(f"{API}/applications/{clean}/approve", headers=headers).status_code == 200


# --------------------------------------------------------------------------- pages


def _text(page: str) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def test_the_queue_page_marks_flagged_rows_and_filters_them(client, sign_in, world):
    officer, flagged, clean = world
    sign_in(officer)
    page = client.get("/officer/applications").text
    for app_id in flagged:
        row = re.search(rf'id="pick-{app_id}".*?</tr>', page, flags=re.S).group(0)
        assert "data-risk-flags" in row and "风险" in _text(row)
    clean_row = re.search(rf'id="pick-{clean}".*?</tr>', page, flags=re.S).group(0)
    assert "data-risk-flags" not in clean_row
    filtered = client.get("/officer/applications", params={"risk": "true"}).text
    assert f'id="pick-{clean}"' not in filtered and f'id="pick-{flagged[0]}"' in filtered
    assert "风险提示" in _text(filtered)


def test_the_case_page_explains_and_approval_needs_the_confirm_box(
    client, sign_in, world, session_factory
):
    officer, flagged, _ = world
    csrf = sign_in(officer)
    url = f"/officer/applications/{flagged[0]}"
    page = client.get(url).text
    assert "该银行账户另有1名缴费人使用" in _text(page)
    assert 'name="confirm_risk"' in page
    refused = client.post(f"{url}/decision", data={"csrf_token": csrf, "decision": "approve"})
    assert refused.status_code == 409
    assert "确认风险" in _text(refused.text)
    with session_factory() as s:
        assert s.get(Application, flagged[0]).status == "pending_review"
    done = client.post(
        f"{url}/decision",
        data={"csrf_token": csrf, "decision": "approve", "confirm_risk": "true"},
    )
    assert done.status_code in (200, 303)
    with session_factory() as s:
        assert s.get(Application, flagged[0]).status == "approved"


def test_batch_approval_on_the_queue_page_names_the_flagged_cases_left_out(client, sign_in, world):
    officer, flagged, clean = world
    csrf = sign_in(officer)
    r = client.post(
        "/officer/applications/review",
        data={"csrf_token": csrf, "decision": "approve", "application_ids": [*flagged, clean]},
    )
    text = _text(r.text)
    assert "成功 1 条，失败 2 条" in text
    assert "不能批量通过" in text
