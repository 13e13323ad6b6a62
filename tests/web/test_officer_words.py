"""Words for people on the 税务端 (issue 11, part 5): every officer page, rendered with data in
every state, shows Chinese words only: no HTTP status, no snake_case code, no raw enum value
(an agency's error reads 人社拒绝受理该请求, not ``hrss HTTP 422 agency.request_refused``; a
history line reads 缴费人, not 缴费人 200). An officer's region is explicit: 420000 is 湖北省全省,
and there is no nationwide scope. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import String, literal, select, union_all

from sirefund.domain import regions
from sirefund.domain.agencies import Agency
from sirefund.domain.dispatch import DispatchState
from sirefund.domain.errors import Invalid
from sirefund.domain.workflow import ApplicationKind, ApplicationStatus, Channel
from sirefund.models import Application, ApplicationEvent, DispatchAttempt, OutboxMessage
from sirefund.services import officers
from sirefund.services.officers import region_clause
from sirefund.web.officer_presenters import agency_error_words
from tests import factories as f
from tests.web.officer_helpers import medical_app, pension_app, unit_app

RAW_ERROR = "hrss HTTP 422 agency.request_refused"
HTTP_STATUS = re.compile(r"HTTP\s*\d{3}")
SNAKE = re.compile(r"\b[a-z]+(?:[_.][a-z]+)+\b")
ENUM_VALUES = {
    *(s.value for s in ApplicationStatus),
    *(s.value for s in DispatchState),
    *(a.value for a in Agency),
    *(k.value for k in ApplicationKind),
    *(c.value for c in Channel),
}
WORD = re.compile(r"[A-Za-z_]+")


def _visible(page: str) -> str:
    body = re.sub(r"<(script|style|title)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def _assert_words_for_people(url: str, page: str) -> None:
    if url.startswith("/officer/audit"):
        # The auditors' log shows each row's recorded details as stored (what the hash chain
        # covers) and names the command that verifies it; its labels are still checked.
        page = re.sub(r'<td class="left mono small">.*?</td>', " ", page, flags=re.S)
        page = page.replace("sirefund audit verify", "")
    text = _visible(page)
    assert not HTTP_STATUS.search(text), (url, HTTP_STATUS.search(text))
    assert not SNAKE.search(text), (url, SNAKE.search(text))
    raw = {w for w in WORD.findall(text) if w in ENUM_VALUES}
    assert not raw, (url, raw)
    assert not re.search(r"(缴费人|村组（单位）|外部机构) \d+", text), url


def _every_state(s, officer) -> list[int]:
    """One application in each status (pension, unit and medical), with agency history lines,
    and an outbox message in each dispatch state whose errors are the adapters' raw text."""
    ids = []
    for n, status in enumerate(ApplicationStatus):
        maker = (pension_app, unit_app, medical_app)[n % 3]
        app: Application = maker(s)
        app.status = status.value
        if status not in (ApplicationStatus.PENDING_REVIEW, ApplicationStatus.CANCELLED):
            app.reviewed_at = f.AT + timedelta(days=1)
            app.reviewed_by_officer_id = officer.id
            app.tax_opinion = "同意退费"
        s.add(
            ApplicationEvent(
                application_id=app.id,
                at=f.AT + timedelta(days=2),
                actor_kind="agency",
                actor_id="hrss",
                from_status="approved",
                to_status=status.value,
                reason="人社退回：参保状态异常",
            )
        )
        ids.append(app.id)
    for n, state in enumerate(DispatchState):
        msg = OutboxMessage(
            application_id=ids[n],
            agency=list(Agency)[n % 3].value,
            operation="refund_request",
            request_id=f"REQ-WORDS-{n}",
            payload={},
            state=state.value,
            attempts=2,
            next_attempt_at=f.AT,
            created_at=f.AT,
            updated_at=f.AT,
            last_error=RAW_ERROR if state != DispatchState.DONE else None,
        )
        s.add(msg)
        s.flush()
        for outcome, detail in (
            ("retry", "bank 无法连接（ConnectError）"),
            ("permanent", RAW_ERROR),
            ("unknown", "medical_security HTTP 503"),
        ):
            s.add(DispatchAttempt(message_id=msg.id, at=f.AT, outcome=outcome, detail=detail))
    s.flush()
    return ids


