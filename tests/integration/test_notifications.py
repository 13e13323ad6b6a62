"""Notices (消息中心) and their SMS, on SQLite and PostgreSQL: every transition an applicant
must know about writes exactly one notice for them, in the transaction of the change; the
worker sends its SMS to the phone on record through the SMS gateway (real HTTP to the
simulator), and a failing gateway never blocks or undoes the change."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from sirefund import worker
from sirefund.agencies.realname import HttpSmsGateway
from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.domain.workflow import InvalidTransition
from sirefund.models import Application, Notification, Unit
from sirefund.services import applications, notifications
from sirefund.services.applications import Actor
from tests import factories as f
from tests.integration import approvals
from tests.integration.conftest import make_settings
from tests.realname import fresh_phone


def notices_of(session_factory, app_id: int) -> list[Notification]:
    with session_factory() as s:
        rows = list(
            s.execute(
                select(Notification)
                .where(Notification.application_id == app_id)
                .order_by(Notification.id)
            ).scalars()
        )
        for r in rows:
            s.expunge(r)
        return rows


def pending(session_factory, *, kind: str = "pension", phone: str | None = None) -> int:
    with session_factory() as s, s.begin():
        app = approvals.pending_application(s, kind=kind, at=f.AT)
        if phone is not None:
            if kind == "unit_pension":
                assert app.unit_id is not None
                unit = s.get(Unit, app.unit_id)
                unit.handler_phone = phone
            else:
                app.person.phone = phone
        return app.id


def move(session_factory, app_id: int, *targets: S, reason: str | None = None) -> None:
    for target in targets:
        with session_factory() as s, s.begin():
            app = applications.get(s, app_id)
            applications.transition(
                s, application=app, target=target, actor=Actor.system(), at=f.AT, reason=reason
            )


def test_submitting_tells_the_payer_it_was_received_and_by_when_it_will_be_reviewed(
    session_factory,
):
    app_id = pending(session_factory)
    (notice,) = notices_of(session_factory, app_id)
    with session_factory() as s:
        app = s.get(Application, app_id)
        assert app is not None
        assert (notice.recipient_kind, notice.recipient_id) == ("person", app.person_id)
        assert app.document_no in notice.body
    assert notice.title == "退费申请已受理"
    # 2026-03-10 + 30 working days, 清明 (Monday 6 April) not counted.
    assert "2026年4月22日前（30个工作日内）完成审核" in notice.body
    assert notice.read_at is None


def test_each_step_to_the_refund_writes_exactly_one_notice(session_factory):
    app_id = pending(session_factory)
    move(session_factory, app_id, S.APPROVED, S.AT_AGENCY, S.REFUNDED)
    titles = [n.title for n in notices_of(session_factory, app_id)]
    assert titles == ["退费申请已受理", "退费申请审核通过", "已提交人社部门", "退费成功"]


@pytest.mark.parametrize(
    ("kind", "path", "reason", "title", "says"),
    [
        ("pension", [S.REJECTED], "审核不通过：缴费已到账", "退费申请未通过审核", "缴费已到账"),
        (
            "pension",
            [S.APPROVED, S.AT_AGENCY, S.AGENCY_REJECTED],
            "人社退回：参保状态异常",
            "退费申请人社退回",
            "参保状态异常",
        ),
        (
            "medical",
            [S.APPROVED, S.AT_AGENCY, S.AGENCY_REJECTED],
            "核验不通过：已享受待遇",
            "退费申请核验不通过",
            "已享受待遇",
        ),
        (
            "pension",
            [S.APPROVED, S.AT_AGENCY, S.REFUND_FAILED],
            "退付失败：户名与账号不符",
            "退付失败",
            "户名与账号不符",
        ),
    ],
)
def test_a_refusal_or_failure_notice_gives_the_reason(
    session_factory, kind, path, reason, title, says
):
    app_id = pending(session_factory, kind=kind)
    move(session_factory, app_id, *path[:-1])
    move(session_factory, app_id, path[-1], reason=reason)
    last = notices_of(session_factory, app_id)[-1]
    assert last.title == title
    assert says in last.body
    assert len(notices_of(session_factory, app_id)) == 1 + len(path)


def test_the_payers_own_cancellation_writes_no_notice(session_factory):
    app_id = pending(session_factory)
    move(session_factory, app_id, S.CANCELLED)
    assert [n.title for n in notices_of(session_factory, app_id)] == ["退费申请已受理"]


def test_a_units_refund_is_told_to_the_unit_and_never_to_the_villager(session_factory):
    app_id = pending(session_factory, kind="unit_pension")
    (notice,) = notices_of(session_factory, app_id)
    with session_factory() as s:
        app = s.get(Application, app_id)
        assert app is not None
        assert (notice.recipient_kind, notice.recipient_id) == ("unit", app.unit_id)
        theirs = notifications.list_for(s, ("person", app.person_id))
    assert theirs.items == [] and theirs.unread_count == 0


def test_a_failed_transition_leaves_no_notice(session_factory):
    app_id = pending(session_factory)
    with pytest.raises(InvalidTransition), session_factory() as s, s.begin():
        app = applications.get(s, app_id)
        applications.transition(
            s, application=app, target=S.REFUNDED, actor=Actor.system(), at=f.AT
        )
    assert len(notices_of(session_factory, app_id)) == 1


def test_marking_read_counts_down_and_another_persons_notice_is_not_found(session_factory):
    a, b = pending(session_factory), pending(session_factory)
    with session_factory() as s, s.begin():
        owner_a = ("person", s.get(Application, a).person_id)
        owner_b = ("person", s.get(Application, b).person_id)
        mine = notifications.list_for(s, owner_a)
        assert mine.unread_count == 1
        theirs = notifications.list_for(s, owner_b).items[0].id
        with pytest.raises(notifications.NotFound):
            notifications.mark_read(s, owner_a, theirs, at=f.AT)
        notifications.mark_read(s, owner_a, mine.items[0].id, at=f.AT)
    with session_factory() as s:
        assert notifications.list_for(s, owner_a).unread_count == 0
        assert notifications.list_for(s, owner_a, unread=True).items == []
        assert notifications.list_for(s, owner_b).unread_count == 1


# --------------------------------------------------------------------------- SMS


def sms_worker(session_factory, db_url, tmp_path, clock, sms) -> worker.Dispatcher:
    return worker.Dispatcher(
        session_factory,
        adapters={},
        settings=make_settings(db_url, tmp_path),
        clock=clock,
        worker_id="w-sms",
        rng=random.Random(1),
        sms=sms,
    )


def test_the_worker_sends_the_notice_by_sms_to_the_phone_on_record(
    session_factory, db_url, tmp_path, shift_clock, realname_sim
):
    phone = fresh_phone()
    app_id = pending(session_factory, phone=phone)
    assert realname_sim.messages(phone) == []  # nothing is sent inside the request
    sms_worker(session_factory, db_url, tmp_path, shift_clock, realname_sim.sms()).run_once()
    (message,) = realname_sim.messages(phone)
    assert "退费申请已受理" in message["text"] and "30个工作日" in message["text"]
    (notice,) = notices_of(session_factory, app_id)
    assert notice.sms_state == "sent"
    sms_worker(session_factory, db_url, tmp_path, shift_clock, realname_sim.sms()).run_once()
    assert len(realname_sim.messages(phone)) == 1  # sent once


def test_a_units_notice_goes_to_its_handlers_phone(
    session_factory, db_url, tmp_path, shift_clock, realname_sim
):
    phone = fresh_phone()
    pending(session_factory, kind="unit_pension", phone=phone)
    sms_worker(session_factory, db_url, tmp_path, shift_clock, realname_sim.sms()).run_once()
    assert len(realname_sim.messages(phone)) == 1


def test_a_failing_sms_gateway_neither_blocks_the_change_nor_loses_the_sms(
    session_factory, db_url, tmp_path, shift_clock, realname_sim
):
    phone = fresh_phone()
    app_id = pending(session_factory, phone=phone)
    down = HttpSmsGateway("http://127.0.0.1:9", secret="x", timeout_seconds=0.5)
    try:
        sms_worker(session_factory, db_url, tmp_path, shift_clock, down).run_once()
    finally:
        down.close()
    move(session_factory, app_id, S.APPROVED)  # the workflow goes on regardless
    first = notices_of(session_factory, app_id)[0]
    assert first.sms_state == "pending" and first.sms_attempts == 1
    shift_clock.advance(minutes=5)
    sms_worker(session_factory, db_url, tmp_path, shift_clock, realname_sim.sms()).run_once()
    texts = [m["text"] for m in realname_sim.messages(phone)]
    assert len(texts) == 2 and any("已受理" in t for t in texts)
    assert {n.sms_state for n in notices_of(session_factory, app_id)} == {"sent"}


def test_without_a_phone_on_record_the_notice_stays_in_the_message_centre_only(
    session_factory, db_url, tmp_path, shift_clock, realname_sim
):
    app_id = pending(session_factory)
    sms_worker(session_factory, db_url, tmp_path, shift_clock, realname_sim.sms()).run_once()
    (notice,) = notices_of(session_factory, app_id)
    assert notice.sms_state == "none" and notice.read_at is None
