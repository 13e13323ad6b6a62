"""税务端 pages (/officer/...): login, queue, batch review, export, detail with the audited reveal,
decisions, 发起退费 with four eyes, dispatch monitor. Server-rendered HTML through TestClient,
on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from sirefund.models import (
    Application,
    AuthSession,
    DispatchAttempt,
    OutboxMessage,
    SecurityEvent,
)
from sirefund.services import review_decisions
from sirefund.services.review_decisions import RejectRequest
from tests import factories as f
from tests.web.officer_helpers import ACCOUNT, medical_app, pension_app, unit_app

# --------------------------------------------------------------------------- helpers


def _text(page: str) -> str:
    """The visible text of a page, tags removed, whitespace squeezed."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def _csrf_of(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def _field_error(page: str, field_id: str) -> str | None:
    m = re.search(rf'<p class="field-error" id="{re.escape(field_id)}-error">([^<]*)</p>', page)
    return html.unescape(m.group(1)) if m else None


def _status(session_factory, app_id: int) -> str:
    with session_factory() as s:
        return s.get(Application, app_id).status


def _count(session_factory, model, *where) -> int:
    with session_factory() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def _forms_without_csrf(page: str) -> list[str]:
    forms = re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", page, flags=re.S)
    return [form[:120] for form in forms if 'name="csrf_token"' not in form]


# --------------------------------------------------------------------------- login, logout


