"""What the simulators' answers share: the error body (the API's shape) and the JSON list a
/_sim control endpoint takes."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "field": None}}, status_code=status
    )


async def json_list(request: Request, *, of: str) -> list[Any]:
    """The request's body as a JSON list (of `of`, named in the error): ValueError when it is
    not JSON, TypeError when it is not a list."""
    items = json.loads(await request.body())
    if not isinstance(items, list):
        raise TypeError(f"a list of {of}")
    return items
