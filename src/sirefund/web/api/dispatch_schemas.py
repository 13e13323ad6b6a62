"""The dispatch monitor's JSON (GET /officer/dispatches, POST .../retry): the typed read
models of services/dispatches.py turned into text once, here — instants as ISO 8601 in UTC,
states, agencies and outcomes as their codes with the Chinese label next to each."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, PlainSerializer, computed_field

from ...clock import as_utc
from ...domain.agencies import Agency, Operation
from ...domain.dispatch import AttemptOutcome, DispatchState

Instant = Annotated[datetime, PlainSerializer(lambda v: as_utc(v).isoformat(), return_type=str)]


class _FromView(BaseModel):
    """Built with `model_validate(view)` from the service's dataclass."""

    model_config = ConfigDict(from_attributes=True)


class AttemptOut(_FromView):
    at: Instant
    worker: str | None
    outcome: AttemptOutcome
    detail: str | None

    @computed_field
    def outcome_label(self) -> str:
        return self.outcome.label


class DispatchOut(_FromView):
    id: int
    application_id: int
    agency: Agency
    operation: Operation
    request_id: str
    state: DispatchState
    attempt_count: int
    next_attempt_at: Instant | None
    claimed_by: str | None
    last_error: str | None
    created_at: Instant
    updated_at: Instant
    can_retry: bool
    attempts: list[AttemptOut]

    @computed_field
    def agency_label(self) -> str:
        return self.agency.label

    @computed_field
    def state_label(self) -> str:
        return self.state.label


class DispatchPageOut(_FromView):
    items: list[DispatchOut]
    total: int
    page: int
    page_size: int
