"""Notices (消息中心) and their SMS.

`notify_transition` is called by services/applications.py where every transition is
recorded, in the same transaction: the notice exists exactly when the change does. Likewise
`notify_heir_claim` by services/heir_claims.py when the death registry verifies or refuses a
继承人代办 claim: that notice points to the claim (``heir_claim_id``), not to an application. The words
come from domain/notices.py. The SMS is not sent here: the row is marked `pending` and the
worker (`send_due_sms`) sends it through the SMS gateway port afterwards, with retries, so an
unreachable gateway never blocks or rolls back a transition. The phone is read from the
person's or unit's record at send time and never stored with the notice or logged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ..clock import CHINA_TZ, as_utc
from ..domain import notices
from ..domain.calendar import STATUTORY_REVIEW_WORKING_DAYS
from ..domain.errors import NotFound
from ..domain.workflow import ApplicationKind
from ..models import Application, HeirClaim, Notification, Person, Unit
from . import holidays

#: Tries of one SMS before it is given up (failed), and the longest wait between them.
SMS_MAX_ATTEMPTS = 5
SMS_BACKOFF_CAP_SECONDS = 600.0
SMS_LEASE_SECONDS = 60.0
#: The SMS signature the text starts with.
SMS_SIGNATURE = "【税务局】"

Recipient = tuple[str, int]


def recipient_of(app: Application) -> Recipient:
    """Who is told: the unit for its villagers' lines, else the payer."""
    if app.kind == ApplicationKind.UNIT_PENSION and app.unit_id is not None:
        return ("unit", app.unit_id)
    return ("person", app.person_id)


def _phone(session: Session, recipient: Recipient) -> str | None:
    kind, rid = recipient
    if kind == "unit":
        return session.execute(select(Unit.handler_phone).where(Unit.id == rid)).scalar()
    return session.execute(select(Person.phone).where(Person.id == rid)).scalar()


def _review_due(session: Session, submitted: datetime) -> date:
    """The last day of the statutory review (30 working days from the day of submission)."""
    cache = session.info.setdefault("notices_calendar", {})
    calendar = cache.get("calendar")
    if calendar is None:
        calendar = cache["calendar"] = holidays.working_days(session)
    start = as_utc(submitted).astimezone(CHINA_TZ).date()
    return cast(date, calendar.add(start, STATUTORY_REVIEW_WORKING_DAYS))


def notify_transition(
    session: Session,
    *,
    application_id: int,
    from_status: str | None,
    to_status: str,
    reason: str | None,
    at: datetime,
) -> Notification | None:
    """The notice for this transition (None when the applicant needs none), its SMS due now."""
    app = session.get(Application, application_id)
    if app is None:
        return None
    values = _notice_values(
        session, app, from_status=from_status, to_status=to_status, reason=reason, at=at
    )
    if values is None:
        return None
    row = Notification(**values)
    session.add(row)
    return row


def notify_transitions(
    session: Session,
    applications: Sequence[Application],
    *,
    from_status: str | None,
    to_status: str,
    reason: str | None,
    at: datetime,
) -> int:
    """:func:`notify_transition` for many applications making the same move (批量审核): the
    same rows, in the order given, in one INSERT; how many."""
    rows = [
        values
        for app in applications
        if (
            values := _notice_values(
                session, app, from_status=from_status, to_status=to_status, reason=reason, at=at
            )
        )
        is not None
    ]
    if rows:
        session.execute(insert(Notification), rows)
    return len(rows)


def _notice_values(
    session: Session,
    app: Application,
    *,
    from_status: str | None,
    to_status: str,
    reason: str | None,
    at: datetime,
) -> dict[str, Any] | None:
    due = (
        _review_due(session, app.created_at)
        if from_status is None or to_status == "pending_review"
        else None
    )
    notice = notices.for_transition(
        kind=app.kind,
        document_no=app.document_no,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        review_due=due,
    )
    if notice is None:
        return None
    return _values(recipient_of(app), notice, at=at, application_id=app.id)


def notify_heir_claim(
    session: Session, claim: HeirClaim, *, relationship_label: str, at: datetime
) -> Notification | None:
    """The heir's notice (and SMS) once the death registry verified or refused their claim;
    None while it is still pending."""
    notice = notices.for_heir_claim(
        status=claim.status,
        deceased_name=claim.deceased_name,
        relationship_label=relationship_label,
        reason=claim.confirmation_result,
    )
    if notice is None:
        return None
    row = Notification(
        **_values(("person", claim.heir_person_id), notice, at=at, heir_claim_id=claim.id)
    )
    session.add(row)
    return row


def _values(
    recipient: Recipient,
    notice: notices.Notice,
    *,
    at: datetime,
    application_id: int | None = None,
    heir_claim_id: int | None = None,
) -> dict[str, Any]:
    """A notice's columns: about one application or one heir claim."""
    return {
        "recipient_kind": recipient[0],
        "recipient_id": recipient[1],
        "application_id": application_id,
        "heir_claim_id": heir_claim_id,
        "title": notice.title[:100],
        "body": notice.body[:500],
        "created_at": at,
        # Whether there is a phone on record is decided when the worker sends: a phone
        # registered meanwhile still gets it (`none` when there is none then).
        "sms_state": "pending",
        "sms_attempts": 0,
        "sms_next_at": at,
    }


# --------------------------------------------------------------------------- the centre


@dataclass(frozen=True, slots=True)
class NotificationView:
    id: int
    created_at: datetime
    title: str
    body: str
    #: What the notice is about: an application, or (继承人代办) a heir claim.
    application_id: int | None
    heir_claim_id: int | None
    read: bool


