"""重新提交账户: the payout-failure loop (domain.md "Re-issue after 退付失败").

When the bank cannot pay (the account is closed or frozen, or its holder is not the payee),
the application stays open in ``refund_failed`` with the bank's reason. Its applicant — the
person, or the unit for a unit's refund — gives a corrected account, and the same case is
paid again:

    refund_failed --reissue (applicant)--> at_agency --bank paid--> refunded
                                                     --bank failed-> refund_failed (again)

Only the bank step is repeated. HRSS (or the medical security bureau) accepted the refund
already, so nothing is sent to them again: the failed payout is superseded (it is never sent,
polled or settled again, outbox.supersede) and a new payout order, with its own request id,
goes to the corrected account in the same transaction as the move (style habit 4). The new
account is copied onto the application, so the officer's detail and reveal show what the
bank is now ordered to pay; every attempt stays in the history (who, when, from, to, why —
the why names the account given up, the new one, masked, and the bank's reason).

Anything not the applicant's answers 404 like a missing application; a case that is not
``refund_failed`` answers 409 ``application.not_reissuable``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import outbox
from ..domain import identity, rules
from ..domain.agencies import Agency
from ..domain.errors import Conflict, NotFound
from ..domain.workflow import ApplicationKind
from ..domain.workflow import ApplicationStatus as S
from ..models import Application, OutboxMessage, Person, Unit
from . import applications, deposit_accounts, dispatches, risk, views
from .applications import Actor
from .bank_details import PayoutAccountIn, input_config
from .deposit_accounts import BIGINT_MAX
from .views import ApplicationView

__all__ = [
    "MedicalReissueIn",
    "PayoutAccountIn",
    "failed_case",
    "reissue_medical",
    "reissue_pension",
]


class MedicalReissueIn(BaseModel):
    """重新提交账户 of a medical refund: another (or the corrected) account of the person's
    submitted 存款账户账号报告."""

    model_config = input_config({"deposit_account_id": 13})

    deposit_account_id: int = Field(
        ge=1, le=BIGINT_MAX, description="银行账户信息（GET /deposit-accounts）"
    )


def not_reissuable() -> Conflict:
    return Conflict("application.not_reissuable", "仅退付失败的申请可以重新提交账户")


def failed_case(
    session: Session, *, owner: Actor, kind: ApplicationKind, application_id: int
) -> ApplicationView:
    """The applicant's case whose payout failed, for the 重新提交账户 form: 404 unless it is
    ``owner``'s of ``kind``, 409 ``application.not_reissuable`` unless 退付失败."""
    return applications.own_case(
        session,
        application_id,
        kind=kind,
        owner=owner,
        status=S.REFUND_FAILED,
        refusal=not_reissuable,
    )


def reissue_pension(
    session: Session,
    *,
    owner: Actor,
    application_id: int,
    account: PayoutAccountIn,
    at: datetime,
) -> ApplicationView:
    """A person's own pension refund (``owner`` a person) or a unit's refund (``owner`` the
    unit) paid again to ``account``, whose name must be the payee's: the payer's name for a
    person (422 ``bank_account_name.not_payer``), the unit's name for a unit (422
    ``bank_account_name.not_unit``)."""
    kind = ApplicationKind.PENSION if owner.kind == "person" else ApplicationKind.UNIT_PENSION
    app = applications.find_own(session, application_id, kind=kind.value, owner=owner, lock=True)
    if app.status != S.REFUND_FAILED:
        raise not_reissuable()
    if kind == ApplicationKind.UNIT_PENSION:
        unit = session.get(Unit, app.unit_id)
        assert unit is not None  # foreign key
        rules.check_unit_account_holder(account.bank_account_name, unit.name)
    else:
        person = session.get(Person, app.person_id)
        assert person is not None  # foreign key
        rules.check_person_account_holder(account.bank_account_name, person.name)
    values = {
        "bank_account_type": account.bank_account_type,
        "bank_account_no": account.bank_account_no,
        "bank_account_name": account.bank_account_name.strip(),
        "bank_category": account.bank_category,
    }
    return _reissue(session, app=app, actor=owner, values=values, at=at)


def reissue_medical(
    session: Session,
    *,
    person_id: int,
    application_id: int,
    account: MedicalReissueIn,
    at: datetime,
) -> ApplicationView:
    """A person's own medical refund paid again to one of their deposit accounts in force
    (404 ``deposit_account.not_found`` for anyone else's, a deleted one or a draft's; its
    name is the person's, the report checks that when it is submitted)."""
    app = applications.find_own(
        session,
        application_id,
        kind=ApplicationKind.MEDICAL.value,
        owner=Actor.person(person_id),
        lock=True,
    )
    if app.status != S.REFUND_FAILED:
        raise not_reissuable()
    in_force = deposit_accounts.accounts_in_force(session, person_id=person_id)
    chosen = next((a for a in in_force if a.id == account.deposit_account_id), None)
    if chosen is None:
        raise NotFound("deposit_account.not_found", "银行账户信息不存在", "deposit_account_id")
    person = session.get(Person, person_id)
    assert person is not None  # the application's payer
    rules.check_person_account_holder(chosen.account_name or "", person.name)
    values = {
        "deposit_account_id": chosen.id,
        "bank_account_no": chosen.account_no,
        "bank_account_name": chosen.account_name,
        "bank_category": chosen.bank_category,
    }
    return _reissue(session, app=app, actor=Actor.person(person_id), values=values, at=at)


def _reissue(
    session: Session, *, app: Application, actor: Actor, values: dict[str, Any], at: datetime
) -> ApplicationView:
    """Supersede the failed payout, move the case back to the bank with the new account
    copied onto it, and order the payout; all in the caller's transaction."""
    before = identity.mask_account(app.bank_account_no)
    after = identity.mask_account(values["bank_account_no"])
    failure = app.bank_result or "退付失败"
    for message in _live_payouts(session, app.id):
        outbox.supersede(session, message_id=message.id, at=at)
    applications.transition(
        session,
        application=app,
        target=S.AT_AGENCY,
        actor=actor,
        at=at,
        reason=f"重新提交账户：{before} → {after}（{failure}），重新发送退付指令",
        # The failure stays in the history; the case now waits for the new payout's result.
        values={**values, "bank_result": None, "refund_date": None},
    )
    dispatches.enqueue_payout(session, application=app, at=at)
    session.refresh(app)
    # A new account: the 风险提示 are assessed again against it.
    risk.assess(session, app, at=at)
    return views.application(app)


def _live_payouts(session: Session, application_id: int) -> list[OutboxMessage]:
    return list(
        session.execute(
            select(OutboxMessage).where(
                OutboxMessage.application_id == application_id,
                OutboxMessage.agency == Agency.BANK.value,
                OutboxMessage.superseded_at.is_(None),
            )
        ).scalars()
    )
