"""重新申请 after a refusal (审核不通过 or 人社退回 / 核验不通过): what the refused application
said, for the apply form to start from. The payment is refundable again (a refused
application is no longer active); the applicant checks the details and submits a new one."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..domain.workflow import ApplicationKind
from ..domain.workflow import ApplicationStatus as S
from . import applications
from .audit import Actor

#: The states after which the same payment may be applied for again.
REFUSED = frozenset({S.REJECTED.value, S.AGENCY_REJECTED.value})


@dataclass(frozen=True, slots=True)
class RefusedDetails:
    application_id: int
    payment_id: str
    bank_account_type: str | None
    bank_account_no: str | None
    bank_account_name: str | None
    bank_category: str | None
    contact_name: str | None
    contact_phone: str | None


def refused_pension(session: Session, *, person_id: int, application_id: int) -> RefusedDetails:
    """The person's own refused pension application's payment and details; 404 otherwise
    (another's, not refused, or none)."""
    app = applications.find_own(
        session, application_id, kind=ApplicationKind.PENSION, owner=Actor.person(person_id)
    )
    if app.status not in REFUSED or app.pension_payment_id is None:
        raise applications.application_not_found()
    return RefusedDetails(
        application_id=app.id,
        payment_id=app.pension_payment_id,
        bank_account_type=app.bank_account_type,
        bank_account_no=app.bank_account_no,
        bank_account_name=app.bank_account_name,
        bank_category=app.bank_category,
        contact_name=app.contact_name,
        contact_phone=app.contact_phone,
    )
