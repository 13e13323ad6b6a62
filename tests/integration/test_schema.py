"""The migrations build exactly the schema models.py describes, and the database itself
enforces the invariants of domain.md."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from sirefund import migrate
from sirefund.db import Base
from sirefund.models import Application
from tests import factories as f


def test_migrations_produce_the_schema_of_the_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata
        )
    assert diff == [], (
        f"models.py and migrations differ; run scripts/regen-initial-migration.sh: {diff}"
    )
    assert migrate.current_revision(engine) == migrate.head_revision()


def _pension_app(person, payment, status="pending_review"):
    return Application(
        kind="pension",
        status=status,
        channel="web",
        person_id=person.id,
        region_code=person.region_code,
        pension_payment_id=payment.payment_id,
        amount_fen=payment.amount_fen,
        payment_year=payment.payment_year,
        period_start=payment.period_start,
        period_end=payment.period_end,
        created_at=f.AT,
        updated_at=f.AT,
    )


def test_database_refuses_a_second_active_application_for_one_payment(session):
    person = f.make_person(session)
    pay = f.make_pension_payment(session, person)
    session.add(_pension_app(person, pay))
    session.flush()
    session.add(_pension_app(person, pay))
    with pytest.raises(IntegrityError):
        session.flush()


def test_database_allows_a_new_application_after_a_cancelled_one(session):
    person = f.make_person(session)
    pay = f.make_pension_payment(session, person)
    session.add(_pension_app(person, pay, status="cancelled"))
    session.add(_pension_app(person, pay, status="rejected"))
    session.add(_pension_app(person, pay))
    session.flush()


def test_database_refuses_non_positive_amounts_and_unknown_statuses(session):
    person = f.make_person(session)
    pay = f.make_pension_payment(session, person)
    bad = _pension_app(person, pay)
    bad.amount_fen = 0
    session.add(bad)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()
    person = f.make_person(session)
    pay = f.make_pension_payment(session, person)
    bad = _pension_app(person, pay, status="teleported")
    session.add(bad)
    with pytest.raises(IntegrityError):
        session.flush()


def test_database_refuses_an_application_whose_payment_does_not_match_its_kind(session):
    person = f.make_person(session)
    pay = f.make_pension_payment(session, person)
    bad = _pension_app(person, pay)
    bad.kind = "medical"
    session.add(bad)
    with pytest.raises(IntegrityError):
        session.flush()


def test_audit_events_cannot_be_updated_or_deleted(session):
    person = f.make_person(session)
    pay = f.make_pension_payment(session, person)
    app = _pension_app(person, pay)
    session.add(app)
    session.flush()
    session.execute(
        text(
            "INSERT INTO application_events (application_id, at, actor_kind, to_status) "
            "VALUES (:a, CURRENT_TIMESTAMP, 'person', 'pending_review')"
        ),
        {"a": app.id},
    )
    with pytest.raises(DBAPIError), session.begin_nested():
        session.execute(text("UPDATE application_events SET to_status = 'refunded'"))
    with pytest.raises(DBAPIError), session.begin_nested():
        session.execute(text("DELETE FROM application_events"))


# --------------------------------------------------------------------------- money invariant
# Per payment, the active applications (pending, approved, at an agency, refunded) never ask
# more than was paid: a trigger on applications, on SQLite and PostgreSQL (migration 0004).


def test_database_refuses_an_application_asking_more_than_its_payment(session):
    person = f.make_person(session)
    pay = f.make_pension_payment(session, person)
    bad = _pension_app(person, pay)
    bad.amount_fen = pay.amount_fen + 1
    session.add(bad)
    with pytest.raises(IntegrityError):
        session.flush()


def test_database_allows_an_application_of_exactly_its_payment(session):
    person = f.make_person(session)
    pay = f.make_pension_payment(session, person)
    session.add(_pension_app(person, pay))
    session.flush()


def test_database_refuses_raising_a_refunded_amount_above_its_payment(session):
    person = f.make_person(session)
    pay = f.make_pension_payment(session, person)
    app = _pension_app(person, pay, status="refunded")
    session.add(app)
    session.flush()
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            text("UPDATE applications SET amount_fen = amount_fen * 2 WHERE id = :id"),
            {"id": app.id},
        )


def test_database_refuses_a_medical_refund_above_its_medical_and_care_amounts(session):
    person = f.make_person(session)
    reg = f.make_registration(session, person)
    pay = f.make_medical_payment(session, reg)
    bad = Application(
        kind="medical",
        status="pending_review",
        channel="web",
        person_id=person.id,
        region_code=person.region_code,
        medical_payment_id=pay.payment_id,
        registration_id=reg.registration_id,
        amount_fen=pay.refund_amount_fen + 1,
        payment_year=pay.insurance_year,
        period_start=pay.period_start,
        period_end=pay.period_end,
        created_at=f.AT,
        updated_at=f.AT,
    )
    session.add(bad)
    with pytest.raises(IntegrityError):
        session.flush()
