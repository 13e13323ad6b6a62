"""API routes: medical."""

from fastapi import APIRouter

router = APIRouter(tags=["medical"])
