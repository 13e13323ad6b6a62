"""The contract's list pages (``{"items", "total", "page", "page_size"}``, api.md) and the one
way the applicant routers answer a creating POST."""

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

T = TypeVar("T")


def page_of(
    rows: Sequence[T], *, page: int, page_size: int, present: Callable[[T], dict[str, Any]]
) -> dict[str, Any]:
    """One page of typed rows, each presented as the contract's dict (bounds checked by the
    route's PageNo/PageSize parameters)."""
    start = (page - 1) * page_size
    return {
        "items": [present(row) for row in rows[start : start + page_size]],
        "total": len(rows),
        "page": page,
        "page_size": page_size,
    }


def create_once(
    request: Request,
    *,
    db: Db,
    principal: Principal,
    body: BaseModel,
    create: Callable[[Session, datetime], dict[str, Any]],
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
