"""`sirefund import`: streaming CSV loads with per-row rejects, idempotent by key, on both
databases."""

from __future__ import annotations

import csv
import os
import stat
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from sirefund import imports
from sirefund.db import Base
from sirefund.domain.errors import Invalid
from sirefund.models import (
    Application,
    MedicalPayment,
    MedicalRegistration,
    PensionPayment,
    Person,
    Unit,
    UnitPayment,
    UnitPaymentPerson,
)
from tests.factories import resident_id

TODAY = date(2026, 3, 10)
PENSION_HEADER = [
    "payment_id",
    "id_number",
    "name",
    "region_code",
    "amount",
    "period_start",
    "period_end",
    "payment_year",
    "payment_date",
    "channel",
    "arrival_status",
]
ID_A = resident_id("420703", "19580312", 11)
ID_B = resident_id("420704", "19620101", 12)
ID_C = resident_id("420102", "19700505", 13)


def _wrong_check_digit(id_number: str) -> str:
    return id_number[:17] + ("0" if id_number[17] != "0" else "1")


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_rejects(summary: imports.ImportSummary) -> list[dict[str, str]]:
    assert summary.rejected_path is not None
    with open(summary.rejected_path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def run(engine: Engine, kind: str, path: Path, **kw: Any) -> imports.ImportSummary:
    return imports.import_file(engine, kind, path, today=TODAY, **kw)


def count(session_factory: sessionmaker[Session], model: type[Base]) -> int:
    with session_factory() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()


def pension_row(
    pid: str,
    id_number: str = ID_A,
    name: str = "邱世贵",
    *,
    amount: str = "700.00",
    start: str = "2025-01-01",
    end: str = "2025-12-31",
    status: str = "not_arrived",
    region: str = "420703",
) -> list[str]:
    return [
        pid,
        id_number,
        name,
        region,
        amount,
        start,
        end,
        "2025",
        "2025-03-01",
        "楚税通",
        status,
    ]


# --------------------------------------------------------------------------- bad rows


@pytest.mark.parametrize("batch_size", [5000, 2])
def test_bad_pension_rows_are_rejected_with_line_and_reason_while_good_rows_load(
    engine, session_factory, tmp_path, batch_size
):
    path = write_csv(
        tmp_path / "pension.csv",
        PENSION_HEADER,
        [
            pension_row("PP1"),  # line 2
            pension_row("PP2", amount="1000"),  # line 3, same person
            pension_row("PP3", _wrong_check_digit(ID_B), "李伊岚"),  # line 4
            pension_row("PP4", ID_B, "李伊岚", amount="-5.00"),  # line 5
            pension_row("PP5", ID_B, "李伊岚", status="refunded"),  # line 6
            pension_row("PP6", ID_B, "李伊岚", start="2023-02-30"),  # line 7
            pension_row("PP7", ID_C, "王波", amount="12.345"),  # line 8
            pension_row("PP8", ID_C, "王波", start="2025-06-01", end="2025-01-01"),  # line 9
            pension_row("PP9", ID_C, "王波", status="arrived"),  # line 10
        ],
    )

    summary = run(engine, "pension-payments", path, batch_size=batch_size)

    assert (summary.loaded, summary.updated, summary.unchanged, summary.rejected) == (3, 0, 0, 6)
    assert summary.rejected_path == tmp_path / "pension.rejected.csv"
    rejects = read_rejects(summary)
    assert [(r["line"], r["code"]) for r in rejects] == [
        ("4", "id_number.check_digit"),
        ("5", "amount.negative"),
        ("6", "arrival_status.unknown"),
        ("7", "date.invalid"),
        ("8", "money.invalid"),
        ("9", "period.invalid"),
    ]
    assert all(r["reason"] and not r["reason"].isascii() for r in rejects), "reasons are Chinese"
    assert rejects[0]["payment_id"] == "PP3" and rejects[1]["amount"] == "-5.00"
    assert list(rejects[0]) == [*PENSION_HEADER, "line", "code", "reason"]
    assert summary.line() == (
        f"pension-payments: loaded 3, updated 0, unchanged 0, rejected 6 (see {summary.rejected_path})"
    )
    with session_factory() as s:
        loaded = s.execute(
            select(
                PensionPayment.payment_id, PensionPayment.amount_fen, PensionPayment.period_start
            ).order_by(PensionPayment.payment_id)
        ).all()
        assert loaded == [
            ("PP1", 70000, date(2025, 1, 1)),
            ("PP2", 100000, date(2025, 1, 1)),
            ("PP9", 70000, date(2025, 1, 1)),
        ]
        persons = s.execute(
            select(Person.id_number, Person.name, Person.region_code).order_by(Person.id_number)
        ).all()
        assert sorted(persons) == sorted([(ID_A, "邱世贵", "420703"), (ID_C, "王波", "420703")])


def test_a_row_naming_a_known_id_number_with_another_name_is_rejected(
    engine, session_factory, tmp_path
):
    run(
        engine,
        "pension-payments",
        write_csv(tmp_path / "p.csv", PENSION_HEADER, [pension_row("PP1")]),
    )
    path = write_csv(
        tmp_path / "p2.csv",
        PENSION_HEADER,
        [
            pension_row("PP2", ID_A, "邱世贵"),
            pension_row("PP3", ID_A, "邱仕贵"),
            pension_row("PP4", ID_B, "李伊岚"),
            pension_row("PP5", ID_B, "李依岚"),  # a new person: the first row of the file decides
        ],
    )

    summary = run(engine, "pension-payments", path)

    assert (summary.loaded, summary.rejected) == (2, 2)
    assert [(r["line"], r["code"]) for r in read_rejects(summary)] == [
        ("3", "person.name_mismatch"),
        ("5", "person.name_mismatch"),
    ]
    assert count(session_factory, Person) == 2


def test_rows_with_too_few_fields_or_blank_keys_are_rejected(engine, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        ",".join(PENSION_HEADER)
        + "\n"
        + ",".join(pension_row("PP1"))
        + "\n"
        + "PP2,only,three\n"
        + "\n"
        + ",".join(pension_row(""))
        + "\n",
        encoding="utf-8",
    )

    summary = run(engine, "pension-payments", path)

    assert (summary.loaded, summary.rejected) == (1, 2)
    assert [(r["line"], r["code"]) for r in read_rejects(summary)] == [
        ("3", "import.columns"),
        ("5", "import.required"),
    ]


# --------------------------------------------------------------------------- re-import


def test_importing_the_same_file_twice_changes_nothing(engine, session_factory, tmp_path):
    path = write_csv(
        tmp_path / "pension.csv",
        PENSION_HEADER,
        [
            pension_row("PP1"),
            pension_row("PP2", ID_B, "李伊岚"),
            pension_row("PP3", ID_B, "李伊岚"),
            pension_row("PPX", _wrong_check_digit(ID_C), "王波"),
        ],
    )
    first = run(engine, "pension-payments", path)
    assert (first.loaded, first.rejected) == (3, 1)

    second = run(engine, "pension-payments", path)

    assert (second.loaded, second.updated, second.unchanged, second.rejected) == (0, 0, 3, 1)
    assert count(session_factory, PensionPayment) == 3
    assert count(session_factory, Person) == 2


def test_a_clean_rerun_removes_the_rejected_file_of_an_earlier_run(engine, tmp_path):
    bad = write_csv(tmp_path / "p.csv", PENSION_HEADER, [pension_row("PP1", status="x")])
    assert run(engine, "pension-payments", bad).rejected_path.exists()
    good = write_csv(tmp_path / "p.csv", PENSION_HEADER, [pension_row("PP1")])

    summary = run(engine, "pension-payments", good)

    assert summary.rejected == 0 and summary.rejected_path is None
    assert not (tmp_path / "p.rejected.csv").exists()
    assert "see" not in summary.line()


def test_the_rejected_file_is_readable_by_its_owner_only_even_when_an_old_one_was_not(
    engine, tmp_path
):
    stale = tmp_path / "p.rejected.csv"
    stale.write_text("old\n")
    stale.chmod(0o644)
    bad = write_csv(tmp_path / "p.csv", PENSION_HEADER, [pension_row("PP1", status="x")])

    summary = run(engine, "pension-payments", bad)

    assert summary.rejected_path == stale
    assert stat.S_IMODE(os.stat(stale).st_mode) == 0o600
    assert [r["code"] for r in read_rejects(summary)] == ["arrival_status.unknown"]


def test_a_new_arrival_status_updates_the_payment(engine, session_factory, tmp_path):
    run(
        engine,
        "pension-payments",
        write_csv(tmp_path / "a.csv", PENSION_HEADER, [pension_row("PP1"), pension_row("PP2")]),
    )

    summary = run(
        engine,
        "pension-payments",
        write_csv(
            tmp_path / "b.csv",
            PENSION_HEADER,
            [pension_row("PP1", status="arrived"), pension_row("PP2")],
        ),
    )

    assert (summary.loaded, summary.updated, summary.unchanged) == (0, 1, 1)
    with session_factory() as s:
        assert s.get(PensionPayment, "PP1").arrival_status == "arrived"


def test_a_payment_with_an_active_application_keeps_its_amount_but_takes_its_arrival(
    engine, session_factory, tmp_path
):
    run(
        engine,
        "pension-payments",
        write_csv(tmp_path / "a.csv", PENSION_HEADER, [pension_row("PP1"), pension_row("PP2")]),
    )
    at = datetime(2026, 3, 10, tzinfo=UTC)
    with session_factory() as s, s.begin():
        pay = s.get(PensionPayment, "PP1")
        s.add(
            Application(
                kind="pension",
                status="pending_review",
                channel="web",
                person_id=pay.person_id,
                region_code="420703",
                pension_payment_id="PP1",
                amount_fen=pay.amount_fen,
                payment_year=2025,
                period_start=pay.period_start,
                period_end=pay.period_end,
                created_at=at,
                updated_at=at,
            )
        )

    summary = run(
        engine,
        "pension-payments",
        write_csv(
            tmp_path / "b.csv",
            PENSION_HEADER,
            [
                pension_row("PP1", amount="800.00"),
                pension_row("PP1", status="abnormal"),  # same key again in the batch: rejected
                pension_row("PP2", amount="800.00"),  # no application: the file is the truth
            ],
        ),
    )

    assert (summary.updated, summary.rejected) == (1, 2)
    assert [(r["line"], r["code"]) for r in read_rejects(summary)] == [
        ("2", "payment.has_application"),
        ("3", "import.duplicate_key"),
    ]
    summary = run(
        engine,
        "pension-payments",
        write_csv(tmp_path / "c.csv", PENSION_HEADER, [pension_row("PP1", status="arrived")]),
    )
    assert summary.updated == 1
    with session_factory() as s:
        pp1, pp2 = s.get(PensionPayment, "PP1"), s.get(PensionPayment, "PP2")
        assert (pp1.amount_fen, pp1.arrival_status) == (70000, "arrived")
        assert pp2.amount_fen == 80000


def test_a_payment_cannot_move_to_another_person(engine, tmp_path):
    run(
        engine,
        "pension-payments",
        write_csv(tmp_path / "a.csv", PENSION_HEADER, [pension_row("PP1")]),
    )

    summary = run(
        engine,
        "pension-payments",
        write_csv(tmp_path / "b.csv", PENSION_HEADER, [pension_row("PP1", ID_B, "李伊岚")]),
    )

    assert [r["code"] for r in read_rejects(summary)] == ["import.owner_changed"]


def test_values_with_tabs_and_backslashes_are_stored_as_written(engine, session_factory, tmp_path):
    odd = "窗口\t3\\B栋"
    summary = run(
        engine,
        "pension-payments",
        write_csv(
            tmp_path / "p.csv", PENSION_HEADER, [[*pension_row("PP1")[:9], odd, "not_arrived"]]
        ),
    )

    assert summary.loaded == 1
    with session_factory() as s:
        assert s.get(PensionPayment, "PP1").channel == odd


# --------------------------------------------------------------------------- the header


def test_columns_in_any_order_and_extra_columns_load(engine, session_factory, tmp_path):
    header = ["备注", *reversed(PENSION_HEADER), "extra"]
    rows = [["x", *reversed(pension_row("PP1")), "y"], ["z", *reversed(pension_row("PP2")), ""]]
    path = tmp_path / "p.csv"
    # A spreadsheet's byte-order mark and padded cells are tolerated too.
    with open(path, "w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows([[f" {cell} " if cell else cell for cell in row] for row in rows])

    summary = run(engine, "pension-payments", path)

    assert (summary.loaded, summary.rejected) == (2, 0)
    with session_factory() as s:
        assert s.get(PensionPayment, "PP1").channel == "楚税通"


def test_a_missing_required_column_fails_the_whole_file(engine, session_factory, tmp_path):
    header = [c for c in PENSION_HEADER if c not in ("amount", "channel")]
    path = write_csv(tmp_path / "p.csv", header, [pension_row("PP1")[: len(header)]])

    with pytest.raises(Invalid) as failure:
        run(engine, "pension-payments", path)

    assert failure.value.code == "import.missing_columns"
    assert "amount" in failure.value.message and "channel" in failure.value.message
    assert count(session_factory, PensionPayment) == 0
    assert not (tmp_path / "p.rejected.csv").exists()


def test_an_empty_file_fails(engine, tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(Invalid) as failure:
        run(engine, "pension-payments", path)
    assert failure.value.code == "import.empty"


# --------------------------------------------------------------------------- medical


REG_HEADER = [
    "registration_id",
    "id_number",
    "name",
    "region_code",
    "agency_code",
    "agency_name",
    "ss_code",
]
MED_HEADER = [
    "payment_id",
    "registration_id",
    "ticket_no",
    "item_name",
    "medical_amount",
    "ltc_amount",
    "period_start",
    "period_end",
    "payment_date",
    "channel",
]


def med_row(
    pid: str,
    reg: str,
    *,
    medical: str = "380.00",
    ltc: str = "20.00",
    start: str = "2024-01-01",
    end: str = "2024-12-31",
) -> list[str]:
    return [
        pid,
        reg,
        f"T{pid}",
        "城乡居民基本医疗保险费",
        medical,
        ltc,
        start,
        end,
        "2023-10-08",
        "楚税通",
    ]


def test_medical_payments_need_their_registration_and_get_their_insurance_year(
    engine, session_factory, tmp_path
):
    regs = run(
        engine,
        "medical-registrations",
        write_csv(
            tmp_path / "r.csv",
            REG_HEADER,
            [
                ["MR1", ID_A, "邱世贵", "420703", "H420703", "华容区医疗保障局(城乡医疗)", "S1"],
            ],
        ),
    )
    assert regs.loaded == 1

    summary = run(
        engine,
        "medical-payments",
        write_csv(
            tmp_path / "m.csv",
            MED_HEADER,
            [
                med_row("MP1", "MR1"),
                med_row("MP2", "MR9"),
                med_row("MP3", "MR1", ltc="", start="2025-09-01", end="2026-08-31"),
                med_row("MP4", "MR1", medical="0"),
                med_row("MP5", "MR1", ltc="-1"),
            ],
        ),
    )

    assert (summary.loaded, summary.rejected) == (2, 3)
    assert [(r["line"], r["code"]) for r in read_rejects(summary)] == [
        ("3", "medical_payment.unknown_registration"),
        ("5", "amount.not_positive"),
        ("6", "amount.negative"),
    ]
    with session_factory() as s:
        mp1, mp3 = s.get(MedicalPayment, "MP1"), s.get(MedicalPayment, "MP3")
        assert (mp1.medical_amount_fen, mp1.ltc_amount_fen, mp1.insurance_year) == (
            38000,
            2000,
            2024,
        )
        assert (mp3.ltc_amount_fen, mp3.insurance_year) == (0, 2026)


def test_a_registration_naming_a_pension_payer_with_another_name_is_rejected(
    engine, session_factory, tmp_path
):
    run(
        engine,
        "pension-payments",
        write_csv(tmp_path / "p.csv", PENSION_HEADER, [pension_row("PP1")]),
    )

    summary = run(
        engine,
        "medical-registrations",
        write_csv(
            tmp_path / "r.csv",
            REG_HEADER,
            [
                ["MR1", ID_A, "邱仕贵", "420703", "H1", "华容区医疗保障局(城乡医疗)", "S1"],
                ["MR2", ID_A, "邱世贵", "420703", "H1", "华容区医疗保障局(城乡医疗)", "S2"],
            ],
        ),
    )

    assert (summary.loaded, summary.rejected) == (1, 1)
    assert read_rejects(summary)[0]["code"] == "person.name_mismatch"
    assert count(session_factory, MedicalRegistration) == 1


# --------------------------------------------------------------------------- units


UNIT_HEADER = [
    "unit_payment_id",
    "unit_tax_id",
    "unit_name",
    "unit_ss_no",
    "region_code",
    "payment_type",
    "payment_year",
    "payment_month",
    "amount",
    "period_start",
    "period_end",
    "declaration_channel",
]
LINE_HEADER = ["unit_payment_id", "line_id", "id_number", "name", "ss_no", "amount"]
TAX_ID = "54420703MJH123456X"
VILLAGE = "华容区庙岭镇新庙村村民委员会"


def unit_row(
    upid: str, amount: str, ptype: str = "collective_subsidy", month: str = "01"
) -> list[str]:
    return [
        upid,
        TAX_ID,
        VILLAGE,
        "420703000001",
        "420703",
        ptype,
        "2025",
        month,
        amount,
        "2025-01-01",
        "2025-12-31",
        "电子税务局",
    ]


def test_unit_payment_lines_may_not_exceed_the_payment_amount(engine, session_factory, tmp_path):
    units = run(
        engine,
        "unit-payments",
        write_csv(
            tmp_path / "u.csv",
            UNIT_HEADER,
            [
                unit_row("UP1", "300.00"),
                unit_row("UP2", "100.00", ptype="special_group_proxy"),
                unit_row("UP3", "100.00", ptype="free_lunch"),
                unit_row("UP4", "100.00", month="13"),
            ],
        ),
    )
    assert (units.loaded, units.rejected) == (2, 2)
    assert [r["code"] for r in read_rejects(units)] == ["payment_type.unknown", "import.number"]

    lines = run(
        engine,
        "unit-payment-persons",
        write_csv(
            tmp_path / "l.csv",
            LINE_HEADER,
            [
                ["UP1", "UL1", ID_A, "邱世贵", "SS1", "100.00"],
                ["UP1", "UL2", ID_B, "李伊岚", "SS2", "100.00"],
                ["UP1", "UL3", ID_C, "王波", "SS3", "150.00"],  # 350 > 300
                ["UP9", "UL4", ID_C, "王波", "SS3", "50.00"],  # no such unit payment
                ["UP2", "UL5", ID_C, "王波", "SS3", "100.00"],
            ],
        ),
        batch_size=2,
    )

    assert (lines.loaded, lines.rejected) == (3, 2)
    assert [(r["line"], r["code"]) for r in read_rejects(lines)] == [
        ("4", "unit_payment.lines_exceed_amount"),
        ("5", "unit_payment_person.unknown_payment"),
    ]
    assert lines.incomplete == 1  # UP1: 200.00 of 300.00
    assert "warning: 1 unit payments are incomplete" in lines.line()
    with session_factory() as s:
        assert (
            s.execute(select(Person.region_code).where(Person.id_number == ID_C)).scalar_one()
            == "420703"
        )
        assert s.execute(select(Unit.name)).scalars().all() == [VILLAGE]

    rest = run(
        engine,
        "unit-payment-persons",
        write_csv(
            tmp_path / "l2.csv", LINE_HEADER, [["UP1", "UL3", ID_C, "王波", "SS3", "100.00"]]
        ),
    )
    assert (rest.loaded, rest.incomplete) == (1, 0)
    assert "warning" not in rest.line()

    # Now that the lines are in, the payment's amount may not drop below them.
    lower = run(
        engine,
        "unit-payments",
        write_csv(tmp_path / "u2.csv", UNIT_HEADER, [unit_row("UP1", "200.00")]),
    )
    assert [r["code"] for r in read_rejects(lower)] == ["unit_payment.amount_below_lines"]
    with session_factory() as s:
        assert s.get(UnitPayment, "UP1").amount_fen == 30000
        total = s.execute(
            select(func.sum(UnitPaymentPerson.amount_fen)).where(
                UnitPaymentPerson.unit_payment_id == "UP1"
            )
        ).scalar_one()
        assert total == 30000


def test_a_unit_payment_naming_a_known_tax_id_with_another_name_is_rejected(engine, tmp_path):
    run(
        engine,
        "unit-payments",
        write_csv(tmp_path / "u.csv", UNIT_HEADER, [unit_row("UP1", "100")]),
    )
    other = unit_row("UP2", "100")
    other[2] = "另一个村民委员会"

    summary = run(engine, "unit-payments", write_csv(tmp_path / "u2.csv", UNIT_HEADER, [other]))

    assert [r["code"] for r in read_rejects(summary)] == ["unit.name_mismatch"]


UNITS_HEADER = [
    "unit_tax_id",
    "unit_name",
    "region_code",
    "handler_id_number",
    "handler_name",
    "handler_phone",
]
HANDLER_ID = resident_id("420703", "19850715", 21)


def test_the_units_file_gives_each_known_unit_its_handler_on_record(
    engine, session_factory, tmp_path
):
    run(
        engine,
        "unit-payments",
        write_csv(tmp_path / "u.csv", UNIT_HEADER, [unit_row("UP1", "100")]),
    )
    rows = [
        [TAX_ID.lower(), VILLAGE, "420703", HANDLER_ID, "刘桂芳", "139 7200 1234"],
        ["91420700MA4KXXXX0X", "无此村", "420703", HANDLER_ID, "刘桂芳", "13972001234"],
        [TAX_ID, VILLAGE, "420703", _wrong_check_digit(HANDLER_ID), "刘桂芳", "13972001234"],
        [TAX_ID, VILLAGE, "420703", HANDLER_ID, "刘桂芳", "027-87654321"],
    ]
    summary = run(engine, "units", write_csv(tmp_path / "units.csv", UNITS_HEADER, rows))
    assert (summary.loaded, summary.updated, summary.rejected) == (0, 1, 3), summary.line()
    assert [(r["line"], r["code"]) for r in read_rejects(summary)] == [
        ("3", "unit.unknown"),
        ("4", "id_number.check_digit"),
        ("5", "handler_phone.not_mobile"),
    ]
    renamed = [TAX_ID, "另一个村民委员会", "420703", HANDLER_ID, "刘桂芳", "13972001234"]
    mismatch = run(engine, "units", write_csv(tmp_path / "u3.csv", UNITS_HEADER, [renamed]))
    assert [r["code"] for r in read_rejects(mismatch)] == ["unit.name_mismatch"]
    with session_factory() as s:
        unit = s.execute(select(Unit).where(Unit.tax_id == TAX_ID)).scalar_one()
    assert (unit.handler_id_number, unit.handler_name, unit.handler_phone) == (
        HANDLER_ID,
        "刘桂芳",
        "13972001234",
    )
    # Idempotent: the same (good) row again changes nothing.
    again = run(engine, "units", write_csv(tmp_path / "u2.csv", UNITS_HEADER, rows[:1]))
    assert (again.loaded, again.updated, again.unchanged, again.rejected) == (0, 0, 1, 0)


def test_generated_files_load_completely_in_dependency_order(engine, session_factory, tmp_path):
    from sirefund.generate import DATA_AS_OF, FILES, generate

    counts = generate(40, 7, tmp_path / "data", demo=True)
    for kind, (name, _header) in FILES.items():
        path = tmp_path / "data" / name
        summary = imports.import_file(engine, kind, path, today=DATA_AS_OF, batch_size=50)
        # The units file gives units of the unit payments their handler: updates only.
        done = summary.updated if kind == "units" else summary.loaded
        assert (done, summary.rejected) == (counts[kind], 0), summary.line()
        if kind == "unit-payment-persons":
            assert summary.incomplete == 0
        again = imports.import_file(engine, kind, path, today=DATA_AS_OF, batch_size=50)
        assert (again.loaded, again.updated, again.unchanged) == (0, 0, counts[kind])
    assert count(session_factory, PensionPayment) == counts["pension-payments"]


def test_two_importers_of_the_same_file_at_once_load_each_row_once(
    engine, session_factory, tmp_path
):
    import threading

    rows = [
        pension_row(f"PP{i:04d}", resident_id("420703", "19580312", i), f"居民{i}")
        for i in range(120)
    ]
    path = write_csv(tmp_path / "p.csv", PENSION_HEADER, rows)
    summaries: list[imports.ImportSummary] = []
    failures: list[BaseException] = []

    def load() -> None:
        try:
            summaries.append(run(engine, "pension-payments", path, batch_size=20))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=load) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    assert not failures
    assert sum(s.loaded for s in summaries) == 120
    assert all(s.loaded + s.unchanged == 120 and s.rejected == 0 for s in summaries)
    assert count(session_factory, PensionPayment) == 120
    assert count(session_factory, Person) == 120
