"""`sirefund risk-rules list|set`: the 风险提示 rules are data, seeded by the migration and
changed from the command line. Both databases."""

from __future__ import annotations

import sqlite3

from sirefund import cli
from sirefund.domain import risk as domain_risk
from sirefund.models import RiskRule
from sirefund.services import risk


def test_the_migration_seeds_every_rule_with_its_defaults(sqlite_template):
    with sqlite3.connect(sqlite_template) as conn:
        rows = conn.execute(
            "SELECT code, label, enabled, threshold, window_days FROM risk_rules"
        ).fetchall()
    seeded = {r[0]: (r[1], bool(r[2]), r[3], r[4]) for r in rows}
    assert seeded == {
        r.code: (r.label, r.enabled, r.threshold, r.window_days) for r in domain_risk.DEFAULT_RULES
    }


def test_rules_are_listed_and_changed_from_the_command_line(
    db_url, session_factory, monkeypatch, capsys
):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    assert cli.main(["risk-rules", "list"]) == 0
    out = capsys.readouterr().out
    assert "shared_account\ton\t2\t-\t多名缴费人使用同一银行账户" in out
    assert "heir_claim\ton\t-\t-\t继承人代领" in out

    assert cli.main(["risk-rules", "set", "large_amount.medical", "--threshold", "100000"]) == 0
    assert cli.main(["risk-rules", "set", "frequent_account", "--enabled", "off"]) == 0
    assert cli.main(["risk-rules", "set", "account_changed", "--window-days", "60"]) == 0
    capsys.readouterr()
    with session_factory() as s:
        assert s.get(RiskRule, "large_amount.medical").threshold == 100_000
        assert s.get(RiskRule, "frequent_account").enabled is False
        rules = {r.code: r for r in risk.rules(s)}
        assert rules["account_changed"].window_days == 60

    assert cli.main(["risk-rules", "set", "no_such_rule", "--enabled", "on"]) == 1
    assert "risk_rule.not_found" in capsys.readouterr().err
    assert cli.main(["risk-rules", "set", "shared_account", "--threshold", "-1"]) == 1
    assert "risk_rule.threshold" in capsys.readouterr().err