def test_every_officer_page_in_every_state_shows_words_not_codes(client, session_factory, sign_in):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420000", initiator=True, auditor=True)
        ids = _every_state(s, officer)
    sign_in(officer.id)

    urls = [
        "/officer/applications",
        "/officer/applications?status=",
        *(f"/officer/applications?status={st.value}" for st in ApplicationStatus),
        *(f"/officer/applications/{i}" for i in ids),
        "/officer/dispatches",
        *(f"/officer/dispatches?state={st.value}" for st in DispatchState),
        "/officer/initiate",
        "/officer/reconciliations",
        "/officer/calendar",
        "/officer/audit",
    ]
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, (url, r.status_code)
        _assert_words_for_people(url, r.text)
    dispatches = _visible(client.get("/officer/dispatches?state=failed").text)
    assert "人社拒绝受理该请求" in dispatches
    assert "银行无法连接" in dispatches and "医保系统故障" in dispatches
    detail = _visible(client.get(f"/officer/applications/{ids[0]}").text)
    assert "人社" in detail and "缴费人" in detail


def test_the_province_officers_area_reads_hubei_whole_province(client, session_factory, sign_in):
    with session_factory() as s, s.begin():
        province = f.make_officer(s, region="420000")
        city = f.make_officer(s, region="420700")
    sign_in(province.id)
    assert "湖北省全省" in _visible(client.get("/officer/applications").text)
    sign_in(city.id)
    assert "鄂州市全市" in _visible(client.get("/officer/applications").text)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (RAW_ERROR, "人社拒绝受理该请求"),
        ("medical_security HTTP 503", "医保系统故障，稍后重试"),
        ("查询失败：bank HTTP 404", "查询失败：银行查无此请求"),
        ("hrss 无应答（ReadTimeout）（已达最大尝试次数）", "人社无应答（已达最大尝试次数）"),
        ("bank HTTP 418 strange.code_here", "银行未受理该请求（请求格式有误）"),
        ("租约到期，未收到发送结果", "租约到期，未收到发送结果"),
    ],
)
def test_an_agency_error_is_shown_in_words(raw, words):
    assert agency_error_words(raw) == words


# --------------------------------------------------------------------------- region


@pytest.mark.parametrize("region", ["", "000000", "110000", "430102", "429999", "42070x"])
def test_an_officer_outside_hubei_or_without_a_region_is_refused(session, region):
    with pytest.raises(Invalid) as caught:
        officers.add_officer(
            session,
            code="OFWORDS1",
            name="李审核",
            region_code=region,
            roles={"reviewer"},
            password=f.PASSWORD,
            at=f.AT,
        )
    assert caught.value.code == "officer.region"


def test_the_whole_province_is_said_with_420000(session):
    officer = officers.add_officer(
        session,
        code="OFWORDS2",
        name="李审核",
        region_code="420000",
        roles={"reviewer"},
        password=f.PASSWORD,
        at=f.AT,
    )
    assert officer.region_code == "420000"
    assert regions.scope_name("420000") == "湖北省全省"


@pytest.mark.parametrize("scope", ["", "000000", "42", "abcdef"])
def test_no_scope_silently_covers_the_country(session, scope):
    codes = ["420703", "420102", "110101", "000000"]
    table = union_all(*(select(literal(c, String).label("code")) for c in codes)).subquery()
    got = session.execute(select(table.c.code).where(region_clause(table.c.code, scope))).all()
    assert got == []
    assert not any(regions.is_within(c, scope) for c in codes)
