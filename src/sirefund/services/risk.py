"""风险提示: the rules of domain/risk.py applied to stored applications.

``assess`` runs when an application is submitted (services/applications.create) and when its
account changes (重新提交账户, services/reissue.py; a resubmitted 存款账户账号报告 for the
person's open medical refunds). It reads the facts the rules need, evaluates the rules as
configured in ``risk_rules`` (a rule missing there runs with its default), and stores what
was found in ``application_risk_flags`` — one row per rule, replaced when the facts change.
When the account turns out to be shared, the other open applications paid into it are
assessed again, so that the first of several payees filed into one account is flagged too.

Functions never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache

from sqlalchemy import ColumnElement, delete, exists, func, select, union
from sqlalchemy.orm import Session

from ..clock import CHINA_TZ, as_utc
from ..domain import risk
from ..domain.errors import Invalid, NotFound
from ..domain.risk import AccountUse, EarlierAccount, RiskCode, RiskFacts, RiskRule
from ..domain.workflow import ApplicationKind
from ..domain.workflow import ApplicationStatus as S
from ..models import (
    Application,
    ApplicationRiskFlag,
    DepositAccount,
    DepositAccountReport,
    Person,
)
from ..models import RiskRule as RiskRuleRow
from . import payout_accounts

#: How many other open applications one assessment re-assesses at most.
MAX_REASSESSED = 50
_SPREADING = {RiskCode.SHARED_ACCOUNT, RiskCode.FREQUENT_ACCOUNT}


@dataclass(frozen=True, slots=True)
class FlagView:
    """A risk found for an application: the rule's code and label, and what was found."""

    code: str
    label: str
    detail: str
    created_at: datetime


# --------------------------------------------------------------------------- rules


def rules(session: Session) -> list[RiskRule]:
    """Every rule as configured: the table's rows over the defaults, in the defaults' order
    (rules only the table knows come after).

    The table is read every time (a few rows), so an officer's change counts from the next
    transaction on, in every process; what is built from the rows is kept per process, by
    the rows themselves."""
    t = RiskRuleRow
    rows = session.execute(
        select(t.code, t.label, t.enabled, t.threshold, t.window_days).order_by(t.code)
    ).all()
    return list(_configured(tuple(RiskRule(*row) for row in rows)))


@lru_cache(maxsize=16)
def _configured(table: tuple[RiskRule, ...]) -> tuple[RiskRule, ...]:
    by_code = {r.code: r for r in table}
    configured = [by_code.pop(default.code, default) for default in risk.DEFAULT_RULES]
    return (*configured, *by_code.values())


def _rule(row: RiskRuleRow) -> RiskRule:
    return RiskRule(row.code, row.label, row.enabled, row.threshold, row.window_days)


def set_rule(
    session: Session,
    *,
    code: str,
    enabled: bool | None = None,
    threshold: int | None = None,
    window_days: int | None = None,
) -> RiskRule:
    """Change a rule's settings (the ones given); 404 ``risk_rule.not_found`` for a code that
    is no rule, 422 for a negative threshold or window."""
    current = next((r for r in rules(session) if r.code == code), None)
    if current is None or risk.function_for(code) is None:
        raise NotFound("risk_rule.not_found", "风险规则不存在", "code")
    if threshold is not None and threshold < 0:
        raise Invalid("risk_rule.threshold", "阈值不能为负数", "threshold")
    if window_days is not None and window_days < 0:
        raise Invalid("risk_rule.window_days", "天数不能为负数", "window_days")
    row = session.get(RiskRuleRow, code)
    if row is None:
        row = RiskRuleRow(
            code=code,
            label=current.label,
            enabled=current.enabled,
            threshold=current.threshold,
            window_days=current.window_days,
        )
        session.add(row)
    if enabled is not None:
        row.enabled = enabled
    if threshold is not None:
        row.threshold = threshold
    if window_days is not None:
        row.window_days = window_days
    session.flush()
    return _rule(row)


# --------------------------------------------------------------------------- facts


def _china_date(value: datetime) -> date:
    return as_utc(value).astimezone(CHINA_TZ).date()


def _payee(app: Application) -> str:
    return _payee_of(app.kind, app.unit_id, app.person_id)


def _payee_of(kind: str, unit_id: int | None, person_id: int | None) -> str:
    if kind == ApplicationKind.UNIT_PENSION and unit_id is not None:
        return f"unit:{unit_id}"
    return f"person:{person_id}"


def _submission(app: Application) -> str:
    return _submission_of(app.batch_id, _payee(app), app.created_at)


def _submission_of(batch_id: int | None, payee: str, created_at: datetime) -> str:
    """One submission: a unit's batch, or what one payee filed at one moment (several
    payments selected on one form are one submission, not several)."""
    if batch_id is not None:
        return f"batch:{batch_id}"
    return f"{payee}@{as_utc(created_at).isoformat()}"


