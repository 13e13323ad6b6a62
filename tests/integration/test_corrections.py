"""退回补正 in the services and the database (domain.md "Application life cycle"): a returned
application is open for the one-open-application indexes, a lapsed one is not, and the
`sirefund lapse-overdue` command lapses what the worker would. SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sirefund import cli
from sirefund.domain import workflow
from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import Application, ApplicationEvent
from sirefund.services import corrections
from tests import factories as f
from tests.web.officer_helpers import pension_app


def _returned(session) -> Application:
    app = pension_app(session)
    f.return_for_correction(session, app.id, officer=f.make_officer(session))
    session.refresh(app)
    return app


def _second(app: Application, status: str) -> Application:
    return Application(
        kind="pension",
        status=status,
        channel="web",
        person_id=app.person_id,
        region_code=app.region_code,
        pension_payment_id=app.pension_payment_id,
        amount_fen=app.amount_fen,
        payment_year=app.payment_year,
        period_start=app.period_start,
        period_end=app.period_end,
        created_at=f.AT,
        updated_at=f.AT,
    )


def test_the_database_counts_a_returned_application_as_open(session):
    app = _returned(session)
    assert app.status == S.RETURNED
    session.add(_second(app, "pending_review"))
    with pytest.raises(IntegrityError):
        session.flush()


def test_the_database_allows_a_new_application_after_a_lapsed_one(session):
    app = _returned(session)
    lapsed = corrections.lapse_overdue(session, now=f.AT.replace(month=4))
    assert lapsed.lapsed == [app.id]
    session.add(_second(app, "pending_review"))
    session.flush()


def test_lapse_overdue_command_lapses_cases_returned_over_15_days_ago(
    db_url, session_factory, monkeypatch, capsys
):
    with session_factory() as s, s.begin():
        app_id = _returned(s).id  # returned on 2026-03-10, long before today
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    assert cli.main(["lapse-overdue"]) == 0
    assert "1 条申请已失效" in capsys.readouterr().out
    with session_factory() as s:
        assert s.get(Application, app_id).status == S.LAPSED
        actors = s.execute(
            select(ApplicationEvent.actor_kind, ApplicationEvent.to_status)
            .where(ApplicationEvent.application_id == app_id)
            .order_by(ApplicationEvent.id)
        ).all()
    assert [tuple(a) for a in actors] == [
        ("person", "pending_review"),
        ("officer", "returned"),
        ("system", "lapsed"),
    ]


def test_the_workflow_lets_a_returned_case_be_corrected_cancelled_or_lapse_only():
    assert workflow.TRANSITIONS[S.RETURNED] == {S.PENDING_REVIEW, S.CANCELLED, S.LAPSED}
    assert S.LAPSED in workflow.TERMINAL
    assert workflow.is_cancellable(S.RETURNED) and workflow.is_cancellable(S.PENDING_REVIEW)
    assert not workflow.is_cancellable(S.APPROVED)
    assert workflow.is_active(S.RETURNED) and not workflow.is_active(S.LAPSED)
    assert S.REFUND_FAILED in workflow.ACTIVE  # kept from the payout-failure loop
