"""文书号 (domain.md "Document numbers"): every application gets one on submission —
鄂税退〔YYYY〕RRRRRR-NNNNNN, a sequence per year of submission (China time) and payer region
from 000001 — unique in the database and never given twice, also under concurrent
submissions. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from sirefund import migrate
from sirefund.domain.errors import Conflict
from sirefund.models import Application, DocumentCounter
from sirefund.services import applications, pension, units
from sirefund.services.bank_details import EXAMPLE
from sirefund.services.pension import PensionRefundIn
from sirefund.services.units import UnitBatchIn
from tests import factories as f
from tests.integration.approvals import pending_application, unique_resident_id

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def _apply(session, person_id: int, *payment_ids: str, at: datetime = AT):
    refund = PensionRefundIn(payment_ids=list(payment_ids), **EXAMPLE)
    return pension.apply(session, person_id=person_id, refund=refund, at=at)


def _person_with_payments(session, *, region: str = "420703", count: int = 1):
    person = f.make_person(session, region=region, id_number=unique_resident_id(region))
    pays = [f.make_pension_payment(session, person) for _ in range(count)]
    return person, [p.payment_id for p in pays]


def test_numbers_run_from_000001_per_region_and_year(session):
    with session.begin():
        a, a_pays = _person_with_payments(session, count=2)
        b, b_pays = _person_with_payments(session, region="420102")
        first = _apply(session, a.id, *a_pays)
        other_region = _apply(session, b.id, *b_pays)
    assert [v.document_no for v in first] == [
        "鄂税退〔2026〕420703-000001",
        "鄂税退〔2026〕420703-000002",
    ]
    assert [v.document_no for v in other_region] == ["鄂税退〔2026〕420102-000001"]


def test_the_year_is_the_submissions_in_china_time_and_a_new_year_starts_again(session):
    new_year_eve_utc = datetime(2026, 12, 31, 15, 59, tzinfo=UTC)  # 23:59 in China
    new_year_utc = datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # 00:00 on 1 January in China
    with session.begin():
        person, pays = _person_with_payments(session, count=3)
        before = _apply(session, person.id, pays[0], at=new_year_eve_utc)
        after = _apply(session, person.id, pays[1], at=new_year_utc)
        again = _apply(session, person.id, pays[2], at=new_year_utc)
    assert before[0].document_no == "鄂税退〔2026〕420703-000001"
    assert after[0].document_no == "鄂税退〔2027〕420703-000001"
    assert again[0].document_no == "鄂税退〔2027〕420703-000002"


def test_every_kind_of_submission_is_numbered_by_the_payers_region(session):
    with session.begin():
        pension_app = pending_application(session, kind="pension", at=AT, region="420703")
        unit_app = pending_application(session, kind="unit_pension", at=AT, region="420703")
        medical_app = pending_application(session, kind="medical", at=AT, region="429004")
    assert pension_app.document_no == "鄂税退〔2026〕420703-000001"
    assert unit_app.document_no == "鄂税退〔2026〕420703-000002"
    assert medical_app.document_no == "鄂税退〔2026〕429004-000001"


def test_a_unit_batch_numbers_each_villager_in_their_own_region(session):
    with session.begin():
        unit = f.make_unit(session)
        people = [
            f.make_person(session, region=r, id_number=unique_resident_id(r))
            for r in ("420703", "420704", "420703")
        ]
        up, lines = f.make_unit_payment(session, unit, people)
        batch = UnitBatchIn(
            unit_payment_id=up.unit_payment_id,
            line_ids=[ln.line_id for ln in lines],
            payment_month=1,
            bank_account_no="6228480402564890018",
            bank_account_name=unit.name,
            bank_account_type="bank_card",
            bank_category="103",
            contact_name="村会计",
            contact_phone="13812341234",
        )
        saved = units.save_batch(session, unit_id=unit.id, batch=batch, at=AT)
    assert [a.document_no for a in saved.applications] == [
        "鄂税退〔2026〕420703-000001",
        "鄂税退〔2026〕420704-000001",
        "鄂税退〔2026〕420703-000002",
    ]


def test_a_refused_submission_takes_its_number_back_and_a_cancelled_one_keeps_it(session):
    with session.begin():
        person, pays = _person_with_payments(session, count=2)
        (first,) = _apply(session, person.id, pays[0])
        with pytest.raises(Conflict):  # already applied: nothing is created
            _apply(session, person.id, pays[0])
        (second,) = _apply(session, person.id, pays[1])
    assert first.document_no.endswith("-000001")
    assert second.document_no.endswith("-000002")
    with session.begin():
        app = applications.get(session, first.id)
        applications.cancel_by_person(session, application=app, person_id=person.id, at=AT)
        (again,) = _apply(session, person.id, pays[0])
    # The cancelled application keeps its number; the new one gets the next, never a reused one.
    assert applications.get(session, first.id).document_no.endswith("-000001")
    assert again.document_no.endswith("-000003")


def test_the_database_refuses_a_document_number_given_twice(session):
    with session.begin():
        one = pending_application(session, at=AT)
        number = one.document_no
    other = pending_application(session, at=AT)
    other.document_no = number
    with pytest.raises(IntegrityError):
        session.flush()


def test_fifty_parallel_submissions_get_fifty_distinct_numbers(session_factory):
    n = 50
    with session_factory() as s, s.begin():
        people = [_person_with_payments(s) for _ in range(n)]
        submissions = [(p.id, pays[0]) for p, pays in people]
    barrier = threading.Barrier(n)
    numbers: list[str] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def submit(person_id: int, payment_id: str) -> None:
        try:
            barrier.wait(timeout=60)
            with session_factory() as s, s.begin():
                (view,) = _apply(s, person_id, payment_id)
            with lock:
                numbers.append(view.document_no)
        except BaseException as exc:  # reported below, with the others
            with lock:
                failures.append(exc)

    threads = [threading.Thread(target=submit, args=sub) for sub in submissions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures
    assert sorted(numbers) == [f"鄂税退〔2026〕420703-{i:06d}" for i in range(1, n + 1)]
    with session_factory() as s:
        counter = s.get(DocumentCounter, (2026, "420703"))
        assert counter is not None and counter.last_sequence == n
        stored = s.execute(select(Application.document_no)).scalars().all()
    assert len(set(stored)) == n


def test_the_migration_numbers_existing_applications_in_id_order(engine, db_url):
    """Applications submitted before 文书号 existed get them in id order, per year (China
    time) and region, and new submissions continue after them."""
    config = migrate.alembic_config()
    script = ScriptDirectory.from_config(config)
    before = script.get_revision("0004_document_numbers").down_revision
    assert isinstance(before, str)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, before)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO persons (id, id_number, name, region_code) VALUES "
                "(1, :a, '邱世贵', '420703'), (2, :b, '王秀英', '420102')"
            ),
            {"a": unique_resident_id("420703"), "b": unique_resident_id("420102")},
        )
        for i in range(1, 6):
            conn.execute(
                text(
                    "INSERT INTO pension_payments (payment_id, person_id, amount_fen, "
                    "period_start, period_end, payment_year, payment_date, channel, "
                    "arrival_status) VALUES (:id, :p, 70000, '2025-01-01', '2025-12-31', 2025, "
                    "'2025-03-01', '楚税通', 'not_arrived')"
                ),
                {"id": f"PP{i}", "p": 1 if i != 3 else 2},
            )
        created = [
            "2026-03-10 09:00:00",
            "2026-12-31 17:00:00",  # 2027 in China
            "2026-03-11 09:00:00",
            "2026-03-09 09:00:00",  # earlier in time, later in id: id order decides
            "2026-12-31 15:00:00",  # still 2026 in China
        ]
        for i, at in enumerate(created, start=1):
            conn.execute(
                text(
                    "INSERT INTO applications (id, kind, status, channel, person_id, "
                    "region_code, pension_payment_id, amount_fen, payment_year, period_start, "
                    "period_end, created_at, updated_at, version) VALUES (:id, 'pension', "
                    "'cancelled', 'web', :p, :r, :pay, 70000, 2025, '2025-01-01', '2025-12-31', "
                    ":at, :at, 1)"
                ),
                {
                    "id": i,
                    "p": 1 if i != 3 else 2,
                    "r": "420703" if i != 3 else "420102",
                    "pay": f"PP{i}",
                    "at": at,
                },
            )
    migrate.upgrade(engine)
    with engine.connect() as conn:
        numbers = dict(conn.execute(text("SELECT id, document_no FROM applications")).all())
    assert numbers == {
        1: "鄂税退〔2026〕420703-000001",
        2: "鄂税退〔2027〕420703-000001",
        3: "鄂税退〔2026〕420102-000001",
        4: "鄂税退〔2026〕420703-000002",
        5: "鄂税退〔2026〕420703-000003",
    }
    if db_url.startswith("postgresql"):  # ids were given by hand: move the sequence on
        with engine.begin() as conn:
            conn.execute(text("SELECT setval('applications_id_seq', 5)"))
    from sirefund.db import make_session_factory

    with make_session_factory(engine)() as s, s.begin():
        (view,) = _apply(s, 1, "PP1", at=AT)
    assert view.document_no == "鄂税退〔2026〕420703-000004"
