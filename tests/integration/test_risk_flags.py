"""风险提示 computed and stored with the application (services/risk.py), on SQLite and
PostgreSQL: on submission (the real pension service), and again when its account changes
(重新提交账户 after 退付失败). The attack: someone filing refunds for several people into
one account gets every one of them flagged."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import Application, ApplicationRiskFlag, Person, RiskRule
from sirefund.services import applications, deposit_accounts, pension, reissue, risk
from sirefund.services.applications import Actor
from sirefund.services.bank_details import PayoutAccountIn
from tests import factories as f
from tests.integration.approvals import unique_resident_id

MULE = "6228480402564890018"  # the one account the attacker gives for everybody
OWN = "6228480402564890026"
OTHER = "6228480402564890034"
NAMES = ("邱世贵", "王桂英", "李德明", "张秀兰")


def _apply(session_factory, *, name: str, account: str, phone: str, at=f.AT, person_id=None):
    """The person's pension refund of a new payment, through pension.apply; the id."""
    with session_factory() as s, s.begin():
        if person_id is None:
            person = f.make_person(s, name=name, id_number=unique_resident_id("420703"))
        else:
            person = s.get(Person, person_id)
        pay = f.make_pension_payment(s, person)
        (view,) = pension.apply(
            s,
            person_id=person.id,
            refund=pension.PensionRefundIn(
                payment_ids=[pay.payment_id],
                bank_account_type="bank_card",
                bank_account_no=account,
                bank_account_name=name,
                bank_category="103",
                contact_name=name,
                contact_phone=phone,
            ),
            at=at,
        )
        return view.id


def _flags(session_factory, app_id: int) -> dict[str, str]:
    with session_factory() as s:
        return {
            r.code: r.detail
            for r in s.execute(
                select(ApplicationRiskFlag).where(ApplicationRiskFlag.application_id == app_id)
            ).scalars()
        }


def _phone(i: int) -> str:
    return f"1387123456{i}"


def test_refunds_of_several_people_into_one_account_are_all_flagged(session_factory):
    """The attack: a go-between who knows three people's names and ID numbers files their
    refunds into one account — each case, the first included, carries the flag."""
    ids = [
        _apply(session_factory, name=n, account=MULE, phone=_phone(i))
        for i, n in enumerate(NAMES[:3])
    ]
    for app_id in ids:
        assert _flags(session_factory, app_id)["shared_account"] == "该银行账户另有2名缴费人使用"


def test_people_with_their_own_accounts_and_phones_are_not_flagged(session_factory):
    a = _apply(session_factory, name=NAMES[0], account=MULE, phone=_phone(0))
    b = _apply(session_factory, name=NAMES[1], account=OWN, phone=_phone(1))
    assert _flags(session_factory, a) == {} and _flags(session_factory, b) == {}


def test_one_phone_given_for_two_accounts_is_flagged(session_factory):
    _apply(session_factory, name=NAMES[0], account=MULE, phone=_phone(0))
    b = _apply(session_factory, name=NAMES[1], account=OWN, phone=_phone(0))
    assert _flags(session_factory, b) == {"shared_phone": "该联系电话关联2个不同银行账户"}


def test_applying_with_another_account_than_ten_days_ago_is_an_account_change(session_factory):
    first = _apply(session_factory, name=NAMES[0], account=OWN, phone=_phone(0))
    with session_factory() as s:
        person_id = s.get(Application, first).person_id
    later = _apply(
        session_factory,
        name=NAMES[0],
        account=OTHER,
        phone=_phone(0),
        at=f.AT + timedelta(days=10),
        person_id=person_id,
    )
    flags = _flags(session_factory, later)
    assert "尾号0026" in flags["account_changed"]
    assert _flags(session_factory, first).keys() <= {"shared_phone"}


