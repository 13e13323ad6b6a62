"""The contract's list pages (``{"items", "total", "page", "page_size"}``, api.md) and the one
way the API routers answer a creating POST."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from ...services.accounts import Principal
from ..deps import Db
from ..idempotency import run_idempotent
from .params import Paging

T = TypeVar("T")


def page_of(rows: Sequence[T], paging: Paging, present: Callable[[T], Any]) -> dict[str, Any]:
    """One page of typed rows, each presented as the contract's item (bounds checked by the
    route's ``Paged`` parameters)."""
    return {
        "items": [present(row) for row in rows[paging.window()]],
        "total": len(rows),
        "page": paging.page,
        "page_size": paging.page_size,
    }


def create_once(
    request: Request,
    *,
    db: Db,
    principal: Principal,
    body: BaseModel,
    create: Callable[[Session, datetime], object],
) -> JSONResponse:
    """201 with ``create(session, now)``'s answer, run at most once per Idempotency-Key."""
    at: datetime = request.app.state.clock.now()
    return run_idempotent(
        request,
        db=db,
        principal=principal,
        body=body.model_dump(mode="json"),
        at=at,
        action=lambda session: create(session, at),
    )
