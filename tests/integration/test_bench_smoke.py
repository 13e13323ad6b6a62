"""The import/query benchmark still runs end to end (tiny size, SQLite only); its figures
are meaningful only at full size, see bench/RESULTS.md."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "import_and_query.py"
RECONCILE_BENCH = BENCH.parent / "reconcile.py"
AUDIT_BENCH = BENCH.with_name("audit_verify.py")


def _load(name, path):
    """The benchmark script at ``path`` as a module; its sibling bench/harness.py importable
    the way `python bench/X.py` finds it (bench/ appended, so it shadows nothing)."""
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_benchmark_main_prints_both_ratios_with_a_verdict(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SIREFUND_BENCH_POSTGRES_URL", raising=False)
    bench = _load("bench_import_and_query", BENCH)
    status = bench.main(
        ["--payments", "2000", "--lookups", "300", "--repeat", "1", "--workdir", str(tmp_path)]
    )

    out = capsys.readouterr().out
    assert status == 0  # without --strict the verdict is printed, not enforced
    assert re.search(r"^raw load \(executemany\): +[\d,]+ rows/s", out, re.MULTILINE)
    assert re.search(r"^import \(sirefund import\): +[\d,]+ rows/s", out, re.MULTILINE)
    assert re.search(
        r"^import speed / raw speed = \d+\.\d\d  \(target >= 0\.50\)  (PASS|FAIL)$",
        out,
        re.MULTILINE,
    )
    assert re.search(r"^lookup service: +p50 [\d.]+ ms  p99 [\d.]+ ms", out, re.MULTILINE)
    assert re.search(
        r"^service p99 / raw p99 = \d+\.\d\d  \(target <= 2\.00\)  (PASS|FAIL)$", out, re.MULTILINE
    )
    assert "pension-payments: loaded 2000, updated 0, unchanged 0, rejected 0" in out


def test_reconciliation_benchmark_prints_both_rates_the_ratio_and_agreeing_counts(tmp_path, capsys):
    bench = _load("bench_reconcile", RECONCILE_BENCH)
    status = bench.main(["--refunds", "3000", "--repeat", "1", "--workdir", str(tmp_path)])

    out = capsys.readouterr().out
    assert status == 0
    assert re.search(r"^reconcile \(service\): +[\d,]+ rows/s", out, re.MULTILINE)
    assert re.search(r"^SQL join \(baseline\): +[\d,]+ rows/s", out, re.MULTILINE)
    assert re.search(r"^reconcile time / SQL join time = \d+\.\d\d$", out, re.MULTILINE)
    # 3,000 refunds: one HRSS request missing, one bank amount altered, found by both.
    assert "discrepancies found: service 2, SQL 2 (same)" in out


def test_audit_benchmark_prints_the_rates_and_the_verdict(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("SIREFUND_BENCH_POSTGRES_URL", raising=False)
    bench = _load("bench_audit_verify", AUDIT_BENCH)
    status = bench.main(["--rows", "1500", "--repeat", "1", "--workdir", str(tmp_path)])

    out = capsys.readouterr().out
    assert status == 0
    for name in ("scan", r"scan \+ sha256", "verify"):
        assert re.search(rf"^{name}: +[\d,]+ rows/s", out, re.MULTILINE), name
    assert re.search(r"^verify / scan = \d+\.\d\d$", out, re.MULTILINE)
    assert re.search(
        r"^verify of 100,000 rows = \d+\.\d\d s  \(target <= 5\.0 s\)  (PASS|FAIL)$",
        out,
        re.MULTILINE,
    )


def test_statistics_benchmark_prints_both_times_the_ratio_and_the_verdict(tmp_path, capsys):
    bench = _load("bench_stats", BENCH.with_name("stats.py"))
    status = bench.main(["--applications", "3000", "--repeat", "1", "--workdir", str(tmp_path)])

    out = capsys.readouterr().out
    assert status == 0
    assert "== SQLite: 3,000 applications written" in out
    assert re.search(r"^SQL aggregate: +\d+\.\d{3} s", out, re.MULTILINE)
    assert "summary vs live aggregate: 0 cells differ" in out
    assert re.search(r"^stats: +\d+\.\d{3} s", out, re.MULTILINE)
    assert re.search(r"^stats, dates: +\d+\.\d{3} s", out, re.MULTILINE)
    assert re.search(r"^stats / SQL aggregate = \d+\.\d{3}$", out, re.MULTILINE)
    assert re.search(r"^stats at 1,000,000 applications ≈ .*(PASS|FAIL)$", out, re.MULTILINE)
