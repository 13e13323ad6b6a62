"""The account a refund is paid into — one answer for the bank's payout order, the officer's
detail and the audited reveal, so that what an officer sees is what gets paid.

Every application carries a copy of its account taken when it was submitted (typed in for
pension and unit refunds, copied from the chosen 存款账户 for medical ones) or when a payout
was re-issued to a corrected account. The payout uses that copy, never the person's current
deposit account: a later change of the report does not redirect a refund under way. Medical
applications filed before the copy existed fall back to the deposit account they name.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..domain.workflow import ApplicationKind
from ..models import Application, DepositAccount


@dataclass(frozen=True, slots=True)
class PayoutAccount:
    no: str | None
    name: str | None
    account_type: str | None
    bank_category: str | None
    branch: str | None


def payout_account(session: Session, app: Application, *, payer_name: str) -> PayoutAccount:
    """The account the bank is (or will be) ordered to pay for ``app``."""
    deposit = _deposit_account(session, app)
    if app.bank_account_no:
        same = deposit is not None and _matches(deposit, app)
        return PayoutAccount(
            no=app.bank_account_no,
            name=app.bank_account_name or payer_name,
            account_type=app.bank_account_type,
            bank_category=app.bank_category,
            # Not part of the copy: shown only while the deposit account is still that one.
            branch=deposit.bank_branch if deposit is not None and same else None,
        )
    if deposit is None:
        return PayoutAccount(
            no=None, name=payer_name, account_type=None, bank_category=None, branch=None
        )
    return PayoutAccount(
        no=deposit.account_no,
        name=deposit.account_name,
        account_type=deposit.account_nature,
        bank_category=deposit.bank_category,
        branch=deposit.bank_branch,
    )


@dataclass(frozen=True, slots=True)
class AccountChange:
    """The person's deposit account as it reads now, when it no longer is the one the payout
    uses: changed (变更) or deleted (删除) after the application was submitted."""

    current_no: str | None
    deleted: bool


def change_since_submission(session: Session, app: Application) -> AccountChange | None:
    """How the deposit account a medical application names differs from the copy the payout
    uses; None when it does not (or the application names none)."""
    if app.kind != ApplicationKind.MEDICAL or not app.bank_account_no:
        return None
    deposit = _deposit_account(session, app)
    if deposit is None:
        return None
    if _matches(deposit, app):
        return None
    deleted = bool(deposit.retired) or deposit.operation_type == "delete"
    return AccountChange(current_no=deposit.account_no, deleted=deleted)


def _matches(deposit: DepositAccount, app: Application) -> bool:
    """The deposit account still is the one copied onto the application (and in force)."""
    in_force = not deposit.retired and deposit.operation_type != "delete"
    return in_force and (deposit.account_no, deposit.account_name, deposit.bank_category) == (
        app.bank_account_no,
        app.bank_account_name,
        app.bank_category,
    )


def _deposit_account(session: Session, app: Application) -> DepositAccount | None:
    if app.deposit_account_id is None:
        return None
    return session.get(DepositAccount, app.deposit_account_id)
