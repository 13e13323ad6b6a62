"""重新申请 after a refusal (审核不通过 or 人社退回 / 核验不通过): what the refused application
said, for the apply form to start from, for every kind — a person's pension or medical
refund, a unit's batch line. The payment (or person line) is refundable again once no other
application of it is open; the applicant checks the details and submits a new one."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..domain import workflow
from ..domain.workflow import ApplicationKind
from ..domain.workflow import ApplicationStatus as S
from ..models import Application, UnitPaymentPerson
from . import applications
from .audit import Actor

#: The states after which the same payment may be applied for again, with 重新申请.
REFUSED = frozenset({S.REJECTED.value, S.AGENCY_REJECTED.value})


@dataclass(frozen=True, slots=True)
class RefusedDetails:
    """The refused application's payment and the details it was made with. ``payment_id``
    is the pension or medical payment, or the unit payment of a unit's person line."""

    application_id: int
    kind: ApplicationKind
    payment_id: str
    payment_year: int
    bank_account_type: str | None
    bank_account_no: str | None
    bank_account_name: str | None
    bank_category: str | None
    contact_name: str | None
    contact_phone: str | None
    # Medical: the registration, the deposit account and the 办税人电话 / 退费理由.
    registration_id: str | None = None
    deposit_account_id: int | None = None
    handler_phone: str | None = None
    reason_code: str | None = None
    reason_text: str | None = None
    # Unit: the person line, the month the batch was for, and the lines of the batch that
    # may be applied for again (this one and its refused, refundable neighbours).
    line_id: str | None = None
    payment_month: int | None = None
    batch_line_ids: tuple[str, ...] = ()
    # False when another application of the payment is open again (nothing to re-apply for).
    reapplicable: bool = True


def _payment_key(app: Application) -> tuple[str, str | None]:
    if app.unit_line_id is not None:
        return ("line", app.unit_line_id)
    if app.medical_payment_id is not None:
        return ("medical", app.medical_payment_id)
    return ("pension", app.pension_payment_id)


def reapplicable_ids(session: Session, apps: Iterable[Application]) -> set[int]:
    """Those of ``apps`` that offer 重新申请: refused, and their payment (or person line) has
    no open application (domain.md: after a refusal it can be applied for again). Not an
    heir's (继承人代办): the payment is the deceased's, applied for again under the claim."""
    refused = [a for a in apps if a.status in REFUSED and a.heir_claim_id is None]
    if not refused:
        return set()
    pension = {a.pension_payment_id for a in refused if a.pension_payment_id}
    medical = {a.medical_payment_id for a in refused if a.medical_payment_id}
    lines = {a.unit_line_id for a in refused if a.unit_line_id}
    open_apps = session.execute(
        select(Application).where(
            Application.status.in_([s.value for s in workflow.ACTIVE]),
            or_(
                Application.pension_payment_id.in_(pension),
                Application.medical_payment_id.in_(medical),
                Application.unit_line_id.in_(lines),
            ),
        )
    ).scalars()
    taken = {_payment_key(a) for a in open_apps}
    return {a.id for a in refused if _payment_key(a) not in taken}


def refused(
    session: Session, *, owner: Actor, kind: ApplicationKind, application_id: int
) -> RefusedDetails:
    """``owner``'s own refused application of ``kind``, its payment and details; 404
    otherwise (another's, another kind, not refused, or none)."""
    app = applications.find_own(session, application_id, kind=kind, owner=owner)
    if app.status not in REFUSED or app.heir_claim_id is not None:
        raise applications.application_not_found()
    payment_id = app.pension_payment_id or app.medical_payment_id
    batch_lines: tuple[str, ...] = ()
    if app.unit_line_id is not None:
        line = session.get(UnitPaymentPerson, app.unit_line_id)
        payment_id = line.unit_payment_id if line is not None else None
        batch_lines = _batch_lines(session, app)
    if payment_id is None:
        raise applications.application_not_found()
    return RefusedDetails(
        application_id=app.id,
        kind=ApplicationKind(app.kind),
        payment_id=payment_id,
        payment_year=app.payment_year,
        bank_account_type=app.bank_account_type,
        bank_account_no=app.bank_account_no,
        bank_account_name=app.bank_account_name,
        bank_category=app.bank_category,
        contact_name=app.contact_name,
        contact_phone=app.contact_phone,
        registration_id=app.registration_id,
        deposit_account_id=app.deposit_account_id,
        handler_phone=app.handler_phone,
        reason_code=app.reason_code,
        reason_text=app.reason_text,
        line_id=app.unit_line_id,
        payment_month=app.payment_month,
        batch_line_ids=batch_lines,
        reapplicable=app.id in reapplicable_ids(session, [app]),
    )


def _batch_lines(session: Session, app: Application) -> tuple[str, ...]:
    """The person lines of ``app``'s batch (the unit's one save) that offer 重新申请."""
    batch = session.execute(
        select(Application)
        .where(Application.batch_id == app.batch_id, Application.unit_id == app.unit_id)
        .order_by(Application.id)
    ).scalars()
    siblings = list(batch) if app.batch_id is not None else [app]
    again = reapplicable_ids(session, siblings)
    return tuple(a.unit_line_id for a in siblings if a.id in again and a.unit_line_id)


def refused_pension(session: Session, *, person_id: int, application_id: int) -> RefusedDetails:
    """The person's own refused pension application's payment and details; 404 otherwise."""
    return refused(
        session,
        owner=Actor.person(person_id),
        kind=ApplicationKind.PENSION,
        application_id=application_id,
    )
