"""PC pages of 城乡居民社会保险费退费（养老）（村组） (manual 1.2.2)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