def _account_no(session: Session, app: Application) -> str | None:
    if app.bank_account_no:
        return app.bank_account_no
    if app.deposit_account_id is not None:
        deposit = session.get(DepositAccount, app.deposit_account_id)
        return deposit.account_no if deposit is not None else None
    return None


def _same_payee(app: Application) -> ColumnElement[bool]:
    if app.kind == ApplicationKind.UNIT_PENSION and app.unit_id is not None:
        return (Application.kind == ApplicationKind.UNIT_PENSION.value) & (
            Application.unit_id == app.unit_id
        )
    return (Application.kind != ApplicationKind.UNIT_PENSION.value) & (
        Application.person_id == app.person_id
    )


def _deposit_changed_on(session: Session, app: Application) -> date | None:
    """When the deposit account a medical refund is paid into was changed (变更), if it was."""
    if app.deposit_account_id is None:
        return None
    deposit = session.get(DepositAccount, app.deposit_account_id)
    if deposit is None or (deposit.operation_type != "change" and deposit.replaces_id is None):
        return None
    if deposit.changed_on is not None:
        return deposit.changed_on
    report = session.get(DepositAccountReport, deposit.report_id)
    if report is None or report.submitted_at is None:
        return None
    return _china_date(report.submitted_at)


def _deposit_changed_after(session: Session, app: Application) -> date | None:
    """When the deposit account a medical refund names was changed or deleted after the
    account was copied onto the application (payout_accounts), if it was."""
    if payout_accounts.change_since_submission(session, app) is None:
        return None
    deposit = session.get(DepositAccount, app.deposit_account_id)
    report = session.get(DepositAccountReport, deposit.report_id) if deposit else None
    if report is None or report.submitted_at is None:
        return None
    return _china_date(report.submitted_at)


def _phone(session: Session, app: Application) -> str | None:
    phone = app.contact_phone or app.handler_phone
    if phone:
        return phone
    person = session.get(Person, app.person_id)
    return person.phone if person is not None else None


def _phone_accounts(session: Session, phone: str | None, account_no: str | None) -> int:
    """Distinct accounts of applications given with ``phone`` (or by the person whose phone
    it is), this application's account included."""
    if phone is None:
        return 0
    # Three indexed look-ups (contact phone, handler phone, the person's phone) in a UNION:
    # an OR across the join to persons could use no index and read every application.
    live = (Application.bank_account_no.is_not(None), Application.status != S.CANCELLED.value)
    numbers = set(
        session.execute(
            union(
                select(Application.bank_account_no).where(
                    Application.contact_phone == phone, *live
                ),
                select(Application.bank_account_no).where(
                    Application.handler_phone == phone, *live
                ),
                select(Application.bank_account_no)
                .join(Person, Person.id == Application.person_id)
                .where(Person.phone == phone, *live),
            )
        ).scalars()
    )
    if account_no is not None:
        numbers.add(account_no)
    numbers.discard(None)
    return len(numbers)


def facts(session: Session, app: Application) -> RiskFacts:
    """What the rules read about ``app``, from the database as it is now."""
    account_no = _account_no(session, app)
    applied_on = _china_date(app.created_at)
    uses: tuple[AccountUse, ...] = ()
    if account_no is not None:
        # The columns the rules read, not whole applications.
        a = Application
        others = session.execute(
            select(a.kind, a.unit_id, a.person_id, a.batch_id, a.created_at).where(
                a.bank_account_no == account_no,
                a.id != app.id,
                a.status != S.CANCELLED.value,
            )
        ).all()
        uses = tuple(
            AccountUse(
                payee=(payee := _payee_of(kind, unit_id, person_id)),
                applied_on=_china_date(created_at),
                submission=_submission_of(batch_id, payee, created_at),
            )
            for kind, unit_id, person_id, batch_id, created_at in others
        )
    # Each account the payer used before, with the last time: the rule looks for the
    # latest use of another account (a payer's cancelled tries are many rows, few accounts).
    earlier = session.execute(
        select(Application.bank_account_no, func.max(Application.created_at))
        .where(
            _same_payee(app),
            Application.id != app.id,
            Application.created_at <= app.created_at,
            Application.bank_account_no.is_not(None),
        )
        .group_by(Application.bank_account_no)
    ).all()
    return RiskFacts(
        kind=ApplicationKind(app.kind),
        amount_fen=app.amount_fen,
        applied_on=applied_on,
        payee=_payee(app),
        submission=_submission(app),
        account_no=account_no,
        account_uses=uses,
        deposit_account_changed_on=_deposit_changed_on(session, app),
        deposit_changed_after_applying_on=_deposit_changed_after(session, app),
        earlier_accounts=tuple(
            EarlierAccount(account_no=no, applied_on=_china_date(at)) for no, at in earlier if no
        ),
        phone_accounts=_phone_accounts(session, _phone(session, app), account_no),
        heir_claim=app.heir_claim_id is not None,
    )


