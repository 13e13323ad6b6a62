"""风险提示: the rules that flag an application for a careful look before approval.

Rules are data (a row per rule: enabled, threshold, window) and each is a small pure function
of :class:`RiskFacts`, the figures services/risk.py reads for one application. A rule answers
a :class:`Finding` (its code and the sentence the officer reads) or None.

The rules, as the officer reads them:

- ``shared_account``: one bank account used by several payees (different persons' — or a
  unit's and persons' — applications with the same account number);
- ``account_changed``: the account changed within ``window_days`` before applying (the
  deposit account report changed it, or the person's earlier application used another one),
  or the deposit account was changed after applying while the case is open;
- ``large_amount.<kind>``: the amount is above the kind's threshold (fen);
- ``frequent_account``: ``threshold`` or more submissions into one account within
  ``window_days``;
- ``shared_phone``: one phone behind ``threshold`` or more accounts;
- ``heir_claim``: a refund claimed by an heir (继承人代领) under a verified heir claim
  (services/heir_claims.py); seeded disabled, switched on by migration 0016_heir_claims.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from .money import format_yuan
from .workflow import ApplicationKind


class RiskCode:
    SHARED_ACCOUNT = "shared_account"
    ACCOUNT_CHANGED = "account_changed"
    FREQUENT_ACCOUNT = "frequent_account"
    SHARED_PHONE = "shared_phone"
    HEIR_CLAIM = "heir_claim"
    LARGE_AMOUNT_PREFIX = "large_amount."


def large_amount_code(kind: ApplicationKind) -> str:
    return f"{RiskCode.LARGE_AMOUNT_PREFIX}{kind.value}"


@dataclass(frozen=True, slots=True)
class RiskRule:
    """A rule's settings: ``threshold`` is a count, or fen for the amount rules;
    ``window_days`` None means "any time"."""

    code: str
    label: str
    enabled: bool
    threshold: int | None
    window_days: int | None


#: The rules as seeded (the migration writes the same rows out).
DEFAULT_RULES: tuple[RiskRule, ...] = (
    RiskRule(RiskCode.SHARED_ACCOUNT, "多名缴费人使用同一银行账户", True, 2, None),
    RiskRule(RiskCode.ACCOUNT_CHANGED, "申请前30日内变更过银行账户", True, None, 30),
    RiskRule(
        large_amount_code(ApplicationKind.PENSION),
        "退费金额较大（养老保险个人）",
        True,
        500_000,
        None,
    ),
    RiskRule(
        large_amount_code(ApplicationKind.UNIT_PENSION),
        "退费金额较大（养老保险村组）",
        True,
        500_000,
        None,
    ),
    RiskRule(
        large_amount_code(ApplicationKind.MEDICAL), "退费金额较大（医疗保险）", True, 300_000, None
    ),
    RiskRule(RiskCode.FREQUENT_ACCOUNT, "同一账户短期内多次申请", True, 3, 7),
    RiskRule(RiskCode.SHARED_PHONE, "同一手机号关联多个银行账户", True, 2, None),
    RiskRule(RiskCode.HEIR_CLAIM, "继承人代领", True, None, None),
)


@dataclass(frozen=True, slots=True)
class AccountUse:
    """Another application paid into the same account: whose (``payee``, e.g. ``person:7``
    or ``unit:3``), when (China date) and as part of which submission (a unit's batch is
    one submission)."""

    payee: str
    applied_on: date
    submission: str


@dataclass(frozen=True, slots=True)
class EarlierAccount:
    """An account the same payer's earlier application used, and when."""

    account_no: str
    applied_on: date


@dataclass(frozen=True, slots=True)
class RiskFacts:
    """What the rules read about one application (no I/O: services/risk.py gathers it)."""

    kind: ApplicationKind
    amount_fen: int
    applied_on: date
    payee: str
    submission: str
    account_no: str | None
    account_uses: tuple[AccountUse, ...] = ()
    #: When the deposit account this application is paid into was changed or reported
    #: (medical), None when unknown or not a deposit account.
    deposit_account_changed_on: date | None = None
    #: When the person changed (or deleted) that deposit account after applying, while the
    #: refund still goes to the account copied at submission (medical); None otherwise.
    deposit_changed_after_applying_on: date | None = None
    earlier_accounts: tuple[EarlierAccount, ...] = ()
    #: Distinct account numbers used with this application's phone (this one's included).
    phone_accounts: int = 0
    heir_claim: bool = False


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    detail: str


def _before(day: date, applied_on: date, window_days: int) -> bool:
    """``day`` falls within ``window_days`` before (or on) the day of applying."""
    return applied_on - timedelta(days=window_days) <= day <= applied_on


