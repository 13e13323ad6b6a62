"""`sirefund generate --load`: the generated files COPYed straight into PostgreSQL (issue 12,
part 4: 10M payments in minutes), the same rows `sirefund import` would make of them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from sirefund import generate_load, imports
from sirefund.db import make_engine
from sirefund.generate import generate
from sirefund.models import MedicalPayment, MedicalRegistration, PensionPayment, Person


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_load_gives_every_generated_person_and_payment_with_amounts_in_fen(
    db_url, tmp_path: Path
):
    counts = generate(60, 7, tmp_path, pension_payments=150)
    engine = make_engine(db_url)
    loaded = generate_load.load(engine, tmp_path)
    assert {t: rows for t, (rows, _s) in loaded.items()} == {
        "persons": 60,
        "pension_payments": 150,
        "medical_registrations": counts["medical-registrations"],
        "medical_payments": counts["medical-payments"],
    }
    with (tmp_path / "pension-payments.csv").open(encoding="utf-8") as fh:
        first = next(csv.DictReader(fh))
    with engine.connect() as conn:
        pay = conn.execute(
            select(
                PensionPayment.amount_fen,
                PensionPayment.payment_date,
                Person.id_number,
                Person.region_code,
            )
            .join(Person, Person.id == PensionPayment.person_id)
            .where(PensionPayment.payment_id == first["payment_id"])
        ).one()
        medical_total = conn.scalar(
            select(func.sum(MedicalPayment.medical_amount_fen + MedicalPayment.ltc_amount_fen))
        )
        regs = conn.scalar(select(func.count()).select_from(MedicalRegistration))
    assert pay.id_number == first["id_number"]
    assert pay.region_code == first["id_number"][:6]
    assert pay.amount_fen == round(float(first["amount"]) * 100)
    assert pay.payment_date.isoformat() == first["payment_date"]
    assert regs == counts["medical-registrations"]
    with (tmp_path / "medical-payments.csv").open(encoding="utf-8") as fh:
        expected = sum(
            round(float(r["medical_amount"]) * 100) + round(float(r["ltc_amount"] or 0) * 100)
            for r in csv.DictReader(fh)
        )
    assert medical_total == expected
    engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_loaded_pension_payments_are_what_the_import_finds_unchanged(db_url, tmp_path):
    generate(20, 3, tmp_path, pension_payments=40)
    engine = make_engine(db_url)
    generate_load.load(engine, tmp_path)
    summary = imports.import_file(engine, "pension-payments", tmp_path / "pension-payments.csv")
    assert (summary.loaded, summary.unchanged) == (0, 40)
    engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_load_on_sqlite_is_refused_with_the_way_that_works(db_url, tmp_path):
    generate(10, 1, tmp_path)
    with pytest.raises(ValueError, match="sirefund import"):
        generate_load.load(make_engine(db_url), tmp_path)