# --------------------------------------------------------------------------- assessing


def assess(
    session: Session, app: Application, *, at: datetime, spread: bool = True, new: bool = False
) -> list[risk.Finding]:
    """Evaluate the rules for ``app`` and store what they find (replacing earlier flags).

    ``spread``: when the account is shared or busy, assess the other pending applications
    paid into it again (without spreading further). ``new``: ``app`` was inserted in this
    transaction, so it has no flags yet to replace."""
    session.flush()
    configured = rules(session)
    found = risk.evaluate(facts(session, app), configured)
    _store(session, app.id, found, at=at, new=new)
    account_no = _account_no(session, app)
    if spread and account_no is not None and any(f.code in _SPREADING for f in found):
        others = session.execute(
            select(Application)
            .where(
                Application.bank_account_no == account_no,
                Application.id != app.id,
                Application.status == S.PENDING_REVIEW.value,
            )
            .order_by(Application.id)
            .limit(MAX_REASSESSED)
        ).scalars()
        for other in list(others):
            _store(session, other.id, risk.evaluate(facts(session, other), configured), at=at)
    return found


def assess_person_medical(session: Session, *, person_id: int, at: datetime) -> None:
    """After the person's 存款账户账号报告 changed: their pending medical refunds again."""
    pending = session.execute(
        select(Application).where(
            Application.person_id == person_id,
            Application.kind == ApplicationKind.MEDICAL.value,
            Application.status == S.PENDING_REVIEW.value,
        )
    ).scalars()
    for app in list(pending):
        assess(session, app, at=at)


def _store(
    session: Session,
    application_id: int,
    found: Sequence[risk.Finding],
    *,
    at: datetime,
    new: bool = False,
) -> None:
    if new and not found:
        return
    existing = (
        {}
        if new
        else {
            f.code: f
            for f in session.execute(
                select(ApplicationRiskFlag).where(
                    ApplicationRiskFlag.application_id == application_id
                )
            ).scalars()
        }
    )
    codes = {f.code for f in found}
    gone = [code for code in existing if code not in codes]
    if gone:
        session.execute(
            delete(ApplicationRiskFlag).where(
                ApplicationRiskFlag.application_id == application_id,
                ApplicationRiskFlag.code.in_(gone),
            )
        )
    for finding in found:
        row = existing.get(finding.code)
        if row is None:
            session.add(
                ApplicationRiskFlag(
                    application_id=application_id,
                    code=finding.code,
                    detail=finding.detail,
                    created_at=at,
                )
            )
        else:
            row.detail = finding.detail
    session.flush()


# --------------------------------------------------------------------------- reading


def flags(session: Session, application_ids: Iterable[int]) -> dict[int, list[FlagView]]:
    """The stored flags of each application (absent: none), in the rules' order."""
    ids = list(application_ids)
    if not ids:
        return {}
    configured = rules(session)
    order = {r.code: i for i, r in enumerate(configured)}
    labels = {r.code: r.label for r in configured}
    rows = session.execute(
        select(ApplicationRiskFlag).where(ApplicationRiskFlag.application_id.in_(ids))
    ).scalars()
    result: dict[int, list[FlagView]] = {}
    for row in sorted(rows, key=lambda r: (order.get(r.code, len(order)), r.code)):
        result.setdefault(row.application_id, []).append(
            FlagView(
                code=row.code,
                label=labels.get(row.code, row.code),
                detail=row.detail,
                created_at=as_utc(row.created_at),
            )
        )
    return result


def flagged_clause() -> ColumnElement[bool]:
    """SQL: the application (``applications`` in the query) has a risk flag. Written as
    ``id IN (flagged ids)``: the database can start from the few flags (a correlated EXISTS
    made SQLite test every application of the queue, 1.2 s at 1M)."""
    return Application.id.in_(select(ApplicationRiskFlag.application_id))


def is_flagged(session: Session, application_id: int) -> bool:
    return bool(
        session.execute(
            select(exists().where(ApplicationRiskFlag.application_id == application_id))
        ).scalar()
    )


def flagged_among(session: Session, application_ids: Sequence[int]) -> set[int]:
    """Which of these applications have a 风险提示 (:func:`is_flagged` for many)."""
    found: set[int] = set()
    ids = list(application_ids)
    for first in range(0, len(ids), _IN_CHUNK):
        found.update(
            session.execute(
                select(ApplicationRiskFlag.application_id).where(
                    ApplicationRiskFlag.application_id.in_(ids[first : first + _IN_CHUNK])
                )
            ).scalars()
        )
    return found


_IN_CHUNK = 5000  # ids per IN list (SQLite's limit on bound parameters is 32,766)
