"""The heir is told the answer to a 继承人代办 claim, on SQLite and PostgreSQL: when the death
registry verifies or refuses the claim a notice points to the claim (not to an application)
in the heir's 消息中心, with the reason and what to do next, and the worker sends it by SMS
to the heir's phone through the SMS gateway (real HTTP to the simulator)."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sirefund import worker
from sirefund.domain.errors import NotFound, Unavailable
from sirefund.domain.heirs import DeathConfirmation
from sirefund.models import Notification, Person
from sirefund.services import heir_claims, notifications
from sirefund.services.heir_claims import HeirClaimIn
from tests import factories as f
from tests.integration import approvals
from tests.integration.conftest import make_settings
from tests.realname import fresh_phone

DEATH = "2025-12-01"


class _Down:
    def confirm_death(self, **_: object) -> DeathConfirmation:
        raise Unavailable("death_registry.unavailable", "暂不可用")


def _claim(session_factory, realname_sim, *, registry=None, **overrides: object) -> tuple[int, int]:
    """A registered heir (with a phone) claims a deceased payer registered dead in the
    simulator; (heir id, claim id)."""
    with session_factory() as s, s.begin():
        deceased = f.make_person(s, name="邱世贵", region="420703")
        heir = f.make_person(s, name="邱小贵", password=f.PASSWORD, phone=fresh_phone())
        realname_sim.add_death(deceased.id_number, DEATH, name=deceased.name)
        claim = HeirClaimIn.model_validate(
            {
                "deceased_id_number": deceased.id_number,
                "deceased_name": deceased.name,
                "death_date": DEATH,
                "relationship": "child",
                **overrides,
            }
        )
        found = heir_claims.create(
            s,
            person_id=heir.id,
            claim=claim,
            registry=registry or realname_sim.death_registry(),
            at=f.AT,
        )
        return heir.id, found.id


def _notices(session_factory, claim_id: int) -> list[Notification]:
    with session_factory() as s:
        rows = list(
            s.execute(
                select(Notification)
                .where(Notification.heir_claim_id == claim_id)
                .order_by(Notification.id)
            ).scalars()
        )
        for r in rows:
            s.expunge(r)
        return rows


def test_a_verified_claim_tells_the_heir_in_the_message_centre_that_they_may_now_apply(
    session_factory, realname_sim
):
    heir_id, claim_id = _claim(session_factory, realname_sim)
    (notice,) = _notices(session_factory, claim_id)
    assert (notice.recipient_kind, notice.recipient_id) == ("person", heir_id)
    assert notice.application_id is None
    assert notice.title == "继承人代办申请已核实"
    assert "已故参保人邱世贵" in notice.body and "子女" in notice.body
    assert "退至您本人的银行账户" in notice.body
    with session_factory() as s:
        found = notifications.list_for(s, ("person", heir_id))
    assert found.unread_count == 1
    (item,) = found.items
    assert (item.heir_claim_id, item.application_id, item.read) == (claim_id, None, False)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"deceased_name": "邱世富"}, "姓名与死亡登记信息不符"),
        ({"death_date": "2025-11-30"}, "死亡日期与死亡登记信息不符"),
    ],
)
def test_a_refused_claim_tells_the_heir_why_and_what_to_do_next(
    session_factory, realname_sim, overrides, reason
):
    _, claim_id = _claim(session_factory, realname_sim, **overrides)
    (notice,) = _notices(session_factory, claim_id)
    assert notice.title == "继承人代办申请核实不通过"
    assert f"原因：{reason}" in notice.body
    assert "重新提交申请" in notice.body and "办税服务厅" in notice.body


def test_a_pending_claim_tells_nothing_until_the_registry_answers(session_factory, realname_sim):
    heir_id, claim_id = _claim(session_factory, realname_sim, registry=_Down())
    assert _notices(session_factory, claim_id) == []
    for _ in range(2):  # looking twice after the answer tells it once
        with session_factory() as s, s.begin():
            heir_claims.show(
                s,
                person_id=heir_id,
                claim_id=claim_id,
                registry=realname_sim.death_registry(),
                at=f.AT,
            )
    assert [n.title for n in _notices(session_factory, claim_id)] == ["继承人代办申请已核实"]


def test_marking_a_claims_notice_read_counts_it_down_and_another_person_cannot(
    session_factory, realname_sim
):
    heir_id, claim_id = _claim(session_factory, realname_sim)
    other_id, _ = _claim(session_factory, realname_sim)
    (notice,) = _notices(session_factory, claim_id)
    with session_factory() as s, s.begin():
        with pytest.raises(NotFound) as refused:
            notifications.mark_read(s, ("person", other_id), notice.id, at=f.AT)
        assert refused.value.code == "notification.not_found"
        notifications.mark_read(s, ("person", heir_id), notice.id, at=f.AT)
    with session_factory() as s:
        assert notifications.unread_count(s, ("person", heir_id)) == 0
        assert notifications.unread_count(s, ("person", other_id)) == 1


def test_the_worker_sends_the_heir_the_claims_answer_by_sms(
    session_factory, db_url, tmp_path, shift_clock, realname_sim
):
    _, claim_id = _claim(session_factory, realname_sim, deceased_name="邱世富")
    with session_factory() as s:
        phone = s.execute(
            select(Person.phone)
            .join(Notification, Notification.recipient_id == Person.id)
            .where(Notification.heir_claim_id == claim_id)
        ).scalar_one()
    assert realname_sim.messages(phone) == []  # nothing is sent inside the request
    worker.Dispatcher(
        session_factory,
        adapters={},
        settings=make_settings(db_url, tmp_path),
        clock=shift_clock,
        worker_id="w-sms",
        rng=random.Random(1),
        sms=realname_sim.sms(),
    ).run_once()
    (message,) = realname_sim.messages(phone)
    assert message["text"].startswith("【税务局】继承人代办申请核实不通过")
    assert "姓名与死亡登记信息不符" in message["text"]
    (notice,) = _notices(session_factory, claim_id)
    assert notice.sms_state == "sent"


@pytest.mark.parametrize("subjects", ["neither", "both"])
def test_the_database_refuses_a_notice_about_neither_or_both_an_application_and_a_claim(
    session_factory, realname_sim, subjects
):
    heir_id, claim_id = _claim(session_factory, realname_sim)
    with session_factory() as s:
        app_id = None
        if subjects == "both":
            app_id = approvals.pending_application(s, kind="pension", at=f.AT).id
        s.add(
            Notification(
                recipient_kind="person",
                recipient_id=heir_id,
                application_id=app_id,
                heir_claim_id=claim_id if subjects == "both" else None,
                title="t",
                body="b",
                created_at=f.AT,
                sms_state="none",
                sms_attempts=0,
            )
        )
        with pytest.raises(IntegrityError):
            s.flush()
