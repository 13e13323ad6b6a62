"""The outbox: requests to agencies written in the same transaction as the change needing
them, then claimed and sent by the worker (worker.py)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from .models import Application, OutboxMessage

# Which agency receives an approved application first.
FIRST_AGENCY = {"pension": "hrss", "unit_pension": "hrss", "medical": "medical_security"}


def enqueue(
    session: Session, *, application: Application, agency: str, operation: str,
    payload: dict, at: datetime,
) -> OutboxMessage:
    """Add a message due now. The request id is fixed here, once: every retry and every
    status query reuses it, so the agency can recognise a repeat."""
    msg = OutboxMessage(
        application_id=application.id, agency=agency, operation=operation,
        request_id=uuid.uuid4().hex, payload=payload, state="pending", attempts=0,
        next_attempt_at=at, created_at=at, updated_at=at,
    )
    session.add(msg)
    session.flush()
    return msg


def enqueue_for_approval(session: Session, *, application: Application, at: datetime) -> OutboxMessage:
    """The request an approval triggers: HRSS for pension and unit, medical security for medical."""
    agency = FIRST_AGENCY[application.kind]
    operation = "refund_request" if agency == "hrss" else "verify_request"
    return enqueue(session, application=application, agency=agency, operation=operation,
                   payload={"application_id": application.id, "kind": application.kind,
                            "amount_fen": application.amount_fen}, at=at)
