"""`sirefund holidays add|list|remove`: the officers' calendar for years the chinesecalendar
package does not know yet (2027 here), consulted before the package. Both databases."""

from __future__ import annotations

from datetime import date

from sirefund import cli
from sirefund.models import CalendarDay
from sirefund.services import holidays


def test_a_day_added_from_the_command_line_is_listed_and_counted(
    db_url, session_factory, monkeypatch, capsys
):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    first, last = holidays.package_years()
    assert last < 2027 or first > 2027, "2027 stands for a year the package does not know"

    # Spring Festival 2027: Friday 5 Feb off, Saturday 13 Feb worked (as an officer enters it).
    assert (
        cli.main(["holidays", "add", "--date", "2027-02-05", "--holiday", "--label", "春节"]) == 0
    )
    assert (
        cli.main(
            ["holidays", "add", "--date", "2027-02-13", "--workday", "--label", "春节调休上班"]
        )
        == 0
    )
    assert "2027-02-05 已设为休息日（春节）" in capsys.readouterr().out

    assert cli.main(["holidays", "list", "--year", "2027"]) == 0
    out = capsys.readouterr().out
    assert "未收录2027年" in out
    assert "2027-02-05\t休息\t春节\t节假日表" in out
    assert "2027-02-13\t上班\t春节调休上班\t节假日表" in out

    with session_factory() as s:
        cal = holidays.working_days(s)
        # Thursday 4 Feb to Monday 15 Feb: 8-12 Feb, Saturday 13, Monday 15 (not Friday 5th).
        assert cal.between(date(2027, 2, 4), date(2027, 2, 15)) == 7
        assert s.get(CalendarDay, date(2027, 2, 5)).changed_by.startswith("cli:")

    # Set again: replaced, not doubled; then removed.
    assert cli.main(["holidays", "add", "--date", "2027-02-05", "--workday", "--label", "改"]) == 0
    with session_factory() as s:
        assert holidays.working_days(s).is_working_day(date(2027, 2, 5))
    assert cli.main(["holidays", "remove", "--date", "2027-02-05"]) == 0
    assert cli.main(["holidays", "remove", "--date", "2027-02-05"]) == 1


def test_the_list_of_a_known_year_shows_the_packages_days_and_the_table_over_them(
    db_url, monkeypatch, capsys
):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    assert (
        cli.main(["holidays", "add", "--date", "2026-10-08", "--holiday", "--label", "测试"]) == 0
    )
    assert cli.main(["holidays", "list", "--year", "2026"]) == 0
    out = capsys.readouterr().out
    assert "2026-10-01\t休息\t国庆节\tchinesecalendar" in out
    assert "2026-10-10\t上班\t国庆节调休上班\tchinesecalendar" in out
    assert "2026-10-08\t休息\t测试\t节假日表" in out


def test_a_blank_or_control_character_label_is_refused(db_url, monkeypatch, capsys):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    assert cli.main(["holidays", "add", "--date", "2027-01-01", "--holiday", "--label", " "]) == 1
    assert (
        cli.main(["holidays", "add", "--date", "2027-01-01", "--holiday", "--label", "元\x1b旦"])
        == 1
    )
    assert "calendar.label" in capsys.readouterr().err