@dataclass(frozen=True, slots=True)
class NotificationList:
    items: list[NotificationView]
    unread_count: int


def _mine(recipient: Recipient) -> Any:
    return (Notification.recipient_kind == recipient[0]) & (
        Notification.recipient_id == recipient[1]
    )


def unread_count(session: Session, recipient: Recipient) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(Notification)
            .where(_mine(recipient), Notification.read_at.is_(None))
        ).scalar_one()
    )


def list_for(
    session: Session, recipient: Recipient, *, unread: bool | None = None, limit: int = 200
) -> NotificationList:
    """The recipient's notices, newest first (`unread`: only those not read yet)."""
    query = select(Notification).where(_mine(recipient))
    if unread is True:
        query = query.where(Notification.read_at.is_(None))
    elif unread is False:
        query = query.where(Notification.read_at.is_not(None))
    rows = session.execute(
        query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    ).scalars()
    items = [_view(r) for r in rows]
    return NotificationList(items=items, unread_count=unread_count(session, recipient))


def _view(r: Notification) -> NotificationView:
    return NotificationView(
        id=r.id,
        created_at=as_utc(r.created_at),
        title=r.title,
        body=r.body,
        application_id=r.application_id,
        heir_claim_id=r.heir_claim_id,
        read=r.read_at is not None,
    )


def one(session: Session, recipient: Recipient, notification_id: int) -> NotificationView:
    """One of the recipient's notices; 404 for another's."""
    row = session.get(Notification, notification_id)
    if row is None or (row.recipient_kind, row.recipient_id) != recipient:
        raise not_found()
    return _view(row)


def application_kind(session: Session, application_id: int) -> str:
    return str(
        session.execute(
            select(Application.kind).where(Application.id == application_id)
        ).scalar_one()
    )


def not_found() -> NotFound:
    """Another's notice answers exactly like one that does not exist."""
    return NotFound("notification.not_found", "消息不存在")


def mark_read(
    session: Session, recipient: Recipient, notification_id: int, *, at: datetime
) -> None:
    """Mark one of the recipient's notices read (again: no change). 404 for another's."""
    row = session.get(Notification, notification_id)
    if row is None or (row.recipient_kind, row.recipient_id) != recipient:
        raise not_found()
    if row.read_at is None:
        row.read_at = at


def mark_all_read_for_application(
    session: Session, recipient: Recipient, application_id: int, *, at: datetime
) -> None:
    session.execute(
        update(Notification)
        .where(
            _mine(recipient),
            Notification.application_id == application_id,
            Notification.read_at.is_(None),
        )
        .values(read_at=at)
    )


# --------------------------------------------------------------------------- SMS (worker)


def _backoff(attempt: int) -> float:
    return float(min(SMS_BACKOFF_CAP_SECONDS, 2.0 * 2 ** max(0, attempt - 1)))


def sms_text(title: str, body: str) -> str:
    return f"{SMS_SIGNATURE}{title}：{body}"


def _claim(session: Session, notification_id: int, *, at: datetime) -> bool:
    """Take one due SMS for `SMS_LEASE_SECONDS` (a conditional UPDATE: of two workers only
    one wins; a worker that dies holding it loses the lease, and the SMS is tried again)."""
    result = cast(
        "CursorResult[Any]",
        session.execute(
            update(Notification)
            .where(
                Notification.id == notification_id,
                Notification.sms_state == "pending",
                or_(
                    Notification.sms_claimed_until.is_(None),
                    Notification.sms_claimed_until <= at,
                ),
            )
            .values(
                sms_claimed_until=at + timedelta(seconds=SMS_LEASE_SECONDS),
                sms_attempts=Notification.sms_attempts + 1,
            )
            .execution_options(synchronize_session=False)
        ),
    )
    return result.rowcount == 1


@dataclass(frozen=True, slots=True)
class SmsToSend:
    notification_id: int
    phone: str | None
    text: str
    attempt: int


def due_sms(session: Session, *, at: datetime, limit: int = 20) -> list[int]:
    """Notices whose SMS is due and not held by a worker, oldest first."""
    return list(
        session.execute(
            select(Notification.id)
            .where(
                Notification.sms_state == "pending",
                Notification.sms_next_at <= at,
                or_(
                    Notification.sms_claimed_until.is_(None),
                    Notification.sms_claimed_until <= at,
                ),
            )
            .order_by(Notification.sms_next_at, Notification.id)
            .limit(limit)
        ).scalars()
    )


def claim_sms(session: Session, notification_id: int, *, at: datetime) -> SmsToSend | None:
    """Take one due SMS (None when another worker has it), with the phone on record now."""
    if not _claim(session, notification_id, at=at):
        return None
    row = session.execute(
        select(Notification).where(Notification.id == notification_id)
    ).scalar_one()
    session.refresh(row)
    return SmsToSend(
        notification_id=row.id,
        phone=_phone(session, (row.recipient_kind, row.recipient_id)),
        text=sms_text(row.title, row.body),
        attempt=row.sms_attempts,
    )


def record_sms(session: Session, sms: SmsToSend, *, sent: bool, at: datetime) -> None:
    """Sent; or no phone any more (none); or retried later with backoff, given up (failed)
    after SMS_MAX_ATTEMPTS."""
    values: dict[str, object] = {"sms_claimed_until": None}
    if sent:
        values["sms_state"] = "sent"
    elif not sms.phone:
        values["sms_state"] = "none"
    elif sms.attempt >= SMS_MAX_ATTEMPTS:
        values["sms_state"] = "failed"
    else:
        values["sms_next_at"] = at + timedelta(seconds=_backoff(sms.attempt))
    session.execute(
        update(Notification).where(Notification.id == sms.notification_id).values(**values)
    )
