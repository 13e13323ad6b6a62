"""Strict import input (issue 9 part 5): money and dates read exactly or refused with a
Chinese reason, control characters kept out of names, and a fatal error part-way through a
file reported with what was committed, the same command then continuing to the full data."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from sqlalchemy import select

from sirefund import cli, imports
from sirefund.models import PensionPayment, Person, Unit
from tests.integration.test_imports import (
    ID_B,
    PENSION_HEADER,
    UNIT_HEADER,
    count,
    pension_row,
    read_rejects,
    run,
    write_csv,
)


def _rejected_codes(summary: imports.ImportSummary) -> dict[str, str]:
    return {r["payment_id"]: r["code"] for r in read_rejects(summary)}


def _paid_row(pid: str, paid: str, **kw: str) -> list[str]:
    row = pension_row(pid, **kw)
    row[8] = paid
    return row


# --------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("amount", "code"),
    [
        ("100,50", "money.grouping"),  # was loaded as 10,050.00 yuan
        ("1,000.00", "money.grouping"),
        ("７００", "money.digits"),
        ("٧٠٠", "money.digits"),
        ("-700", "amount.negative"),
        ("0", "amount.not_positive"),
        ("0.00", "amount.not_positive"),
        ("20000.01", "amount.too_large"),
        ("7e2", "money.invalid"),
    ],
)
def test_an_amount_that_is_not_plain_ascii_yuan_within_bounds_is_rejected_in_chinese(
    engine, session_factory, tmp_path, amount, code
):
    path = write_csv(
        tmp_path / "p.csv",
        PENSION_HEADER,
        [pension_row("GOOD", amount="100.50"), pension_row("BAD", amount=amount)],
    )

    summary = run(engine, "pension-payments", path)

    assert (summary.loaded, summary.rejected) == (1, 1)
    (reject,) = read_rejects(summary)
    assert (reject["payment_id"], reject["code"]) == ("BAD", code)
    assert reject["reason"] and not reject["reason"].isascii()
    with session_factory() as s:
        assert s.get(PensionPayment, "GOOD").amount_fen == 10050
        assert s.get(PensionPayment, "BAD") is None


def test_the_upper_bound_of_each_kind_is_configurable(engine, tmp_path):
    path = write_csv(
        tmp_path / "p.csv",
        PENSION_HEADER,
        [pension_row("P1", amount="500.00"), pension_row("P2", amount="500.01")],
    )
    limits = imports.ImportLimits(max_pension_fen=50000)

    summary = run(engine, "pension-payments", path, limits=limits)

    assert (summary.loaded, summary.rejected) == (1, 1)
    (reject,) = read_rejects(summary)
    assert (reject["payment_id"], reject["code"]) == ("P2", "amount.too_large")
    assert "500.00" in reject["reason"]


def test_settings_give_the_cli_its_bounds_from_the_environment(
    db_url, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    monkeypatch.setenv("SIREFUND_IMPORT_MAX_PENSION_YUAN", "600")
    path = write_csv(tmp_path / "p.csv", PENSION_HEADER, [pension_row("P1", amount="700.00")])

    assert cli.main(["import", "pension-payments", str(path)]) == 0

    assert "rejected 1" in capsys.readouterr().out
    with open(tmp_path / "p.rejected.csv", encoding="utf-8", newline="") as fh:
        assert [r["code"] for r in csv.DictReader(fh)] == ["amount.too_large"]


# --------------------------------------------------------------------------- dates


def test_dates_out_of_the_plausible_range_are_rejected(engine, session_factory, tmp_path):
    path = write_csv(
        tmp_path / "p.csv",
        PENSION_HEADER,
        [
            _paid_row("OK", "2026-03-10"),  # paid today
            _paid_row("FUTURE", "2026-03-11"),
            _paid_row("OLD", "1999-12-31"),
            pension_row("OLDPERIOD", start="1999-01-01"),
            pension_row("AHEAD", start="2028-01-01", end="2028-12-31"),
            pension_row("NEXTYEAR", start="2027-01-01", end="2027-12-31"),  # paid ahead: fine
        ],
    )

    summary = run(engine, "pension-payments", path)

    assert _rejected_codes(summary) == {
        "FUTURE": "date.in_future",
        "OLD": "date.too_early",
        "OLDPERIOD": "date.too_early",
        "AHEAD": "period.too_late",
    }
    assert summary.loaded == 2


def test_the_earliest_date_is_configurable(engine, tmp_path):
    path = write_csv(tmp_path / "p.csv", PENSION_HEADER, [pension_row("P1")])  # 2025 period

    summary = run(
        engine,
        "pension-payments",
        path,
        limits=imports.ImportLimits(earliest_date=date(2025, 6, 1)),
    )

    assert _rejected_codes(summary) == {"P1": "date.too_early"}


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("name", ["邱世\x07贵", "邱世贵\x1b[31m", "邱\x85世贵", "邱世\u2028贵"])
def test_a_person_name_with_a_control_character_is_rejected(
    engine, session_factory, tmp_path, name
):
    path = write_csv(tmp_path / "p.csv", PENSION_HEADER, [pension_row("P1", ID_B, name)])

    summary = run(engine, "pension-payments", path)

    assert _rejected_codes(summary) == {"P1": "name.control_chars"}
    assert count(session_factory, Person) == 0


def test_a_unit_name_with_a_control_character_is_rejected(engine, session_factory, tmp_path):
    row = ["UP1", "91420700MA4KXXXX1A", "鄂州\t村委会", "4207030001", "420703",
           "collective_subsidy", "2025", "3", "200.00", "2025-01-01", "2025-12-31", "单位申报"]  # fmt: skip
    summary = run(engine, "unit-payments", write_csv(tmp_path / "u.csv", UNIT_HEADER, [row]))

    assert [r["code"] for r in read_rejects(summary)] == ["name.control_chars"]
    assert count(session_factory, Unit) == 0


# --------------------------------------------------------------------------- broken files


def _good_rows(n: int) -> list[list[str]]:
    return [pension_row(f"P{i:02d}", amount=f"{100 + i}.00") for i in range(1, n + 1)]


def _lines(rows: list[list[str]]) -> list[bytes]:
    return [(",".join(r) + "\r\n").encode() for r in [PENSION_HEADER, *rows]]


def _loaded(session_factory) -> dict[str, int]:
    with session_factory() as s:
        return dict(s.execute(select(PensionPayment.payment_id, PensionPayment.amount_fen)).all())


@pytest.mark.parametrize(
    ("damage", "code"),
    [
        (lambda line: line.replace("楚税通".encode(), b"\xff\xfe"), "import.encoding"),
        (lambda line: line.replace(b"not_arrived", b"not_\x00arrived"), "import.nul"),
    ],
    ids=["not-utf8", "nul-byte"],
)
def test_a_fatal_error_mid_file_keeps_what_was_committed_and_rerunning_completes_the_load(
    engine, session_factory, tmp_path, damage, code
):
    rows = _good_rows(9)
    lines = _lines(rows)
    path = tmp_path / "p.csv"
    broken = list(lines)
    broken[7] = damage(lines[7])  # data row 7, line 8 of the file
    path.write_bytes(b"".join(broken))

    with pytest.raises(imports.ImportInterrupted) as stop:
        run(engine, "pension-payments", path, batch_size=4)

    # The six rows before line 8 are committed (the partial batch too), nothing after it.
    failure = stop.value
    assert (failure.code, failure.line) == (code, 8)
    assert failure.summary.loaded == 6
    assert "第8行" in failure.message and "6行已提交" in failure.message
    assert "再次运行同一命令" in failure.message
    assert sorted(_loaded(session_factory)) == [f"P{i:02d}" for i in range(1, 7)]

    path.write_bytes(b"".join(lines))  # the file fixed
    again = run(engine, "pension-payments", path, batch_size=4)

    assert (again.loaded, again.unchanged, again.updated, again.rejected) == (3, 6, 0, 0)
    assert _loaded(session_factory) == {f"P{i:02d}": (100 + i) * 100 for i in range(1, 10)}


def test_the_cli_reports_a_fatal_error_in_chinese_without_a_traceback_and_rerun_continues(
    db_url, session_factory, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    lines = _lines(_good_rows(5))
    path = tmp_path / "p.csv"
    path.write_bytes(b"".join([*lines[:4], b"\xc3\x28garbage\r\n", *lines[4:]]))

    assert cli.main(["import", "pension-payments", str(path)]) == 1

    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "import.encoding" in err and "第5行" in err and "3行已提交" in err
    assert "再次运行同一命令即可从中断处继续" in err
    assert len(_loaded(session_factory)) == 3

    path.write_bytes(b"".join(lines))
    assert cli.main(["import", "pension-payments", str(path)]) == 0
    assert "loaded 2, updated 0, unchanged 3, rejected 0" in capsys.readouterr().out
    assert len(_loaded(session_factory)) == 5


def test_an_unbalanced_quote_does_not_swallow_good_rows_silently(engine, session_factory, tmp_path):
    lines = _lines(_good_rows(6))
    # Row P02 opens a quote it never closes; P05's channel closes it again, four lines later.
    lines[2] = lines[2].replace("楚税通".encode(), '"楚税通'.encode())
    lines[5] = lines[5].replace("楚税通".encode(), '楚税通"'.encode())
    path = tmp_path / "p.csv"
    path.write_bytes(b"".join(lines))

    summary = run(engine, "pension-payments", path)

    (reject,) = read_rejects(summary)
    assert reject["code"] == "import.line_break"
    assert "第3至6行" in reject["reason"] and "引号未闭合" in reject["reason"]
    assert sorted(_loaded(session_factory)) == ["P01", "P06"]
    assert summary.rejected == 1


def test_a_quote_left_open_to_the_end_of_the_file_stops_with_a_clear_error(
    engine, session_factory, tmp_path
):
    lines = _lines(_good_rows(4))
    lines[3] = lines[3].replace("楚税通".encode(), '"楚税通'.encode())
    path = tmp_path / "p.csv"
    path.write_bytes(b"".join(lines))

    with pytest.raises(imports.ImportInterrupted) as stop:
        run(engine, "pension-payments", path)

    assert stop.value.code == "import.csv"
    assert stop.value.line == 4 and "引号未闭合" in stop.value.message
    assert sorted(_loaded(session_factory)) == ["P01", "P02"]


def test_text_after_a_closing_quote_is_a_clear_error_not_a_guess(engine, tmp_path):
    lines = _lines(_good_rows(3))
    lines[2] = lines[2].replace("楚税通".encode(), '"楚税"通'.encode())
    path = tmp_path / "p.csv"
    path.write_bytes(b"".join(lines))

    with pytest.raises(imports.ImportInterrupted) as stop:
        run(engine, "pension-payments", path)

    assert (stop.value.code, stop.value.line, stop.value.summary.loaded) == ("import.csv", 3, 1)
