"""Request body limit, enforced on the bytes that arrive, not on what the client announces.

A Content-Length above the limit is refused at once. A body sent chunked (no Content-Length)
or longer than its announced length is counted while it is read and refused as soon as it
passes the limit, so no handler ever buffers more than `max_bytes` (web/edge.py).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.status import HTTP_413_CONTENT_TOO_LARGE
from starlette.types import Receive, Scope, Send

from .errors import error_body

_TOO_LARGE = ("request.too_large", "请求内容过大")


class BodyTooLarge(HTTPException):
    """Raised from `receive` while a handler reads the body; an HTTPException so that the
    app's own handler (web/errors.py) answers 413 `request.too_large` in the error format
    wherever the body was being read."""

    def __init__(self) -> None:
        super().__init__(status_code=HTTP_413_CONTENT_TOO_LARGE)


def content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return -1  # unparsable: refused like an oversize one
    return None


async def too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(
        error_body(*_TOO_LARGE),
        status_code=HTTP_413_CONTENT_TOO_LARGE,
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)