def test_an_amount_above_the_kinds_configured_threshold_is_flagged(session_factory):
    with session_factory() as s, s.begin():
        risk.set_rule(s, code="large_amount.pension", threshold=69_999)
    app_id = _apply(session_factory, name=NAMES[0], account=OWN, phone=_phone(0))
    assert _flags(session_factory, app_id) == {
        "large_amount.pension": "退费金额700.00元，超过699.99元"
    }


def test_a_disabled_rule_flags_nothing(session_factory):
    with session_factory() as s, s.begin():
        risk.set_rule(s, code="shared_account", enabled=False)
        assert s.get(RiskRule, "shared_account").enabled is False
    ids = [
        _apply(session_factory, name=n, account=MULE, phone=_phone(i))
        for i, n in enumerate(NAMES[:2])
    ]
    assert all("shared_account" not in _flags(session_factory, i) for i in ids)


def test_the_heir_claim_rule_is_on_since_heirs_can_claim(session_factory):
    with session_factory() as s:
        rule = next(r for r in risk.rules(s) if r.code == "heir_claim")
    assert rule.enabled is True


def test_three_submissions_into_one_account_within_a_week_are_flagged(session_factory):
    first = _apply(session_factory, name=NAMES[0], account=OWN, phone=_phone(0))
    with session_factory() as s:
        person_id = s.get(Application, first).person_id
    for day in (2, 4):
        last = _apply(
            session_factory,
            name=NAMES[0],
            account=OWN,
            phone=_phone(0),
            at=f.AT + timedelta(days=day),
            person_id=person_id,
        )
    assert _flags(session_factory, last) == {"frequent_account": "该银行账户7日内有3笔退费申请"}


def test_a_reissue_to_an_account_another_payee_uses_is_flagged_then(session_factory):
    victim = _apply(session_factory, name=NAMES[0], account=MULE, phone=_phone(0))
    mine = _apply(session_factory, name=NAMES[1], account=OWN, phone=_phone(1))
    assert _flags(session_factory, mine) == {}
    with session_factory() as s, s.begin():
        # The bank could not pay (the worker's path is tested in test_payout_reissue.py).
        s.execute(
            update(Application)
            .where(Application.id == mine)
            .values(status=S.REFUND_FAILED.value, bank_result="户名与账号不符")
        )
        person_id = s.get(Application, mine).person_id
        reissue.reissue_pension(
            s,
            owner=Actor.person(person_id),
            application_id=mine,
            account=PayoutAccountIn(
                bank_account_type="bank_card",
                bank_account_no=MULE,
                bank_account_name=NAMES[1],
                bank_category="103",
            ),
            at=f.AT + timedelta(days=20),
        )
    assert _flags(session_factory, mine)["shared_account"] == "该银行账户另有1名缴费人使用"
    assert _flags(session_factory, victim)["shared_account"] == "该银行账户另有1名缴费人使用"


def test_a_medical_refund_into_a_deposit_account_changed_days_before_is_flagged(session_factory):
    with session_factory() as s, s.begin():
        person = f.make_person(s, id_number=unique_resident_id("420703"))
        reg = f.make_registration(s, person)
        mp = f.make_medical_payment(s, reg, medical_fen=30000)
        acct = f.make_submitted_account(s, person, account_no=OWN)
        acct.operation_type = "change"
        acct.changed_on = (f.AT - timedelta(days=5)).date()
        app = f.submit(
            s,
            f.medical_application(
                person,
                mp,
                reg,
                acct,
                channel="mobile_app",
                bank_account_no=OWN,
                bank_account_name=person.name,
                handler_phone="13912345678",
            ),
        )
        app_id = app.id
    assert "account_changed" in _flags(session_factory, app_id)


def test_one_flag_per_rule_and_application_is_a_database_invariant(session_factory):
    ids = [
        _apply(session_factory, name=n, account=MULE, phone=_phone(i))
        for i, n in enumerate(NAMES[:2])
    ]
    with session_factory() as s:
        s.add(
            ApplicationRiskFlag(
                application_id=ids[0], code="shared_account", detail="again", created_at=f.AT
            )
        )
        with pytest.raises(IntegrityError):
            s.flush()


