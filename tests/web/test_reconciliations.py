"""GET /api/v1/officer/reconciliations and the officer page 三方对账: the newest stored run of
a day, amounts in yuan, accounts masked, only for officers."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime

from sirefund.domain.agencies import Agency
from sirefund.domain.reconciliation import StatementRow
from sirefund.services import accounts, reconciliation
from tests import factories as f
from tests.web.officer_helpers import pension_app

API = "/api/v1/officer/reconciliations"
DAY = date(2026, 11, 28)
AT = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def _stranger(amount_fen: int, app_id: int | None = 424242) -> StatementRow:
    return StatementRow(
        request_id="r-1",
        application_id=app_id,
        payee="某人",
        account_no="6228480402564891111",
        amount_fen=amount_fen,
        status="paid",
        booked_at=AT,
    )


def _run(session_factory, bank_rows):  # type: ignore[no-untyped-def]
    with session_factory() as s, s.begin():
        reconciliation.reconcile(
            s,
            day=DAY,
            statements={Agency.HRSS: [], Agency.MEDICAL_SECURITY: [], Agency.BANK: bank_rows},
            at=AT,
            ran_by="test",
        )


def _officer(session_factory):  # type: ignore[no-untyped-def]
    with session_factory() as s, s.begin():
        return f.make_officer(s, region="420700").id


def test_an_officer_gets_the_newest_run_of_a_day_with_totals_and_discrepancies(
    client, login, session_factory
):
    _run(session_factory, [])
    _run(session_factory, [_stranger(70050)])
    headers = login("officer", _officer(session_factory))

    body = client.get(API, params={"date": "2026-11-28"}, headers=headers).json()

    assert body["date"] == "2026-11-28" and body["clean"] is False
    bank = body["agencies"][2]
    assert (bank["agency"], bank["ours_count"], bank["theirs_count"]) == ("bank", 0, 1)
    assert (bank["ours_amount"], bank["theirs_amount"], bank["agrees"]) == ("0.00", "700.50", False)
    assert body["discrepancies"] == [
        {
            "kind": "unknown_to_us",
            "kind_label": "我方无记录",
            "application_id": 424242,
            "agency": "bank",
            "agency_label": "银行",
            "ours": None,
            "theirs": {"amount": "700.50", "account_masked": "622848*********1111"},
        }
    ]
    assert (
        "6228480402564891111"
        not in client.get(API, params={"date": "2026-11-28"}, headers=headers).text
    )


def test_a_day_never_reconciled_is_404_and_a_bad_date_is_422(client, login, session_factory):
    headers = login("officer", _officer(session_factory))
    r = client.get(API, params={"date": "2026-11-27"}, headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "reconciliation.not_found"
    assert client.get(API, params={"date": "2026-13-01"}, headers=headers).status_code == 422
    assert client.get(API, headers=headers).status_code == 422


def test_reconciliations_are_for_officers_only(client, login, session_factory):
    _run(session_factory, [])
    assert client.get(API, params={"date": "2026-11-28"}).status_code == 401
    with session_factory() as s, s.begin():
        person = f.make_person(s)
    r = client.get(API, params={"date": "2026-11-28"}, headers=login("person", person.id))
    assert r.status_code in (403, 404)


def _text(page: str) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def _sign_in(client, session_factory, clock, settings, officer_id):  # type: ignore[no-untyped-def]
    with session_factory() as s, s.begin():
        token, _ = accounts.create_session(
            s, kind="officer", account_id=officer_id, at=clock.now(), settings=settings
        )
    client.cookies.set("sirefund_session", token)


def test_the_officer_page_shows_totals_and_each_discrepancy_in_chinese(
    client, session_factory, clock, settings
):
    _run(session_factory, [_stranger(70050)])
    _sign_in(client, session_factory, clock, settings, _officer(session_factory))

    r = client.get("/officer/reconciliations", params={"date": "2026-11-28"})

    assert r.status_code == 200
    text = _text(r.text)
    assert "三方对账" in text and "对账不一致：发现差异 1 笔" in text
    assert "银行 0 0.00 1 700.50 不一致" in text
    assert "我方无记录 银行 424242 — — 700.50 622848*********1111" in text
    assert "6228480402564891111" not in r.text


def test_the_officer_page_says_when_a_day_agrees_and_when_it_was_never_reconciled(
    client, session_factory, clock, settings
):
    _run(session_factory, [])
    _sign_in(client, session_factory, clock, settings, _officer(session_factory))
    assert "对账一致" in _text(client.get("/officer/reconciliations?date=2026-11-28").text)
    assert "该日期尚未对账" in _text(client.get("/officer/reconciliations?date=2026-11-20").text)
    bad = client.get("/officer/reconciliations?date=2026-02-30")
    assert bad.status_code == 422 and "日期格式应为 YYYY-MM-DD" in _text(bad.text)


def test_an_officer_sees_the_discrepancies_of_his_region_and_those_naming_no_application(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        ezhou = pension_app(s, region="420703").id
        wuhan = pension_app(s, region="420102").id
    _run(session_factory, [_stranger(100, ezhou), _stranger(200, wuhan), _stranger(300, None)])
    headers = login("officer", _officer(session_factory))  # 420700 鄂州市

    body = client.get(API, params={"date": "2026-11-28"}, headers=headers).json()

    assert sorted((d["application_id"] or 0) for d in body["discrepancies"]) == [0, ezhou]
    assert body["agencies"][2]["theirs_count"] == 3  # the totals are the whole day's
