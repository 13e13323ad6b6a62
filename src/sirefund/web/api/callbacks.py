"""API routes: callbacks."""

from fastapi import APIRouter

router = APIRouter(tags=["callbacks"])