def _report(*, name: str, account_no: str, account_id=None, operation="add"):
    row = {
        "operation_type": operation,
        "account_nature": "1110",
        "issue_date": "2026-03-10",
        "division_code": "420700",
        "bank_category": "103",
        "bank_branch": "中国农业银行股份有限公司鄂州鄂城支行",
        "account_name": name,
        "account_no": account_no,
        "currency": "156",
        "preferred_tax_account": True,
        "general_refund_account": True,
        "export_refund_account": False,
        "opened_on": "2020-01-01",
    }
    if account_id is not None:
        row.update(account_id=account_id, changed_on="2026-03-13")
    return deposit_accounts.ReportIn.model_validate(
        {"handler_name": name, "report_date": "2026-03-10", "accounts": [row], "submit": True}
    )


def test_changing_the_deposit_account_of_a_pending_medical_refund_flags_it(session_factory):
    """A resubmitted 存款账户账号报告 changing the account a pending medical refund was filed
    with: the refund is assessed again and carries the change."""
    at = f.AT
    with session_factory() as s, s.begin():
        person = f.make_person(s, id_number=unique_resident_id("420703"))
        person_id, name = person.id, person.name
        report = deposit_accounts.save_report(
            s,
            person_id=person_id,
            report_in=_report(name=name, account_no=OWN),
            at=at,
            today=at.date(),
        )
        (acct,) = deposit_accounts.accounts_in_force(s, person_id=person_id)
        reg = f.make_registration(s, person)
        mp = f.make_medical_payment(s, reg, medical_fen=30000)
        app_id = applications.create(
            s,
            application=Application(
                kind="medical",
                channel="mobile_app",
                person_id=person_id,
                region_code=person.region_code,
                medical_payment_id=mp.payment_id,
                registration_id=reg.registration_id,
                deposit_account_id=acct.id,
                bank_account_no=acct.account_no,
                bank_account_name=acct.account_name,
                bank_category=acct.bank_category,
                amount_fen=mp.refund_amount_fen,
                payment_year=mp.insurance_year,
                period_start=mp.period_start,
                period_end=mp.period_end,
                handler_phone="13912345678",
                reason_code="duplicate_payment",
            ),
            actor=Actor.person(person_id),
            at=at,
        ).id
        acct_id = acct.id
    assert _flags(session_factory, app_id) == {}
    later = at + timedelta(days=3)
    with session_factory() as s, s.begin():
        deposit_accounts.save_report(
            s,
            person_id=person_id,
            report_id=report.report_id,
            report_in=_report(name=name, account_no=OTHER, account_id=acct_id, operation="change"),
            at=later,
            today=later.date(),
        )
    assert "申请后存款账户于2026-03-13变更" in _flags(session_factory, app_id)["account_changed"]


def test_a_phone_counts_the_accounts_given_with_it_as_contact_handler_or_the_persons_own(
    session,
):
    """The phone rule's three sources (looked up as three indexed queries): an application's
    contact phone, its handler's phone, and the phone on record of the person applying;
    cancelled applications and other phones do not count."""
    phone = "13912340000"

    def app(account: str, *, person=None, **values) -> Application:
        person = person or f.make_person(session, id_number=unique_resident_id("420703"))
        pay = f.make_pension_payment(session, person)
        values.setdefault("contact_phone", "13700000000")
        return f.submit(
            session, f.pension_application(person, pay, bank_account_no=account, **values)
        )

    by_contact = app(MULE, contact_phone=phone)
    app(OWN, handler_phone=phone)
    owner = f.make_person(session, id_number=unique_resident_id("420703"), phone=phone)
    app(OTHER, person=owner)
    cancelled = app("6228480402564890042", contact_phone=phone)
    applications.cancel_by_person(
        session, application=cancelled, person_id=cancelled.person_id, at=f.AT
    )
    app("6228480402564890059", contact_phone="13600000000")

    assert risk.facts(session, by_contact).phone_accounts == 3
