"""PC pages of 城乡居民医疗保险费退费 (manual 2.2)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)


def latest_draft(session: Any, person_id: int) -> Any:
    from ...services import deposit_accounts

    return deposit_accounts.latest_draft(session, person_id=person_id)
