"""The dispatch monitor's JSON (GET /officer/dispatches, POST .../retry): the typed read
models of services/dispatches.py turned into text once, here — instants as ISO 8601 in UTC,
states and agencies with their Chinese labels next to the codes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, PlainSerializer

from ...clock import as_utc
from ...services.dispatches import AttemptView, DispatchPage, DispatchView

Instant = Annotated[datetime, PlainSerializer(lambda v: as_utc(v).isoformat(), return_type=str)]


class AttemptOut(BaseModel):
    at: Instant
    worker: str | None
    outcome: str
    outcome_label: str
    detail: str | None

    @classmethod
    def of(cls, view: AttemptView) -> AttemptOut:
        return cls(
            at=view.at,
            worker=view.worker,
            outcome=view.outcome.value,
            outcome_label=view.outcome.label,
            detail=view.detail,
        )


class DispatchOut(BaseModel):
    id: int
    application_id: int
    agency: str
    agency_label: str
    operation: str
    request_id: str
    state: str
    state_label: str
    attempt_count: int
    next_attempt_at: Instant | None
    claimed_by: str | None
    last_error: str | None
    created_at: Instant
    updated_at: Instant
    can_retry: bool
    attempts: list[AttemptOut]

    @classmethod
    def of(cls, view: DispatchView) -> DispatchOut:
        return cls(
            id=view.id,
            application_id=view.application_id,
            agency=view.agency.value,
            agency_label=view.agency.label,
            operation=view.operation.value,
            request_id=view.request_id,
            state=view.state.value,
            state_label=view.state.label,
            attempt_count=view.attempt_count,
            next_attempt_at=view.next_attempt_at,
            claimed_by=view.claimed_by,
            last_error=view.last_error,
            created_at=view.created_at,
            updated_at=view.updated_at,
            can_retry=view.can_retry,
            attempts=[AttemptOut.of(a) for a in view.attempts],
        )


class DispatchPageOut(BaseModel):
    items: list[DispatchOut]
    total: int
    page: int
    page_size: int

    @classmethod
    def of(cls, page: DispatchPage) -> DispatchPageOut:
        return cls(
            items=[DispatchOut.of(v) for v in page.items],
            total=page.total,
            page=page.page,
            page_size=page.page_size,
        )
