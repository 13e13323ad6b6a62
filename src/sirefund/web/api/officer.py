"""API routes: officer."""

from fastapi import APIRouter

router = APIRouter(tags=["officer"])