def _near(day: date, applied_on: date, window_days: int | None) -> bool:
    """``day`` lies within ``window_days`` of applying, either side (None: any day) — an
    application flagged by a later one sharing its account is flagged too."""
    return window_days is None or abs((day - applied_on).days) <= window_days


def _tail(account_no: str) -> str:
    return f"尾号{account_no[-4:]}"


def shared_account(facts: RiskFacts, rule: RiskRule) -> Finding | None:
    """``threshold`` (default 2) or more payees, this one included, on the account."""
    if facts.account_no is None:
        return None
    others = {
        use.payee
        for use in facts.account_uses
        if use.payee != facts.payee and _near(use.applied_on, facts.applied_on, rule.window_days)
    }
    if len(others) + 1 < (rule.threshold or 2):
        return None
    return Finding(rule.code, f"该银行账户另有{len(others)}名缴费人使用")


def account_changed(facts: RiskFacts, rule: RiskRule) -> Finding | None:
    """The deposit account was changed, or the payer's earlier application used another
    account, within ``window_days`` (default 30) before applying."""
    window = rule.window_days if rule.window_days is not None else 30
    after = facts.deposit_changed_after_applying_on
    if after is not None:
        return Finding(
            rule.code,
            f"申请后存款账户于{after.isoformat()}变更，退费仍退至申请时的账户，请核实",
        )
    changed = facts.deposit_account_changed_on
    if changed is not None and _before(changed, facts.applied_on, window):
        return Finding(rule.code, f"存款账户于{changed.isoformat()}变更，距申请不足{window}日")
    if facts.account_no is None:
        return None
    earlier = sorted(
        (
            e
            for e in facts.earlier_accounts
            if e.account_no != facts.account_no and _before(e.applied_on, facts.applied_on, window)
        ),
        key=lambda e: e.applied_on,
        reverse=True,
    )
    if not earlier:
        return None
    last = earlier[0]
    return Finding(
        rule.code,
        f"该缴费人{last.applied_on.isoformat()}的申请使用另一账户（{_tail(last.account_no)}），"
        f"{window}日内更换了账户",
    )


def large_amount(facts: RiskFacts, rule: RiskRule) -> Finding | None:
    """The amount is above the kind's threshold (fen); a rule without one flags nothing."""
    if rule.code != large_amount_code(facts.kind) or rule.threshold is None:
        return None
    if facts.amount_fen <= rule.threshold:
        return None
    return Finding(
        rule.code,
        f"退费金额{format_yuan(facts.amount_fen)}元，超过{format_yuan(rule.threshold)}元",
    )


def frequent_account(facts: RiskFacts, rule: RiskRule) -> Finding | None:
    """``threshold`` (default 3) or more submissions, this one included, into the account
    within ``window_days`` (default 7) of this one."""
    if facts.account_no is None:
        return None
    window = rule.window_days if rule.window_days is not None else 7
    submissions = {
        use.submission
        for use in facts.account_uses
        if use.submission != facts.submission and _near(use.applied_on, facts.applied_on, window)
    }
    count = len(submissions) + 1
    if count < (rule.threshold or 3):
        return None
    return Finding(rule.code, f"该银行账户{window}日内有{count}笔退费申请")


def shared_phone(facts: RiskFacts, rule: RiskRule) -> Finding | None:
    """The application's phone is behind ``threshold`` (default 2) or more accounts."""
    if facts.phone_accounts < (rule.threshold or 2):
        return None
    return Finding(rule.code, f"该联系电话关联{facts.phone_accounts}个不同银行账户")


def heir_claim(facts: RiskFacts, rule: RiskRule) -> Finding | None:
    """继承人代领: the application was filed by an heir for a deceased payer's payment."""
    if not facts.heir_claim:
        return None
    return Finding(rule.code, "继承人代领已故缴费人的退费")


RuleFunction = Callable[[RiskFacts, RiskRule], Finding | None]

_FUNCTIONS: dict[str, RuleFunction] = {
    RiskCode.SHARED_ACCOUNT: shared_account,
    RiskCode.ACCOUNT_CHANGED: account_changed,
    RiskCode.FREQUENT_ACCOUNT: frequent_account,
    RiskCode.SHARED_PHONE: shared_phone,
    RiskCode.HEIR_CLAIM: heir_claim,
}


def function_for(code: str) -> RuleFunction | None:
    if code.startswith(RiskCode.LARGE_AMOUNT_PREFIX):
        return large_amount
    return _FUNCTIONS.get(code)


def evaluate(facts: RiskFacts, rules: tuple[RiskRule, ...] | list[RiskRule]) -> list[Finding]:
    """The findings of every enabled rule, in the rules' order."""
    findings: list[Finding] = []
    for rule in rules:
        function = function_for(rule.code)
        if not rule.enabled or function is None:
            continue
        found = function(facts, rule)
        if found is not None:
            findings.append(found)
    return findings
