"""The data generator: deterministic, valid and internally consistent import files."""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from stdnum.cn import ric, uscc

from sirefund.domain import regions
from sirefund.generate import (
    DEMO_PERSON_ID_NUMBER,
    DEMO_PERSON_NAME,
    DEMO_SECOND_PERSON_ID_NUMBER,
    DEMO_SECOND_PERSON_NAME,
    DEMO_UNIT_NAME,
    DEMO_UNIT_TAX_ID,
    FILES,
    generate,
)

PERSONS = 300


def _read(out: Path, kind: str) -> list[dict[str, str]]:
    name, header = FILES[kind]
    with open(out / name, encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == header
        return list(reader)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gen")
    generate(PERSONS, 42, path, demo=True)
    return path


@pytest.fixture(scope="module")
def data(out: Path) -> dict[str, list[dict[str, str]]]:
    return {kind: _read(out, kind) for kind in FILES}


def _file_bytes(path: Path) -> dict[str, bytes]:
    return {name: (path / name).read_bytes() for name, _header in FILES.values()}


def test_writes_the_five_files_and_returns_their_counts(tmp_path: Path) -> None:
    counts = generate(60, 3, tmp_path)
    assert set(counts) == set(FILES)
    for kind, (name, _header) in FILES.items():
        assert (tmp_path / name).exists()
        assert counts[kind] == len(_read(tmp_path, kind))
    assert all(counts[kind] > 0 for kind in FILES)


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    generate(80, 7, tmp_path / "a", demo=True)
    generate(80, 7, tmp_path / "b", demo=True)
    assert _file_bytes(tmp_path / "a") == _file_bytes(tmp_path / "b")


def test_different_seed_gives_different_files(tmp_path: Path) -> None:
    generate(80, 7, tmp_path / "a")
    generate(80, 8, tmp_path / "b")
    a, b = _file_bytes(tmp_path / "a"), _file_bytes(tmp_path / "b")
    for name in a:
        assert a[name] != b[name], name


def test_every_id_number_is_valid_and_its_county_is_the_region(data) -> None:
    seen = set()
    for kind in ("pension-payments", "medical-registrations", "unit-payment-persons"):
        for row in data[kind]:
            id_number = row["id_number"]
            seen.add(id_number)
            assert len(id_number) == 18
            assert ric.calc_check_digit(id_number) == id_number[17], id_number
            assert regions.is_within(id_number[:6], "420000")
            assert id_number[:6] in regions.COUNTIES
            if "region_code" in row:
                assert row["region_code"] == id_number[:6]
    assert len(seen) > PERSONS // 2


def test_person_ids_are_distinct(tmp_path: Path) -> None:
    generate(2000, 11, tmp_path, pension_payments=2000)
    rows = _read(tmp_path, "pension-payments")
    ids = [row["id_number"] for row in rows]
    assert len(set(ids)) == len(ids) == 2000  # one payment each, so one row per person


def test_names_agree_across_files(data) -> None:
    name_of: dict[str, str] = {}
    for kind in ("pension-payments", "medical-registrations", "unit-payment-persons"):
        for row in data[kind]:
            assert name_of.setdefault(row["id_number"], row["name"]) == row["name"]
    assert all(1 < len(name) <= 3 for name in name_of.values())


def test_unit_payment_amount_is_the_sum_of_its_lines(data) -> None:
    lines = defaultdict(list)
    for row in data["unit-payment-persons"]:
        lines[row["unit_payment_id"]].append(Decimal(row["amount"]))
    assert len({row["line_id"] for row in data["unit-payment-persons"]}) == sum(
        map(len, lines.values())
    )
    for payment in data["unit-payments"]:
        members = lines[payment["unit_payment_id"]]
        assert 2 <= len(members) <= 12
        assert Decimal(payment["amount"]) == sum(members)
    assert set(lines) == {p["unit_payment_id"] for p in data["unit-payments"]}


def test_units_have_valid_distinct_tax_ids(data) -> None:
    name_of: dict[str, str] = {}
    for payment in data["unit-payments"]:
        assert uscc.is_valid(payment["unit_tax_id"])
        assert payment["unit_ss_no"].isdigit()
        assert payment["unit_name"].endswith("村村民委员会")
        assert (
            name_of.setdefault(payment["unit_tax_id"], payment["unit_name"]) == payment["unit_name"]
        )
    assert len(name_of) == PERSONS // 50


def test_every_medical_payment_has_its_registration(data) -> None:
    registrations = {row["registration_id"]: row for row in data["medical-registrations"]}
    assert len(registrations) == len(data["medical-registrations"])
    tickets = set()
    for payment in data["medical-payments"]:
        assert payment["registration_id"] in registrations
        year = int(payment["period_start"][:4])
        assert 2022 <= year <= 2027
        assert payment["period_start"] == f"{year}-01-01"
        assert payment["period_end"] == f"{year}-12-31"
        assert f"{year - 1}-09-01" <= payment["payment_date"] <= f"{year}-02-29"
        assert Decimal("320.00") <= Decimal(payment["medical_amount"]) <= Decimal("400.00")
        assert payment["ltc_amount"] == "" or Decimal(payment["ltc_amount"]) >= 0
        tickets.add(payment["ticket_no"])
    assert len(tickets) == len(data["medical-payments"])


def test_statuses_and_types_all_occur(data) -> None:
    statuses = Counter(row["arrival_status"] for row in data["pension-payments"])
    assert set(statuses) == {"arrived", "not_arrived", "abnormal"}
    types = {row["payment_type"] for row in data["unit-payments"]}
    assert types == {"collective_subsidy", "special_group_proxy", "normal"}


def test_all_unit_payment_types_occur_without_demo(tmp_path: Path) -> None:
    generate(10, 5, tmp_path)
    types = {row["payment_type"] for row in _read(tmp_path, "unit-payments")}
    assert types == {"collective_subsidy", "special_group_proxy", "normal"}


def test_money_and_dates_are_formatted(data) -> None:
    for row in data["pension-payments"]:
        whole, _, cents = row["amount"].partition(".")
        assert whole.isdigit() and len(cents) == 2
        assert Decimal("100") <= Decimal(row["amount"]) <= Decimal("5000")
        assert 2018 <= int(row["payment_year"]) <= 2026
        for field in ("period_start", "period_end", "payment_date"):
            assert len(row[field]) == 10 and row[field][4] == row[field][7] == "-"
        assert row["period_start"] <= row["period_end"]


@pytest.mark.parametrize("n", [0, 1, 57, 500])
def test_pension_payments_gives_exactly_n_rows(tmp_path: Path, n: int) -> None:
    counts = generate(40, 1, tmp_path, pension_payments=n)
    assert counts["pension-payments"] == n
    assert len(_read(tmp_path, "pension-payments")) == n


def test_pension_payments_with_demo_counts_the_demo_rows(tmp_path: Path) -> None:
    counts = generate(20, 1, tmp_path, pension_payments=100, demo=True)
    assert counts["pension-payments"] == len(_read(tmp_path, "pension-payments")) == 100


def test_demo_identities(data) -> None:
    pension = [r for r in data["pension-payments"] if r["id_number"] == DEMO_PERSON_ID_NUMBER]
    assert {r["name"] for r in pension} == {DEMO_PERSON_NAME}
    assert DEMO_PERSON_ID_NUMBER.startswith("42070319580312")
    statuses = {(r["arrival_status"], r["payment_year"]) for r in pension}
    assert ("not_arrived", "2025") in statuses
    assert {s for s, _y in statuses} == {"arrived", "not_arrived", "abnormal"}

    regs = [r for r in data["medical-registrations"] if r["id_number"] == DEMO_PERSON_ID_NUMBER]
    assert len(regs) == 1
    demo_payments = [
        p for p in data["medical-payments"] if p["registration_id"] == regs[0]["registration_id"]
    ]
    assert any(
        p["period_start"] == "2026-01-01" and p["medical_amount"] == "350.00" for p in demo_payments
    )

    second = [
        r for r in data["medical-registrations"] if r["id_number"] == DEMO_SECOND_PERSON_ID_NUMBER
    ]
    assert DEMO_SECOND_PERSON_ID_NUMBER.startswith("42010320160517")
    assert len(second) == 2 and {r["name"] for r in second} == {DEMO_SECOND_PERSON_NAME}
    assert len({r["agency_code"] for r in second}) == 2

    assert uscc.is_valid(DEMO_UNIT_TAX_ID)
    unit = [p for p in data["unit-payments"] if p["unit_tax_id"] == DEMO_UNIT_TAX_ID]
    assert {p["unit_name"] for p in unit} == {DEMO_UNIT_NAME}
    assert {p["payment_type"] for p in unit} == {
        "collective_subsidy", "special_group_proxy", "normal",
    }  # fmt: skip
    lines = Counter(r["unit_payment_id"] for r in data["unit-payment-persons"])
    for p in unit:
        if p["payment_type"] != "normal":
            assert p["payment_year"] == "2025"
            assert lines[p["unit_payment_id"]] >= 4


def test_demo_needs_enough_persons(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        generate(3, 1, tmp_path, demo=True)


def test_no_persons_writes_headers_only(tmp_path: Path) -> None:
    counts = generate(0, 1, tmp_path)
    assert counts == dict.fromkeys(FILES, 0)
    for kind in FILES:
        assert _read(tmp_path, kind) == []


# --------------------------------------------------------------------------------------------
# regions
# --------------------------------------------------------------------------------------------


def test_regions_tables() -> None:
    assert len(regions.PREFECTURES) == 17
    assert regions.division_name("420000") == "湖北省"
    assert regions.division_name("420703") == "华容区"
    assert regions.division_name("999999") is None
    wuhan = [c for c in regions.COUNTIES if c.startswith("4201")]
    assert len(wuhan) == 13
    assert {c for c in regions.COUNTIES if c.startswith("4207")} == {"420702", "420703", "420704"}
    for pref in regions.PREFECTURES:
        assert sum(regions.prefecture_of(c) == pref for c in regions.COUNTIES) >= (
            1 if pref.startswith("4290") else 3
        )


def test_regions_lookups() -> None:
    assert regions.prefecture_of("420703") == "420700"
    assert regions.prefecture_of("429004") == "429004"
    assert regions.is_within("420703", "420700")
    assert regions.is_within("420703", "420000")
    assert regions.is_within("420703", "420703")
    # No nationwide scope: a blank or all-zero scope covers nothing.
    assert not regions.is_within("110101", "")
    assert not regions.is_within("420703", "000000")
    assert not regions.is_within("420102", "420700")
    assert not regions.is_within("420702", "420703")
    assert not regions.is_within("430102", "420000")
    assert not regions.is_within("429005", "429004")
    assert regions.is_known_hubei_division("422800")
    assert not regions.is_known_hubei_division("420199")


def test_the_demo_deceased_is_known_dead_to_the_simulator_and_has_a_payment_to_claim(
    tmp_path: Path,
) -> None:
    from datetime import date

    from sirefund.agencies.simulator.realname import RealNameState
    from sirefund.generate import (
        DEMO_DECEASED,
        DEMO_DECEASED_DEATH_DATE,
        DEMO_PERSONS,
        IDENTITIES_FILE,
    )

    generate(200, 2026, tmp_path, demo=True)  # what `make demo` generates
    deceased_id, deceased_name = DEMO_PERSONS[DEMO_DECEASED]
    state = RealNameState()
    state.load_identities(tmp_path / IDENTITIES_FILE[0])
    died = date.fromisoformat(DEMO_DECEASED_DEATH_DATE)
    assert state.death_mismatch(id_number=deceased_id, name=deceased_name, death_date=died) is None
    assert (
        state.death_mismatch(
            id_number=DEMO_PERSON_ID_NUMBER, name=DEMO_PERSON_NAME, death_date=died
        )
        == "not_found"
    )
    payments = [r for r in _read(tmp_path, "pension-payments") if r["id_number"] == deceased_id]
    assert any(r["arrival_status"] in ("not_arrived", "abnormal") for r in payments)
