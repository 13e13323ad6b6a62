"""风险提示 rules one by one (domain/risk.py): each a pure function of the facts and its
settings; disabled rules find nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from sirefund.domain import risk
from sirefund.domain.risk import AccountUse, EarlierAccount, RiskFacts, RiskRule
from sirefund.domain.workflow import ApplicationKind

DAY = date(2026, 11, 20)
ACCOUNT = "6228480402564890018"


def _facts(**over) -> RiskFacts:
    base = RiskFacts(
        kind=ApplicationKind.PENSION,
        amount_fen=70_000,
        applied_on=DAY,
        payee="person:1",
        submission="app:1",
        account_no=ACCOUNT,
    )
    return replace(base, **over)


def _rule(code: str, **over) -> RiskRule:
    default = next(r for r in risk.DEFAULT_RULES if r.code == code)
    return replace(default, **over)


def _use(payee: str, days_before: int = 0, submission: str | None = None) -> AccountUse:
    return AccountUse(
        payee=payee,
        applied_on=DAY - timedelta(days=days_before),
        submission=submission or f"app:{payee}:{days_before}",
    )


# --------------------------------------------------------------------------- shared account


def test_an_account_used_by_another_persons_application_is_flagged_with_how_many():
    rule = _rule(risk.RiskCode.SHARED_ACCOUNT)
    found = risk.shared_account(_facts(account_uses=(_use("person:2"), _use("person:3"))), rule)
    assert found == risk.Finding("shared_account", "该银行账户另有2名缴费人使用")


def test_the_same_persons_other_applications_on_their_account_are_not_a_shared_account():
    rule = _rule(risk.RiskCode.SHARED_ACCOUNT)
    assert (
        risk.shared_account(_facts(account_uses=(_use("person:1"), _use("person:1"))), rule) is None
    )


def test_a_unit_paying_its_villagers_refunds_into_its_account_is_one_payee():
    rule = _rule(risk.RiskCode.SHARED_ACCOUNT)
    facts = _facts(
        kind=ApplicationKind.UNIT_PENSION,
        payee="unit:4",
        account_uses=(_use("unit:4"), _use("unit:4"), _use("unit:4")),
    )
    assert risk.shared_account(facts, rule) is None


def test_the_shared_account_threshold_counts_payees_including_this_one():
    rule = _rule(risk.RiskCode.SHARED_ACCOUNT, threshold=3)
    assert risk.shared_account(_facts(account_uses=(_use("person:2"),)), rule) is None
    two_others = _facts(account_uses=(_use("person:2"), _use("person:3")))
    assert risk.shared_account(two_others, rule) is not None


def test_no_account_no_shared_account():
    rule = _rule(risk.RiskCode.SHARED_ACCOUNT)
    assert (
        risk.shared_account(_facts(account_no=None, account_uses=(_use("person:2"),)), rule) is None
    )


# --------------------------------------------------------------------------- account changed


def test_a_deposit_account_changed_within_30_days_before_applying_is_flagged():
    rule = _rule(risk.RiskCode.ACCOUNT_CHANGED)
    found = risk.account_changed(_facts(deposit_account_changed_on=DAY - timedelta(days=30)), rule)
    assert found is not None and "2026-10-21" in found.detail
    old = _facts(deposit_account_changed_on=DAY - timedelta(days=31))
    assert risk.account_changed(old, rule) is None


def test_an_earlier_application_with_another_account_within_the_window_is_flagged():
    rule = _rule(risk.RiskCode.ACCOUNT_CHANGED)
    other = EarlierAccount("6228480402564890034", DAY - timedelta(days=10))
    found = risk.account_changed(_facts(earlier_accounts=(other,)), rule)
    assert found is not None
    assert "尾号0034" in found.detail and "6228480402564890034" not in found.detail


def test_earlier_applications_with_the_same_account_or_long_ago_are_not_a_change():
    rule = _rule(risk.RiskCode.ACCOUNT_CHANGED)
    same = EarlierAccount(ACCOUNT, DAY - timedelta(days=3))
    long_ago = EarlierAccount("6228480402564890034", DAY - timedelta(days=90))
    assert risk.account_changed(_facts(earlier_accounts=(same, long_ago)), rule) is None


def test_the_change_window_is_the_rules_setting():
    rule = _rule(risk.RiskCode.ACCOUNT_CHANGED, window_days=100)
    long_ago = EarlierAccount("6228480402564890034", DAY - timedelta(days=90))
    assert risk.account_changed(_facts(earlier_accounts=(long_ago,)), rule) is not None


# --------------------------------------------------------------------------- large amount


def test_an_amount_above_the_kinds_threshold_is_flagged_in_yuan():
    rule = _rule("large_amount.pension", threshold=100_000)
    found = risk.large_amount(_facts(amount_fen=100_001), rule)
    assert found == risk.Finding("large_amount.pension", "退费金额1000.01元，超过1000.00元")
    assert risk.large_amount(_facts(amount_fen=100_000), rule) is None


def test_a_kinds_amount_rule_does_not_judge_another_kind():
    rule = _rule("large_amount.medical", threshold=1)
    assert risk.large_amount(_facts(amount_fen=999_999), rule) is None
    assert risk.large_amount(_facts(kind=ApplicationKind.MEDICAL, amount_fen=2), rule) is not None


# --------------------------------------------------------------------------- frequent account


def test_three_submissions_into_one_account_within_a_week_are_flagged():
    rule = _rule(risk.RiskCode.FREQUENT_ACCOUNT)
    uses = (_use("person:1", 2), _use("person:1", 6))
    found = risk.frequent_account(_facts(account_uses=uses), rule)
    assert found == risk.Finding("frequent_account", "该银行账户7日内有3笔退费申请")


def test_submissions_outside_the_window_are_not_counted():
    rule = _rule(risk.RiskCode.FREQUENT_ACCOUNT)
    uses = (_use("person:1", 2), _use("person:1", 8))
    assert risk.frequent_account(_facts(account_uses=uses), rule) is None


def test_one_units_batch_into_its_account_is_one_submission():
    rule = _rule(risk.RiskCode.FREQUENT_ACCOUNT)
    facts = _facts(
        payee="unit:4",
        submission="batch:9",
        account_uses=tuple(_use("unit:4", 0, "batch:9") for _ in range(20)),
    )
    assert risk.frequent_account(facts, rule) is None


# --------------------------------------------------------------------------- shared phone


def test_one_phone_behind_two_accounts_is_flagged():
    rule = _rule(risk.RiskCode.SHARED_PHONE)
    found = risk.shared_phone(_facts(phone_accounts=2), rule)
    assert found == risk.Finding("shared_phone", "该联系电话关联2个不同银行账户")
    assert risk.shared_phone(_facts(phone_accounts=1), rule) is None
    assert risk.shared_phone(_facts(phone_accounts=2), replace(rule, threshold=3)) is None


# --------------------------------------------------------------------------- heir claim


def test_the_heir_claim_rule_flags_only_an_heir_application_and_is_on_by_default():
    rule = _rule(risk.RiskCode.HEIR_CLAIM)
    assert rule.enabled is True
    assert risk.heir_claim(_facts(), rule) is None
    assert risk.heir_claim(_facts(heir_claim=True), rule) is not None
    assert [
        finding.code for finding in risk.evaluate(_facts(heir_claim=True), list(risk.DEFAULT_RULES))
    ] == [risk.RiskCode.HEIR_CLAIM]


# --------------------------------------------------------------------------- evaluate


def test_evaluate_runs_only_enabled_rules_in_their_order():
    facts = _facts(amount_fen=10_000_000, account_uses=(_use("person:2"),), phone_accounts=2)
    codes = [f.code for f in risk.evaluate(facts, list(risk.DEFAULT_RULES))]
    assert codes == ["shared_account", "large_amount.pension", "shared_phone"]
    disabled = [
        replace(r, enabled=False) if r.code == "shared_account" else r for r in risk.DEFAULT_RULES
    ]
    assert [f.code for f in risk.evaluate(facts, disabled)] == [
        "large_amount.pension",
        "shared_phone",
    ]


def test_every_default_rule_has_a_function_and_a_chinese_label():
    for rule in risk.DEFAULT_RULES:
        assert risk.function_for(rule.code) is not None, rule.code
        assert rule.label and not rule.label.isascii(), rule.code
    assert risk.function_for("no_such_rule") is None


def test_a_deposit_account_changed_after_applying_is_flagged_whatever_the_window():
    rule = _rule(risk.RiskCode.ACCOUNT_CHANGED, window_days=0)
    found = risk.account_changed(
        _facts(deposit_changed_after_applying_on=DAY + timedelta(days=40)), rule
    )
    assert found is not None and "申请后存款账户于2026-12-30变更" in found.detail