def test_an_officer_logs_in_with_code_password_and_otp_and_gets_an_httponly_lax_session_cookie(
    client, session_factory, clock
):
    with session_factory() as s, s.begin():
        f.make_officer(s, code="OF0101", name="李审核", region="420700")

    first = client.get("/officer/applications", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/officer/login?next=/officer/applications"
    login_page = client.get("/officer/login?next=/officer/applications")
    assert '<label for="f-login">' in login_page.text
    assert '<label for="f-password">' in login_page.text
    assert "动态口令" in _text(login_page.text)
    assert 'autocomplete="one-time-code"' in login_page.text

    r = client.post(
        "/officer/login",
        follow_redirects=False,
        data={
            "csrf_token": _csrf_of(login_page.text),
            "login": "OF0101",
            "password": f.PASSWORD,
            "otp": f.otp(clock.now()),
            "next": "/officer/applications",
        },
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/officer/applications"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("sirefund_session=")
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    queue = client.get("/officer/applications")
    assert queue.status_code == 200
    assert "李审核 （OF0101）" in _text(queue.text)
    assert "鄂州市" in _text(queue.text)


def test_a_wrong_password_is_shown_under_the_password_and_the_code_is_kept(client, session_factory):
    with session_factory() as s, s.begin():
        f.make_officer(s, code="OF0102")
    page = client.get("/officer/login")

    r = client.post(
        "/officer/login",
        data={"csrf_token": _csrf_of(page.text), "login": "OF0102", "password": "wrong-password"},
    )
    assert r.status_code == 401
    assert _field_error(r.text, "f-password")
    assert 'value="OF0102"' in r.text
    assert "sirefund_session" not in r.headers.get("set-cookie", "")


def test_a_wrong_or_used_otp_is_refused_like_a_wrong_password(client, session_factory, clock):
    with session_factory() as s, s.begin():
        f.make_officer(s, code="OF0105")
    page = client.get("/officer/login")
    form = {"csrf_token": _csrf_of(page.text), "login": "OF0105", "password": f.PASSWORD}

    wrong = client.post("/officer/login", data=form | {"otp": "000000"})
    assert wrong.status_code == 401
    assert _field_error(wrong.text, "f-password") == "账号、密码或动态口令错误"
    assert "000000" not in wrong.text  # a code is not shown again
    code = f.otp(clock.now())
    right = client.post("/officer/login", data=form | {"otp": code}, follow_redirects=False)
    assert right.status_code == 303
    client.cookies.clear()
    page = client.get("/officer/login")
    used = client.post(
        "/officer/login", data=form | {"csrf_token": _csrf_of(page.text), "otp": code}
    )
    assert used.status_code == 401
    assert _field_error(used.text, "f-password") == "账号、密码或动态口令错误"


def test_the_login_form_without_its_csrf_token_is_refused(client, session_factory):
    with session_factory() as s, s.begin():
        f.make_officer(s, code="OF0103")
    client.get("/officer/login")
    r = client.post("/officer/login", data={"login": "OF0103", "password": f.PASSWORD})
    assert r.status_code == 403
    assert "页面已过期" in _text(r.text)


def test_logging_out_revokes_the_session(client, session_factory, sign_in):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
    csrf = sign_in(officer.id)

    r = client.post("/officer/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/officer/login")
    with session_factory() as s:
        assert s.execute(select(AuthSession.revoked_at)).scalar_one() is not None
    assert client.get("/officer/applications", follow_redirects=False).status_code == 303


def test_a_citizen_session_cannot_open_the_console_but_can_log_in_as_an_officer(
    client, session_factory, sign_in, clock
):
    with session_factory() as s, s.begin():
        person = f.make_person(s, password=f.PASSWORD)
        f.make_officer(s, code="OF0104")
    sign_in(person.id, kind="person")
    r = client.get("/officer/applications")
    assert r.status_code == 403
    assert "请以税务人员身份登录" in _text(r.text)

    login_page = client.get("/officer/login")
    r = client.post(
        "/officer/login",
        follow_redirects=False,
        data={
            "csrf_token": _csrf_of(login_page.text),
            "login": "OF0104",
            "password": f.PASSWORD,
            "otp": f.otp(clock.now()),
        },
    )
    assert r.status_code == 303
    assert client.get("/officer/applications").status_code == 200


# --------------------------------------------------------------------------- queue


def test_the_queue_masks_ids_counts_working_days_against_30_and_paginates_by_ten(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        person = f.make_person(s, region="420703", name="邱世贵")
        # Submitted 2026-01-09: 42 weekdays before the clock's 2026-03-10, 38 working days
        # (the Spring Festival took six weekdays and gave back two 调休 Saturdays).
        old = pension_app(s, person=person, at=datetime(2026, 1, 9, 2, 0, tzinfo=UTC))
        for _ in range(11):
            pension_app(s)
    sign_in(officer.id)

    r = client.get("/officer/applications")
    text = _text(r.text)
    assert r.status_code == 200
    for column in (
        "选择",
        "申请编号",
        "类型",
        "缴费人",
        "证件号码",
        "金额（元）",
        "渠道",
        "退费状态",
        "审核状态",
        "审核结果",
        "申请日期",
        "已等待工作日",
        "操作",
    ):
        assert column in text
    assert "每页 10 条" in text
    assert "当前显示第 1 到 10 条 共 12 条记录" in text
    assert person.id_number not in r.text and ACCOUNT not in r.text
    assert person.id_number[:6] + "********" + person.id_number[-4:] in text
    row = re.search(r'<tr class="overdue">.*?</tr>', r.text, flags=re.S).group(0)
    # The application number, and its 文书号 under it, both links to the case (which keeps
    # the queue's filters for 上一条 / 下一条).
    case = f"/officer/applications/{old.id}?status=pending_review"
    assert f'<a href="{case}">{old.id}</a>' in row
    assert re.search(rf'<a [^>]*href="{re.escape(case)}"[^>]*>{old.document_no}</a>', row)
    assert "38 / 30" in _text(row) and "已超期" in _text(row)

    second = client.get("/officer/applications?page=2")
    assert "当前显示第 11 到 12 条 共 12 条记录" in _text(second.text)


def test_the_queue_filters_by_status_kind_region_channel_and_date(client, session_factory, sign_in):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420000")
        early = pension_app(s, region="420703", at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
        wuhan = pension_app(s, region="420102", channel="mobile_app")
        medical = medical_app(s, region="420703")
        decided = pension_app(s, region="420703")
        review_decisions.reject(
            s,
            officer=officer,
            application_id=decided.id,
            request=RejectRequest(opinion="不符合条件"),
            at=f.AT,
        )
    sign_in(officer.id)

    def ids(query: str) -> set[int]:
        page = client.get(f"/officer/applications?{query}").text
        return {int(n) for n in re.findall(r'name="application_ids" value="(\d+)"', page)}

    # The queue opens on 待审核; 全部 (a blank status) lists every state.
    assert ids("") == {early.id, wuhan.id, medical.id}
    assert ids("status=") == {early.id, wuhan.id, medical.id, decided.id}
    assert ids("status=pending_review") == {early.id, wuhan.id, medical.id}
    assert ids("kind=medical") == {medical.id}
    assert ids("region=420100") == {wuhan.id}
    assert ids("channel=mobile_app") == {wuhan.id, medical.id}
    assert ids("date_from=2026-03-01&date_to=2026-03-02") == {early.id}
    page = client.get("/officer/applications?status=pending_review&kind=medical").text
    assert re.search(r'<option value="pending_review" selected>', page)


def test_a_bad_filter_is_explained_next_to_its_field(client, session_factory, sign_in):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
    sign_in(officer.id)
    r = client.get("/officer/applications?date_from=2026-13-01")
    assert r.status_code == 422
    assert _field_error(r.text, "q-date_from") == "日期格式应为YYYY-MM-DD"
    r = client.get("/officer/applications?date_from=2026-03-05&date_to=2026-03-01")
    assert r.status_code == 422
    assert _field_error(r.text, "q-date_from") == "申请日期起不能晚于申请日期止"


def test_the_queue_shows_nothing_outside_the_officers_region(client, session_factory, sign_in):
    with session_factory() as s, s.begin():
        ezhou = f.make_officer(s, region="420700")
        wuhan_app = pension_app(s, region="420102")
        ezhou_app = pension_app(s, region="420703")
    sign_in(ezhou.id)

    page = client.get("/officer/applications").text
    shown = {int(n) for n in re.findall(r'name="application_ids" value="(\d+)"', page)}
    assert shown == {ezhou_app.id}
    assert client.get(f"/officer/applications/{wuhan_app.id}").status_code == 404


def test_batch_approval_decides_each_selected_application_and_shows_a_result_per_id(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        a, b = pension_app(s), medical_app(s)
        done = pension_app(s)
        review_decisions.reject(
            s,
            officer=officer,
            application_id=done.id,
            request=RejectRequest(opinion="不符合条件"),
            at=f.AT,
        )
    csrf = sign_in(officer.id)

    r = client.post(
        "/officer/applications/review?status=pending_review",
        data={
            "csrf_token": csrf,
            "application_ids": [str(a.id), str(b.id), str(done.id)],
            "opinion": "同意退费",
            "decision": "approve",
        },
    )
    assert r.status_code == 200
    text = _text(r.text)
    assert "批量审核结果：成功 2 条，失败 1 条" in text
    assert "不是待审核状态，不能审核" in text
    assert _status(session_factory, a.id) == _status(session_factory, b.id) == "approved"
    assert _count(session_factory, OutboxMessage) == 2
    with session_factory() as s:
        assert s.get(Application, a.id).review_opinion == "同意退费"


def test_batch_rejection_needs_the_shared_opinion_and_keeps_the_selection(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        a = pension_app(s)
    csrf = sign_in(officer.id)

    r = client.post(
        "/officer/applications/review",
        data={
            "csrf_token": csrf,
            "application_ids": [str(a.id)],
            "opinion": "  ",
            "decision": "reject",
        },
    )
    assert r.status_code == 422
    assert _field_error(r.text, "batch-opinion") == "批量不通过时必须填写税务机关意见"
    assert re.search(rf'value="{a.id}" id="pick-{a.id}"\s+checked', r.text)
    assert _status(session_factory, a.id) == "pending_review"

    nothing = client.post(
        "/officer/applications/review",
        data={"csrf_token": csrf, "opinion": "同意", "decision": "approve"},
    )
    assert nothing.status_code == 422
    assert "请勾选需要审核的退费申请" in _text(nothing.text)


def test_the_export_link_downloads_the_filtered_queue_as_xlsx(client, session_factory, sign_in):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        pension_app(s)
        medical = medical_app(s)
    sign_in(officer.id)

    page = client.get("/officer/applications?kind=medical").text
    assert 'href="/officer/applications.xlsx?status=pending_review&amp;kind=medical"' in page
    r = client.get("/officer/applications.xlsx?kind=medical")
    assert r.status_code == 200
    assert "attachment" in r.headers["content-disposition"]
    rows = list(load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "申请编号"
    assert [row[0] for row in rows[1:]] == [medical.id]


# --------------------------------------------------------------------------- detail


def test_the_detail_shows_payer_payment_bank_account_other_applications_and_history_masked(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        person = f.make_person(s, name="邱世贵", phone="13912345678")
        app = pension_app(s, person=person)
        other = pension_app(s, person=person)
    sign_in(officer.id)

    r = client.get(f"/officer/applications/{app.id}")
    text = _text(r.text)
    assert r.status_code == 200
    assert person.id_number not in r.text and ACCOUNT not in r.text and "13912345678" not in r.text
    assert "420703********" + person.id_number[-4:] in text
    assert "622848*********0018" in text and "139****5678" in text
    for heading in (
        "申请信息",
        "缴费人信息",
        "缴费信息",
        "银行账户信息",
        "该缴费人的其他申请",
        "处理记录",
    ):
        assert heading in text
    assert f'href="/officer/applications/{other.id}"' in r.text
    history = re.search(r'<table class="grid oc-history">.*?</table>', r.text, flags=re.S).group(0)
    for column in ("时间", "操作人", "原状态", "新状态", "说明"):
        assert column in history
    assert "提交退费申请" in _text(history) or "已申请" in _text(history)
    assert not _forms_without_csrf(r.text)
    assert client.get("/officer/applications/99999").status_code == 404
    assert client.get("/officer/applications/abc").status_code == 404


@pytest.mark.parametrize("make", [unit_app, medical_app], ids=["unit", "medical"])
def test_the_detail_of_unit_and_medical_applications_shows_their_payment(
    make, client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        app = make(s)
    sign_in(officer.id)
    text = _text(client.get(f"/officer/applications/{app.id}").text)
    if app.kind == "medical":
        assert (
            "票证号码" in text and "武汉市医疗保障局(医疗)" in text and "社保部门核验结果" in text
        )
        assert "621700*********4567" in text
    else:
        assert "纳税人识别号" in text and "村集体补助" in text and "个人编号" in text


def test_revealing_the_full_id_needs_a_reason_is_audited_and_shows_the_value_once(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, code="OF0201")
        person = f.make_person(s)
        app = pension_app(s, person=person)
    csrf = sign_in(officer.id)
    url = f"/officer/applications/{app.id}"

    refused = client.post(
        f"{url}/reveal", data={"csrf_token": csrf, "field": "id_number", "reason": " "}
    )
    assert refused.status_code == 422
    assert _field_error(refused.text, "reveal-id_number-reason") == "请填写查看理由"
    assert person.id_number not in refused.text
    assert _count(session_factory, SecurityEvent, SecurityEvent.kind == "reveal") == 0

    shown = client.post(
        f"{url}/reveal",
        data={"csrf_token": csrf, "field": "id_number", "reason": "缴费人来电核对身份"},
    )
    assert shown.status_code == 200
    assert f'data-revealed="id_number">{person.id_number}<' in shown.text
    assert shown.headers["cache-control"] == "no-store"
    with session_factory() as s:
        event = s.execute(select(SecurityEvent).where(SecurityEvent.kind == "reveal")).scalar_one()
    assert event.actor == "officer:OF0201"
    assert "缴费人来电核对身份" in event.detail and person.id_number not in event.detail

    again = client.get(url)
    assert person.id_number not in again.text

    account = client.post(
        f"{url}/reveal",
        data={"csrf_token": csrf, "field": "bank_account_no", "reason": "核对退费账户"},
    )
    assert f'data-revealed="bank_account_no">{ACCOUNT}<' in account.text
    assert person.id_number not in account.text


def test_approving_with_an_optional_opinion_queues_the_request_and_says_so(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, code="OF0301", name="李审核")
        app = pension_app(s)
    csrf = sign_in(officer.id)

    r = client.post(
        f"/officer/applications/{app.id}/decision",
        data={"csrf_token": csrf, "decision": "approve", "opinion": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == f"/officer/applications/{app.id}?done=approved"
    page = _text(client.get(r.headers["location"]).text)
    assert "审核通过，系统已自动向人社（医保）部门发起退费申请。" in page
    assert "审核人 李审核（OF0301）" in page
    assert _status(session_factory, app.id) == "approved"
    assert _count(session_factory, OutboxMessage, OutboxMessage.application_id == app.id) == 1


def test_rejecting_needs_an_opinion_shown_next_to_the_field_with_the_typed_text_kept(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        app = pension_app(s)
    csrf = sign_in(officer.id)
    url = f"/officer/applications/{app.id}/decision"

    empty = client.post(url, data={"csrf_token": csrf, "decision": "reject", "opinion": "   "})
    assert empty.status_code == 422
    assert _field_error(empty.text, "review-opinion") == "审核不通过时必须填写税务机关意见"

    long_text = "缴费记录核实有误" * 70  # 560 characters, more than the 500 allowed
    too_long = client.post(
        url, data={"csrf_token": csrf, "decision": "reject", "opinion": long_text}
    )
    assert too_long.status_code == 422
    assert _field_error(too_long.text, "review-opinion") == "税务机关意见不能超过500个字符"
    assert f">{long_text}</textarea>" in too_long.text
    assert _status(session_factory, app.id) == "pending_review"

    ok = client.post(
        url,
        data={"csrf_token": csrf, "decision": "reject", "opinion": "缴费记录已到账"},
        follow_redirects=False,
    )
    assert ok.headers["location"].endswith("done=rejected")
    assert _status(session_factory, app.id) == "rejected"
    assert _count(session_factory, OutboxMessage) == 0


def test_a_decision_without_the_csrf_token_is_refused(client, session_factory, sign_in):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        app = pension_app(s)
    sign_in(officer.id)
    r = client.post(f"/officer/applications/{app.id}/decision", data={"decision": "approve"})
    assert r.status_code == 403
    assert _status(session_factory, app.id) == "pending_review"


# --------------------------------------------------------------------------- 发起退费


def test_an_initiator_finds_arrived_payments_by_id_number_and_year(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, initiator=True)
        person = f.make_person(s, name="王大妈")
        arrived_2025 = f.make_pension_payment(s, person, arrival_status="arrived", year=2025)
        arrived_2024 = f.make_pension_payment(s, person, arrival_status="arrived", year=2024)
        not_arrived = f.make_pension_payment(s, person, arrival_status="not_arrived", year=2025)
    sign_in(officer.id)

    page = client.get(f"/officer/initiate?id_number={person.id_number}&year=2025")
    text = _text(page.text)
    assert "王大妈" in text
    assert arrived_2025.payment_id in text
    assert arrived_2024.payment_id not in text and not_arrived.payment_id not in text
    # The only choice is chosen already; the bank details are asked next to their labels.
    assert re.search(rf'value="{arrived_2025.payment_id}" id="pay-1" checked', page.text)
    for name in (
        "reason",
        "bank_account_type",
        "bank_account_no",
        "bank_category",
        "contact_name",
        "contact_phone",
    ):
        assert f'<label for="f-{name}">' in page.text

    by_id = _text(client.get(f"/officer/initiate?payment_id={not_arrived.payment_id}").text)
    assert "该缴费未到账或异常，请由缴费人自行申请退费" in by_id
    bad = client.get("/officer/initiate?id_number=420703195803121234")
    assert _field_error(bad.text, "q-id_number")


def test_initiating_shows_missing_fields_next_to_them_and_keeps_what_was_typed(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, initiator=True)
        pay = f.make_pension_payment(s, f.make_person(s), arrival_status="arrived")
    csrf = sign_in(officer.id)

    r = client.post(
        "/officer/initiate",
        data={
            "csrf_token": csrf,
            "lookup_payment_id": pay.payment_id,
            "payment_id": pay.payment_id,
            "reason": "重复缴费",
            "bank_account_type": "bank_card",
            "bank_account_no": "12",
            "bank_category": "",
            "contact_name": "王大妈",
            "contact_phone": "",
        },
    )
    assert r.status_code == 422
    assert _field_error(r.text, "f-bank_category") == "请选择银行类别"
    assert _field_error(r.text, "f-contact_phone") == "请填写联系人电话"
    assert _field_error(r.text, "f-bank_account_no")
    assert 'value="王大妈"' in r.text and ">重复缴费</textarea>" in r.text
    assert _count(session_factory, Application) == 0


def test_the_initiator_cannot_approve_their_own_refund_and_a_second_officer_can(
    client, session_factory, sign_in
):
    with session_factory() as s, s.begin():
        initiator = f.make_officer(s, code="OF0401", initiator=True)
        second = f.make_officer(s, code="OF0402")
        pay = f.make_pension_payment(s, f.make_person(s), arrival_status="arrived")
    csrf = sign_in(initiator.id)

    r = client.post(
        "/officer/initiate",
        follow_redirects=False,
        data={
            "csrf_token": csrf,
            "lookup_payment_id": pay.payment_id,
            "payment_id": pay.payment_id,
            "reason": "缴费人重复缴费，到办税服务厅申请退费",
            "bank_account_type": "bank_card",
            "bank_account_no": ACCOUNT,
            "bank_category": "103",
            "contact_name": "王大妈",
            "contact_phone": "13812341234",
        },
    )
    assert r.status_code == 303
    location = r.headers["location"]
    app_id = int(re.search(r"/officer/applications/(\d+)\?done=initiated", location).group(1))
    with session_factory() as s:
        app = s.get(Application, app_id)
        assert (app.channel, app.status) == ("officer", "pending_review")

    own = client.get(r.headers["location"])
    assert "退费申请已发起，需由其他税务人员审核。" in _text(own.text)
    assert re.search(
        r'value="approve" class="btn btn-primary" disabled '
        r'aria-describedby="blocked-reason"',
        own.text,
    )
    assert (
        '<p class="oc-blocked" id="blocked-reason">发起人不能审核本人发起的退费申请</p>' in own.text
    )
    forced = client.post(
        f"/officer/applications/{app_id}/decision", data={"csrf_token": csrf, "decision": "approve"}
    )
    assert forced.status_code == 403
    assert "发起人不能审核本人发起的退费申请" in _text(forced.text)
    assert _status(session_factory, app_id) == "pending_review"

    csrf2 = sign_in(second.id)
    assert "disabled" not in re.search(
        r'<button[^>]*value="approve"[^>]*>', client.get(f"/officer/applications/{app_id}").text
    ).group(0)
    ok = client.post(
        f"/officer/applications/{app_id}/decision",
        follow_redirects=False,
        data={"csrf_token": csrf2, "decision": "approve", "opinion": "核实无误"},
    )
    assert ok.status_code == 303
    assert _status(session_factory, app_id) == "approved"


def test_an_officer_without_the_initiator_role_is_told_so(client, session_factory, sign_in):
    with session_factory() as s, s.begin():
        reviewer = f.make_officer(s, initiator=False)
    sign_in(reviewer.id)
    r = client.get("/officer/initiate")
    assert r.status_code == 403
    assert "您没有发起退费的权限" in _text(r.text)


# --------------------------------------------------------------------------- dispatch monitor


def test_the_dispatch_monitor_lists_failed_requests_with_attempts_and_retries_them(
    client, session_factory, sign_in, clock
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, code="OF0501")
        app = pension_app(s)
        review_decisions.approve(s, officer=officer, application_id=app.id, at=f.AT)
        msg = s.execute(select(OutboxMessage)).scalar_one()
        msg.state, msg.attempts, msg.last_error = "failed", 8, "HTTP 503 人社系统暂不可用"
        s.add(
            DispatchAttempt(
                message_id=msg.id,
                at=f.AT + timedelta(minutes=1),
                worker="worker-1",
                outcome="retry",
                detail="HTTP 503",
            )
        )
        delivered = pension_app(s)
        review_decisions.approve(s, officer=officer, application_id=delivered.id, at=f.AT)
        s.execute(
            select(OutboxMessage).where(OutboxMessage.application_id == delivered.id)
        ).scalar_one().state = "done"
        msg_id, request_id = msg.id, msg.request_id
    csrf = sign_in(officer.id)

    page = client.get("/officer/dispatches?state=failed")
    text = _text(page.text)
    assert page.status_code == 200
    for column in ("机构", "操作", "请求编号", "状态", "尝试次数", "下次尝试时间", "最后错误"):
        assert column in text
    assert request_id in text and "发送失败" in text and "HTTP 503 人社系统暂不可用" in text
    assert "查看（1 次）" in text and "暂时失败" in text
    assert f'/officer/applications/{delivered.id}"' not in page.text  # done ones filtered out
    assert not _forms_without_csrf(page.text)

    r = client.post(
        f"/officer/dispatches/{msg_id}/retry?state=failed",
        data={"csrf_token": csrf},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert r.headers["location"] == "/officer/dispatches?state=failed&done=retried"
    with session_factory() as s:
        again = s.get(OutboxMessage, msg_id)
        assert (again.state, again.attempts, again.request_id) == ("pending", 0, request_id)
    assert "已重新派发" in _text(client.get(r.headers["location"]).text)

    twice = client.post(f"/officer/dispatches/{msg_id}/retry", data={"csrf_token": csrf})
    assert twice.status_code == 409
    assert "只有发送失败的派发可以重试" in _text(twice.text)
