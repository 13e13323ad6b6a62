"""The one way an application is created or moves state, with its audit row.

Every transition is a conditional UPDATE on (id, status, version): two officers deciding the
same application at once, or a duplicate agency callback, cannot both win — the loser sees
zero rows updated and gets a Conflict (or, for agency results, a no-op).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from itertools import groupby
from typing import Any, TypeVarTuple, cast

from sqlalchemy import CursorResult, Select, Table, Update, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..domain import workflow
from ..domain.audit import AuditAction
from ..domain.errors import Conflict, DomainError, NotFound
from ..domain.workflow import ApplicationKind
from ..domain.workflow import ApplicationStatus as S
from ..models import Application, ApplicationEvent
from . import audit, document_numbers, notifications, risk, views

#: Who or what causes a change (defined with the audit log, which records it too).
Actor = audit.Actor


ALREADY_APPLIED_CODE = "application.already_applied"
ALREADY_APPLIED_MESSAGE = "该缴费已申请退费，请勿重复申请"


def already_applied(field: str | None = "payment_ids") -> Conflict:
    """A fresh error each time: a shared exception object would accumulate tracebacks."""
    return Conflict(ALREADY_APPLIED_CODE, ALREADY_APPLIED_MESSAGE, field)


def record_event(
    session: Session,
    *,
    application_id: int,
    actor: Actor,
    from_status: str | None,
    to_status: str,
    reason: str | None,
    at: datetime,
    person_id: int | None = None,
) -> None:
    """The application's own history row and, in the same transaction, the audit log's and
    the notice the applicant gets about it (services/notifications.py; its SMS is sent later
    by the worker)."""
    session.add(
        ApplicationEvent(
            application_id=application_id,
            at=at,
            actor_kind=actor.kind,
            actor_id=actor.id,
            from_status=from_status,
            to_status=to_status,
            reason=reason,
        )
    )
    audit.record(
        session,
        actor=actor,
        action=AuditAction.APPLICATION_TRANSITION,
        at=at,
        subject=audit.Subject(application_id=application_id, person_id=person_id),
        details={"from": from_status, "to": to_status, "reason": reason},
    )
    notifications.notify_transition(
        session,
        application_id=application_id,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        at=at,
    )


def record_events(
    session: Session,
    applications: Sequence[Application],
    *,
    actor: Actor,
    from_status: str | None,
    to_status: str,
    reason: str | None,
    at: datetime,
) -> None:
    """:func:`record_event` for many applications making the same move: the same history,
    audit and notice rows, in the order given, each table written in one statement."""
    if not applications:
        return
    session.execute(
        insert(ApplicationEvent),
        [
            {
                "application_id": app.id,
                "at": at,
                "actor_kind": actor.kind,
                "actor_id": actor.id,
                "from_status": from_status,
                "to_status": to_status,
                "reason": reason,
            }
            for app in applications
        ],
    )
    details = {"from": from_status, "to": to_status, "reason": reason}
    for app in applications:
        audit.record(
            session,
            actor=actor,
            action=AuditAction.APPLICATION_TRANSITION,
            at=at,
            subject=audit.Subject(application_id=app.id, person_id=app.person_id),
            details=details,
        )
    notifications.notify_transitions(
        session, applications, from_status=from_status, to_status=to_status, reason=reason, at=at
    )


def history(
    session: Session, application: Application, *, audience: views.Audience = "owner"
) -> list[views.EventView]:
    """The application's audit trail, oldest first, as ``audience`` may see it; each line
    knows the application's kind, so it reads its states with that kind's labels."""
    events = session.execute(
        select(ApplicationEvent)
        .where(ApplicationEvent.application_id == application.id)
        .order_by(ApplicationEvent.id)
    ).scalars()
    kind = ApplicationKind(application.kind)
    return [views.event(ev, kind=kind, audience=audience) for ev in events]


def create(
    session: Session,
    *,
    application: Application,
    actor: Actor,
    at: datetime,
    reason: str | None = "提交退费申请",
) -> Application:
    """Insert a pending application and its first audit row.

    The partial unique indexes decide races: a second active application for the same
    payment or person line fails here with IntegrityError, reported as already_applied().
    A SAVEPOINT keeps the caller's transaction usable after that failure, and takes back the
    文书号 the application was given (services/document_numbers.py) with it.
    """
    application.status = S.PENDING_REVIEW.value
    application.created_at = at
    application.updated_at = at
    application.version = 1
    try:
        with session.begin_nested():
            application.document_no = document_numbers.next_document_no(
                session.connection(), region_code=application.region_code, at=at
            )
            session.add(application)
            session.flush()
    except IntegrityError as exc:
        if "uq_applications_active" in str(
            exc.orig
        ) or "UNIQUE constraint failed: applications" in str(exc.orig):
            raise already_applied() from None
        raise
    record_event(
        session,
        application_id=application.id,
        actor=actor,
        from_status=None,
        to_status=S.PENDING_REVIEW.value,
        reason=reason,
        at=at,
        person_id=application.person_id,
    )
    # 风险提示 are part of the submission: the officer's queue shows them from the start.
    risk.assess(session, application, at=at, new=True)
    return application


def transition(
    session: Session,
    *,
    application: Application,
    target: S,
    actor: Actor,
    at: datetime,
    reason: str | None = None,
    values: dict[str, object] | None = None,
) -> Application:
    """Move `application` to `target` if the workflow allows it and nobody moved it first.

    Raises InvalidTransition for a move the machine forbids, Conflict when another
    transaction changed the application since it was read. `values` are other columns
    set in the same UPDATE (opinion, reviewer, results...).
    """
    current = S(application.status)
    workflow.advance(current, target, application.kind)
    changes: dict[str, object] = dict(values or {})
    changes.update(status=target.value, updated_at=at, version=application.version + 1)
    # An UPDATE answers with a CursorResult (Session.execute is typed as the general Result),
    # which carries the matched row count.
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(Application)
            .where(
                Application.id == application.id,
                Application.status == current.value,
                Application.version == application.version,
            )
            .values(**changes)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        session.expire(application)
        raise Conflict("application.changed", "该申请已被他人处理，请刷新后重试")
    record_event(
        session,
        application_id=application.id,
        actor=actor,
        from_status=current.value,
        to_status=target.value,
        reason=reason,
        at=at,
        person_id=application.person_id,
    )
    if values:
        session.expire(application)
    else:
        # The row now holds exactly what the UPDATE wrote: the object is told so, rather than
        # expired and read back (a SELECT more per transition, with the row locked).
        for key, value in changes.items():
            set_committed_value(application, key, value)
    return application


def transition_many(
    session: Session,
    *,
    applications: Sequence[Application],
    target: S,
    actor: Actor,
    at: datetime,
    reason: str | None = None,
    values: dict[str, object] | None = None,
) -> None:
    """:func:`transition` for many applications (批量审核), set-based: one conditional UPDATE
    per row sent as one batch (executemany), then the events, audit rows and notices in bulk.

    The caller has locked the rows (FOR UPDATE; SQLite holds the write lock) and checked
    each may move: the rows are updated in the order given, which is the order the
    statistics summary's triggers lock their rows in (review_decisions._lock_in_summary_order).
    Should a row have changed all the same, Conflict ``application.changed`` for the whole
    batch (the caller's transaction is then to be rolled back).
    """
    if not applications:
        return
    t = cast(Table, Application.__table__)
    for app in applications:
        workflow.advance(S(app.status), target, app.kind)
    statement = (
        update(t)
        .where(
            t.c.id == bindparam("b_id"),
            t.c.status == bindparam("b_status"),
            t.c.version == bindparam("b_version"),
        )
        .values(
            **(values or {}),
            status=target.value,
            updated_at=at,
            version=bindparam("b_next_version"),
        )
    )
    params = [
        {
            "b_id": app.id,
            "b_status": app.status,
            "b_version": app.version,
            "b_next_version": app.version + 1,
        }
        for app in applications
    ]
    if update_rows(session, statement, params) != len(params):
        raise Conflict("application.changed", "该申请已被他人处理，请刷新后重试")
    # Runs of one state at a time, so the rows keep the order given.
    for from_status, moved in groupby(applications, key=lambda app: app.status):
        record_events(
            session,
            list(moved),
            actor=actor,
            from_status=from_status,
            to_status=target.value,
            reason=reason,
            at=at,
        )
    for app in applications:
        session.expire(app)


def update_rows(session: Session, statement: Update, params: list[dict[str, Any]]) -> int:
    """Run ``statement`` once per parameter set, in order, as one executemany; the rows
    changed. (A seam: tests pause between rows to prove the order keeps batches apart.)"""
    result = cast("CursorResult[Any]", session.connection().execute(statement, params))
    return result.rowcount


def cancel_by_person(
    session: Session, *, application: Application, person_id: int, at: datetime
) -> None:
    """The person's own 撤销退费 (待审核 -> 已撤销), recorded as theirs. The caller has locked
    the application and checked, by its kind's rules, that it is theirs to cancel."""
    transition(
        session,
        application=application,
        target=S.CANCELLED,
        actor=Actor.person(person_id),
        at=at,
        reason="缴费人撤销退费申请",
    )


def application_not_found() -> NotFound:
    """A fresh error each time (see already_applied)."""
    return NotFound("application.not_found", "退费申请不存在")


def not_cancellable() -> Conflict:
    """撤销退费 of an application that is no longer 待审核 (pension and unit refunds)."""
    return Conflict("application.not_cancellable", "仅待审核或待补正的申请可以撤销")


def find(session: Session, application_id: int, *, lock: bool = False) -> Application | None:
    """The application with this id, or None.

    ``lock``: FOR UPDATE on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises writers);
    populate_existing so a row read earlier in this session is seen as committed now.
    Callers check ownership or scope themselves and answer 404 for another's application.
    """
    query = select(Application).where(Application.id == application_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.execute(query).scalar_one_or_none()


def find_own(
    session: Session,
    application_id: int,
    *,
    kind: str,
    owner: Actor,
    lock: bool = False,
) -> Application:
    """The application if it is of `kind` and `owner`'s (a person's or a unit's); 404
    otherwise, exactly like one that does not exist. ``lock`` as for :func:`find`."""
    app = find(session, application_id, lock=lock)
    if app is None or app.kind != kind or not owner.owns(app):
        raise application_not_found()
    return app


def own_case(
    session: Session,
    application_id: int,
    *,
    kind: workflow.ApplicationKind,
    owner: Actor,
    status: S,
    refusal: Callable[[], DomainError],
) -> views.ApplicationView:
    """The applicant's case as the form that changes it shows it (补正, 重新提交账户): 404
    unless ``owner``'s of ``kind``, ``refusal()`` unless it is in ``status``."""
    app = find_own(session, application_id, kind=kind.value, owner=owner)
    if app.status != status:
        raise refusal()
    return views.application(app)


Columns = TypeVarTuple("Columns")


def newest_first(query: Select[*Columns], *, year: int | None = None) -> Select[*Columns]:
    """A 退费进度 listing: `query`'s applications of 缴费年度 `year` (every year when None),
    newest first."""
    if year is not None:
        query = query.where(Application.payment_year == year)
    return query.order_by(Application.created_at.desc(), Application.id.desc())


def get(session: Session, application_id: int) -> Application:
    app = session.get(Application, application_id)
    if app is None:
        raise application_not_found()
    return app


def lock(session: Session, application_id: int) -> Application:
    """Read an application for a decision (FOR UPDATE on PostgreSQL; SQLite holds the write lock)."""
    app = session.execute(
        select(Application).where(Application.id == application_id).with_for_update()
    ).scalar_one_or_none()
    if app is None:
        raise application_not_found()
    return app
