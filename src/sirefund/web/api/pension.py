"""API routes: pension."""

from fastapi import APIRouter

router = APIRouter(tags=["pension"])
