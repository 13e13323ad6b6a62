"""API routes: unit."""

from fastapi import APIRouter

router = APIRouter(tags=["unit"])
