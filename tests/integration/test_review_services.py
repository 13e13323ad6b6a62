"""The officer's use cases called directly (no HTTP): queue filters, approve / reject rules
(four eyes, scope, opinion), batch decisions, officer-initiated refunds and the audited
reveal. Each test takes a fresh database session and the fixed clock; the HTTP tests in
tests/web prove the contract on top of these."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from sirefund.domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from sirefund.domain.workflow import ApplicationKind, ApplicationStatus, Channel
from sirefund.models import (
    Application,
    ApplicationEvent,
    AuditRecord,
    Notification,
    OutboxMessage,
    SecurityEvent,
    StatsCell,
)
from sirefund.services import (
    applications,
    audit,
    officer_refunds,
    review_decisions,
    review_detail,
    review_queue,
    risk,
)
from sirefund.services.officer_refunds import InitiateRefund
from sirefund.services.review_decisions import (
    ApproveRequest,
    BatchReview,
    Decision,
    RejectRequest,
)
from sirefund.services.review_detail import RevealRequest
from sirefund.services.review_queue import QueueFilters
from tests import factories as f
from tests.web.officer_helpers import ACCOUNT, medical_app, pension_app, unit_app

TODAY = date(2026, 3, 10)
ANY = QueueFilters()


def _outbox_count(session) -> int:
    return session.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()


def _initiate(payment_id: str, **over: object) -> InitiateRefund:
    body: dict[str, object] = {
        "payment_id": payment_id,
        "reason": "缴费人重复缴费",
        "bank_account_type": "bank_card",
        "bank_account_no": ACCOUNT,
        "bank_category": "103",
        "contact_name": "邱世贵",
        "contact_phone": "13812341234",
    }
    return InitiateRefund.model_validate(body | over)


def _code(exc: pytest.ExceptionInfo[DomainError]) -> tuple[str, str | None]:
    return exc.value.code, exc.value.field


# --------------------------------------------------------------------------- queue


def test_the_queue_filters_by_kind_channel_region_and_china_dates(session, clock):
    officer = f.make_officer(session, region="420700")
    early = pension_app(session, region="420703", at=datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
    # 2026-03-03 17:00 UTC is already 2026-03-04 in China.
    late = pension_app(session, region="420704", at=datetime(2026, 3, 3, 17, 0, tzinfo=UTC))
    medical = medical_app(session, region="420703")
    pension_app(session, region="420102")  # 武汉: outside the scope

    def ids(**filters: object) -> list[int]:
        page = review_queue.queue(
            session,
            officer=officer,
            filters=QueueFilters.model_validate(filters),
            today=clock.today(),
        )
        return [item.application.id for item in page.items]

    assert ids() == [early.id, late.id, medical.id]  # the longest-waiting first
    assert ids(kind="medical", channel="mobile_app") == [medical.id]
    assert ids(region="420704") == [late.id]
    assert ids(region="420100") == []  # outside the scope intersects to nothing
    assert ids(date_from="2026-03-04", date_to="2026-03-04") == [late.id]
    assert ids(status="", kind=" ") == [early.id, late.id, medical.id]  # blank means any


@pytest.mark.parametrize(
    ("filters", "code", "field"),
    [
        ({"status": "done"}, "queue.status", "status"),
        ({"kind": "car"}, "queue.kind", "kind"),
        ({"channel": "fax"}, "queue.channel", "channel"),
        ({"region": "4207"}, "queue.region", "region"),
        ({"date_from": "2026-03-09", "date_to": "2026-03-01"}, "queue.date_range", "date_from"),
    ],
)
def test_a_bad_queue_filter_is_refused_with_its_code_and_field(filters, code, field):
    with pytest.raises(Invalid) as exc:
        QueueFilters.model_validate(filters)
    assert _code(exc) == (code, field)


def test_a_queue_item_carries_fen_enums_the_masked_id_and_the_review_clock(session, clock):
    officer = f.make_officer(session, region="420700")
    app = pension_app(session, at=datetime(2026, 3, 6, 10, 0, tzinfo=UTC))  # Friday evening
    (item,) = review_queue.queue(session, officer=officer, filters=ANY, today=clock.today()).items
    view = item.application
    assert (view.id, view.kind, view.status, view.channel, view.amount_fen) == (
        app.id,
        ApplicationKind.PENSION,
        ApplicationStatus.PENDING_REVIEW,
        Channel.WEB,
        70000,
    )
    assert (
        item.payer_id_number_masked
        == app.person.id_number[:6] + "********" + (app.person.id_number[-4:])
    )
    assert (item.clock.submitted_on, item.clock.working_days_pending) == (date(2026, 3, 6), 2)
    assert item.clock.working_days_left == 28 and not item.clock.overdue


# --------------------------------------------------------------------------- decisions


def test_approving_records_the_reviewer_and_opinion_and_queues_one_request(session, clock):
    officer = f.make_officer(session, region="420700")
    app = pension_app(session)
    view = review_decisions.approve(
        session,
        officer=officer,
        application_id=app.id,
        request=ApproveRequest(opinion=" 同意退费 "),
        at=clock.now(),
    )
    assert (view.status, view.tax_opinion) == (ApplicationStatus.APPROVED, "同意退费")
    assert app.reviewed_by_officer_id == officer.id
    assert _outbox_count(session) == 1


def test_a_decided_application_cannot_be_decided_again(session, clock):
    officer = f.make_officer(session)
    app = pension_app(session)
    review_decisions.approve(session, officer=officer, application_id=app.id, at=clock.now())
    with pytest.raises(Conflict) as exc:
        review_decisions.reject(
            session,
            officer=officer,
            application_id=app.id,
            request=RejectRequest(opinion="不符合"),
            at=clock.now(),
        )
    assert _code(exc) == ("review.not_pending", None)
    assert _outbox_count(session) == 1


@pytest.mark.parametrize("body", [{}, {"opinion": None}, {"opinion": "   "}])
def test_rejecting_needs_an_opinion(body):
    with pytest.raises(Invalid) as exc:
        RejectRequest.model_validate(body)
    assert _code(exc) == ("review.opinion_required", "opinion")


def test_rejecting_sends_nothing(session, clock):
    officer = f.make_officer(session)
    app = pension_app(session)
    view = review_decisions.reject(
        session,
        officer=officer,
        application_id=app.id,
        request=RejectRequest(opinion="资料不全"),
        at=clock.now(),
    )
    assert (view.status, view.tax_opinion) == (ApplicationStatus.REJECTED, "资料不全")
    assert _outbox_count(session) == 0


def test_an_application_outside_the_scope_is_not_found_to_decide_read_or_reveal(session, clock):
    ezhou = f.make_officer(session, region="420700")
    wuhan = pension_app(session, region="420102")
    with pytest.raises(NotFound) as exc:
        review_decisions.approve(session, officer=ezhou, application_id=wuhan.id, at=clock.now())
    assert _code(exc) == ("application.not_found", None)
    with pytest.raises(NotFound):
        review_detail.detail(session, officer=ezhou, application_id=wuhan.id, today=TODAY)
    reason = RevealRequest(field="id_number", reason="核对身份")
    with pytest.raises(NotFound):
        review_detail.reveal(
            session, officer=ezhou, application_id=wuhan.id, request=reason, at=clock.now()
        )
    assert wuhan.status == ApplicationStatus.PENDING_REVIEW


def test_an_officer_without_the_reviewer_role_cannot_decide(session, clock):
    looker = f.make_officer(session, reviewer=False)
    app = pension_app(session)
    with pytest.raises(Forbidden) as exc:
        review_decisions.approve(session, officer=looker, application_id=app.id, at=clock.now())
    assert _code(exc) == ("review.not_reviewer", None)


def test_the_initiator_of_a_refund_may_not_review_it_but_another_officer_may(session, clock):
    initiator = f.make_officer(session, initiator=True)
    second = f.make_officer(session)
    pay = f.make_pension_payment(session, f.make_person(session), arrival_status="arrived")
    view = officer_refunds.initiate_pension_refund(
        session, officer=initiator, request=_initiate(pay.payment_id), at=clock.now()
    )
    assert view.channel == Channel.OFFICER

    with pytest.raises(Forbidden) as exc:
        review_decisions.approve(session, officer=initiator, application_id=view.id, at=clock.now())
    assert _code(exc) == ("review.four_eyes", None)
    found = review_detail.detail(session, officer=initiator, application_id=view.id, today=TODAY)
    assert found.actions.four_eyes_blocked and not found.actions.can_approve

    approved = review_decisions.approve(
        session, officer=second, application_id=view.id, at=clock.now()
    )
    assert approved.status == ApplicationStatus.APPROVED


# --------------------------------------------------------------------------- batch


def test_a_batch_gives_an_outcome_per_id_and_one_failure_keeps_the_others(session, clock):
    officer = f.make_officer(session, region="420700")
    a, b = pension_app(session), pension_app(session)
    outside = pension_app(session, region="420102")
    review_decisions.approve(session, officer=officer, application_id=b.id, at=clock.now())

    batch = BatchReview(
        application_ids=[a.id, b.id, a.id, outside.id], decision=Decision.APPROVE, opinion="同意"
    )
    outcomes = review_decisions.review_many(session, officer=officer, request=batch, at=clock.now())
    assert [(o.id, o.ok, o.status, o.error_code) for o in outcomes] == [
        (a.id, True, ApplicationStatus.APPROVED, None),
        (b.id, False, ApplicationStatus.APPROVED, "review.not_pending"),
        (outside.id, False, None, "application.not_found"),
    ]
    assert _outbox_count(session) == 2


def test_two_batches_crossing_the_same_counties_in_opposite_orders_both_commit(
    session_factory, monkeypatch
):
    """The statistics summary's triggers lock a row per county and status until commit; each
    batch updates its applications in one global order, so two officers' batches never
    deadlock (on PostgreSQL one of them would be aborted). Each batch pauses after its first
    row's update until the other has updated one too (or 3 s have passed), which is where
    crossing orders would lock each other out."""
    with session_factory() as s, s.begin():
        first, second = f.make_officer(s, region="420700"), f.make_officer(s, region="420700")
        x1, y1 = pension_app(s, region="420703"), pension_app(s, region="420703")
        x2, y2 = pension_app(s, region="420704"), pension_app(s, region="420704")
        batches = {first.code: [x1.id, x2.id], second.code: [y2.id, y1.id]}
    met = threading.Barrier(2, timeout=3)
    update_rows = applications.update_rows

    def first_row_then_meet(session, statement, params):
        changed = update_rows(session, statement, params[:1])
        with contextlib.suppress(threading.BrokenBarrierError):
            met.wait()
        return changed + (update_rows(session, statement, params[1:]) if params[1:] else 0)

    monkeypatch.setattr(applications, "update_rows", first_row_then_meet)
    results: dict[str, object] = {}

    def run(officer_code: str) -> None:
        try:
            with session_factory() as s, s.begin():
                batch = BatchReview(
                    application_ids=batches[officer_code], decision=Decision.APPROVE, opinion="同意"
                )
                outcomes = review_decisions.review_many(
                    s, officer=officer_code, request=batch, at=f.AT
                )
            results[officer_code] = [(o.id, o.ok) for o in outcomes]
        except Exception as exc:  # a deadlock would land here
            results[officer_code] = exc

    threads = [threading.Thread(target=run, args=(officer,)) for officer in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert results == {
        first.code: [(x1.id, True), (x2.id, True)],
        second.code: [(y2.id, True), (y1.id, True)],  # outcomes in the order given
    }


def test_a_batch_rejection_without_an_opinion_is_refused_as_a_whole():
    with pytest.raises(Invalid) as exc:
        BatchReview.model_validate({"application_ids": [1, 2], "decision": "reject"})
    assert _code(exc) == ("review.opinion_required", "opinion")


# --------------------------------------------------------------------------- initiate


def test_initiating_needs_the_role_an_arrived_payment_in_scope_and_a_reason(session, clock):
    initiator = f.make_officer(session, region="420700", initiator=True)
    reviewer_only = f.make_officer(session, region="420700")
    here = f.make_person(session, region="420703")
    arrived = f.make_pension_payment(session, here, arrival_status="arrived")
    waiting = f.make_pension_payment(session, here, arrival_status="not_arrived")
    elsewhere = f.make_pension_payment(
        session, f.make_person(session, region="420102"), arrival_status="arrived"
    )

    def refused(officer, request: InitiateRefund) -> tuple[str, str | None]:
        with pytest.raises(DomainError) as exc:
            officer_refunds.initiate_pension_refund(
                session, officer=officer, request=request, at=clock.now()
            )
        return _code(exc)

    assert refused(reviewer_only, _initiate(arrived.payment_id)) == ("officer.not_initiator", None)
    assert refused(initiator, _initiate(elsewhere.payment_id)) == (
        "pension.payment_not_found",
        "payment_id",
    )
    assert refused(initiator, _initiate(waiting.payment_id))[0] == (
        "pension.not_arrived_self_service"
    )
    assert refused(initiator, _initiate(arrived.payment_id, reason=" ")) == (
        "initiate.reason_required",
        "reason",
    )
    officer_refunds.initiate_pension_refund(
        session, officer=initiator, request=_initiate(arrived.payment_id), at=clock.now()
    )
    assert refused(initiator, _initiate(arrived.payment_id)) == (
        "application.already_applied",
        "payment_id",
    )


def test_the_initiate_input_refuses_bad_bank_details_each_on_its_field_with_the_domain_code():
    with pytest.raises(ValidationError) as exc:
        _initiate(
            "PP1",
            bank_account_type="cash",
            bank_account_no="12",
            bank_category="",
            contact_phone="",
        )
    assert {(str(e["loc"][0]), e["type"]) for e in exc.value.errors()} == {
        ("bank_account_type", "bank_account_type.unknown"),
        ("bank_account_no", "bank_account.format"),
        ("bank_category", "bank_category.unknown"),
        ("contact_phone", "contact_phone.required"),
    }
    # Normalised like the citizen's own refund: the number without its spaces.
    assert _initiate("PP1", bank_account_no=f" {ACCOUNT[:4]} {ACCOUNT[4:]}").bank_account_no == (
        ACCOUNT
    )


def test_the_lookup_before_initiating_says_why_a_payment_cannot_be_chosen(session, clock):
    initiator = f.make_officer(session, initiator=True)
    person = f.make_person(session)
    free = f.make_pension_payment(session, person, arrival_status="arrived", year=2024)
    taken = f.make_pension_payment(session, person, arrival_status="arrived", year=2025)
    officer_refunds.initiate_pension_refund(
        session, officer=initiator, request=_initiate(taken.payment_id), at=clock.now()
    )

    found = officer_refunds.payments_to_initiate(
        session, officer=initiator, id_number=person.id_number, today=TODAY
    )
    assert found.payer.name == person.name
    assert [(c.payment.payment_id, c.can_initiate) for c in found.payments] == [
        (free.payment_id, True),
        (taken.payment_id, False),
    ]
    assert found.payments[1].blocked_reason == "该缴费已有退费申请，不能重复发起"
    only_2024 = officer_refunds.payments_to_initiate(
        session, officer=initiator, id_number=person.id_number, year=2024, today=TODAY
    )
    assert [c.payment.payment_id for c in only_2024.payments] == [free.payment_id]
    with pytest.raises(Invalid) as exc:
        officer_refunds.payments_to_initiate(session, officer=initiator, today=TODAY)
    assert _code(exc) == ("initiate.lookup_required", "payment_id")


# --------------------------------------------------------------------------- reveal


def test_a_reveal_needs_a_reason_and_records_it_without_the_value(session, clock):
    officer = f.make_officer(session, code="OFLOOK")
    app = pension_app(session)
    with pytest.raises(Invalid) as exc:
        RevealRequest.model_validate({"field": "id_number", "reason": "  "})
    assert _code(exc) == ("reveal.reason_required", "reason")

    shown = review_detail.reveal(
        session,
        officer=officer,
        application_id=app.id,
        request=RevealRequest(field="bank_account_no", reason="缴费人来电核对"),
        at=clock.now(),
    )
    assert shown.value == ACCOUNT
    (event,) = session.execute(select(SecurityEvent)).scalars()
    assert (event.kind, event.actor) == ("reveal", "officer:OFLOOK")
    assert "缴费人来电核对" in event.detail and ACCOUNT not in event.detail


def _written(session, ids: list[int]) -> dict[str, list[tuple]]:
    """What deciding ``ids`` wrote, ids (sequences) and random request ids aside: the
    applications, their history, notices, agency requests, audit rows (with the chain's
    hashes) and the statistics summary."""
    audit.flush_pending(session)
    a, e, n, o, r = Application, ApplicationEvent, Notification, OutboxMessage, AuditRecord

    def rows(*columns, where, order):
        return [
            tuple(row) for row in session.execute(select(*columns).where(where).order_by(*order))
        ]

    return {
        "applications": rows(
            a.id,
            a.status,
            a.version,
            a.updated_at,
            a.reviewed_by_officer_id,
            a.review_opinion,
            a.reviewed_at,
            where=a.id.in_(ids),
            order=[a.id],
        ),
        "events": rows(
            e.application_id,
            e.at,
            e.actor_kind,
            e.actor_id,
            e.from_status,
            e.to_status,
            e.reason,
            where=e.application_id.in_(ids) & (e.from_status.is_not(None)),
            order=[e.id],
        ),
        "notices": rows(
            n.recipient_kind,
            n.recipient_id,
            n.application_id,
            n.title,
            n.body,
            n.created_at,
            n.read_at,
            n.sms_state,
            n.sms_attempts,
            n.sms_next_at,
            n.sms_claimed_until,
            where=n.application_id.in_(ids) & (n.title != "退费申请已受理"),
            order=[n.id],
        ),
        "outbox": rows(
            o.application_id,
            o.agency,
            o.operation,
            o.payload,
            o.state,
            o.attempts,
            o.next_attempt_at,
            o.origin_request_id,
            o.created_at,
            o.updated_at,
            where=o.application_id.in_(ids),
            order=[o.id],
        ),
        "audit": rows(
            r.at,
            r.actor_kind,
            r.actor_id,
            r.action,
            r.application_id,
            r.person_id,
            r.address,
            r.details,
            r.prev_hash,
            r.row_hash,
            where=r.details.contains('"from":"pending_review"'),
            order=[r.id],
        ),
        "summary": rows(
            StatsCell.region_code,
            StatsCell.month,
            StatsCell.status,
            StatsCell.kind,
            StatsCell.channel,
            StatsCell.count,
            StatsCell.amount_fen,
            where=StatsCell.count != 0,
            order=[
                StatsCell.region_code,
                StatsCell.month,
                StatsCell.status,
                StatsCell.kind,
                StatsCell.channel,
            ],
        ),
    }


@pytest.mark.parametrize("decision", [Decision.APPROVE, Decision.REJECT])
def test_a_batch_writes_exactly_the_rows_deciding_each_application_alone_writes(
    session, clock, decision
):
    officer = f.make_officer(session, region="420000")
    apps = [
        pension_app(session, region="420704"),
        unit_app(session, region="420703"),
        medical_app(session, region="420102"),
        pension_app(session, region="420703", channel="mobile_app"),
        pension_app(session, region="420703"),
    ]
    audit.flush_pending(session)
    ids = [app.id for app in apps]
    at = clock.now()
    opinion = "同意" if decision == Decision.APPROVE else "缴费记录已到账"
    with session.begin_nested() as savepoint:
        batch = BatchReview(application_ids=ids, decision=decision, opinion=opinion)
        outcomes = review_decisions.review_many(session, officer=officer, request=batch, at=at)
        by_batch = _written(session, ids)
        savepoint.rollback()
    flagged = risk.flagged_among(session, ids)
    assert flagged  # a 风险提示 among them: left out of a batch approval, not of a rejection
    left_out = flagged if decision == Decision.APPROVE else set()
    assert [o.error_code for o in outcomes] == [
        "risk.confirm_individually" if i in left_out else None for i in ids
    ]
    assert len(by_batch["events"]) == len(by_batch["audit"]) == len(ids) - len(left_out)

    for app_id, *_ in by_batch["events"]:  # one by one, in the order the batch went
        if decision == Decision.APPROVE:
            review_decisions.approve(
                session,
                officer=officer,
                application_id=app_id,
                request=ApproveRequest(opinion=opinion),
                at=at,
            )
        else:
            review_decisions.reject(
                session,
                officer=officer,
                application_id=app_id,
                request=RejectRequest(opinion=opinion),
                at=at,
            )
    assert _written(session, ids) == by_batch
