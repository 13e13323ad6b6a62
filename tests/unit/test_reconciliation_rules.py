"""The comparison of a day's records with an agency's statement (domain/reconciliation.py)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sirefund.domain.agencies import Agency
from sirefund.domain.reconciliation import (
    DiscrepancyKind,
    OurRecord,
    StatementRow,
    compare,
)

AT = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
ACCOUNT = "6228480402564890018"


def ours(app_id: int, amount: int = 70000, account: str | None = ACCOUNT) -> OurRecord:
    return OurRecord(app_id, f"r{app_id}", amount, account)


def line(
    app_id: int | None, amount: int | None = 70000, account: str | None = ACCOUNT
) -> StatementRow:
    return StatementRow(f"r{app_id}", app_id, "邱世贵", account, amount, "paid", AT)


def kinds(result) -> list[tuple[str, int | None]]:  # type: ignore[no-untyped-def]
    return [(d.kind.value, d.application_id) for d in result.discrepancies]


def test_matching_lines_agree_to_the_fen_with_no_discrepancy():
    result = compare(Agency.BANK, ours=[ours(1), ours(2, 100)], theirs=[line(1), line(2, 100)])
    assert result.discrepancies == ()
    assert result.totals.agrees
    assert (result.totals.ours_amount_fen, result.totals.theirs_amount_fen) == (70100, 70100)


def test_one_fen_more_at_the_bank_is_an_amount_difference():
    result = compare(Agency.BANK, ours=[ours(1)], theirs=[line(1, 70001)])
    assert kinds(result) == [("amount_differs", 1)]
    [d] = result.discrepancies
    assert (d.ours and d.ours.amount_fen, d.theirs and d.theirs.amount_fen) == (70000, 70001)
    assert not result.totals.agrees


def test_another_account_at_the_bank_is_an_account_difference():
    result = compare(Agency.BANK, ours=[ours(1)], theirs=[line(1, account="6228480402564899999")])
    assert kinds(result) == [("account_differs", 1)]
    assert result.totals.agrees  # same count and amount: only the line comparison sees it


def test_hrss_books_no_account_so_none_is_compared():
    result = compare(Agency.HRSS, ours=[ours(1, account=None)], theirs=[line(1, account=None)])
    assert result.discrepancies == ()


def test_a_request_without_a_line_is_missing_at_the_agency():
    assert kinds(compare(Agency.HRSS, ours=[ours(1), ours(2)], theirs=[line(1)])) == [
        ("missing_at_agency", 2)
    ]


def test_a_line_for_nothing_we_asked_is_unknown_to_us_with_or_without_an_application_id():
    result = compare(Agency.BANK, ours=[], theirs=[line(9), line(None)])
    assert sorted(kinds(result), key=str) == sorted(
        [("unknown_to_us", 9), ("unknown_to_us", None)], key=str
    )
    assert (result.totals.ours_count, result.totals.theirs_count) == (0, 2)


def test_a_line_for_a_request_of_another_day_is_known_not_unknown():
    result = compare(Agency.BANK, ours=[], theirs=[line(5)], known={5: ours(5)})
    assert result.discrepancies == ()


def test_two_lines_for_one_application_are_paid_twice_whatever_their_request_ids():
    second = StatementRow("another-id", 1, "邱世贵", ACCOUNT, 70000, "paid", AT)
    result = compare(Agency.BANK, ours=[ours(1)], theirs=[line(1), second])
    assert kinds(result) == [("paid_twice", 1)]
    assert result.totals.theirs_amount_fen == 2 * result.totals.ours_amount_fen


def test_statement_lines_are_read_strictly_from_json():
    row = StatementRow.from_wire(
        {
            "request_id": "r1",
            "application_id": 1,
            "payee": "邱世贵",
            "account_no": ACCOUNT,
            "amount_fen": 70000,
            "status": "paid",
            "booked_at": AT.isoformat(),
        }
    )
    assert (row.application_id, row.amount_fen, row.booked_at) == (1, 70000, AT)
    for bad in (
        [],
        {"request_id": "r1", "status": "paid"},
        {"request_id": "r1", "status": "paid", "booked_at": AT.isoformat(), "amount_fen": "700"},
        {"request_id": "r1", "status": "paid", "booked_at": AT.isoformat(), "amount_fen": 7.5},
        {"request_id": "r1", "status": "paid", "booked_at": AT.isoformat(), "application_id": True},
    ):
        with pytest.raises(ValueError):
            StatementRow.from_wire(bad)


def test_every_kind_has_its_chinese_label():
    assert {k.label for k in DiscrepancyKind} == {
        "对方无记录",
        "我方无记录",
        "金额不符",
        "账号不符",
        "重复记账",
    }


def test_a_second_booking_on_a_later_day_under_another_request_id_is_paid_twice():
    again = StatementRow("not-our-request-id", 5, "邱世贵", ACCOUNT, 70000, "paid", AT)
    result = compare(Agency.BANK, ours=[], theirs=[again], known={5: ours(5)})
    assert kinds(result) == [("paid_twice", 5)]
