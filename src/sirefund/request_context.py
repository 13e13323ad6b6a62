"""The id of the request being served, wherever the code runs.

The web layer binds it for each HTTP request (web/request_id.py); `outbox.enqueue` stores it
with the message it writes; the worker binds the stored id while it sends that message. The
JSON log formatter (logconfig.py) adds it to every line, so one id follows a refund from the
click to the agency. Imports nothing of ours: web, outbox and worker all read it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_CURRENT: ContextVar[str | None] = ContextVar("sirefund_request_id", default=None)

#: Longest id accepted from a client (the outbox column's width).
MAX_LENGTH = 64
_SAFE = re.compile(r"[A-Za-z0-9._:-]{8,64}")
#: A run of 6+ digits could be an ID, phone or card number: never accepted as an id.
_DIGIT_RUN = re.compile(r"\d{6,}")


def new_id() -> str:
    return secrets.token_hex(16)


def accept(candidate: str | None) -> str:
    """The client's X-Request-ID when it is a plain token (8 to 64 letters, digits or
    `._:-`, no 6-digit run that could hide personal data), else a new id."""
    if candidate and _SAFE.fullmatch(candidate) and not _DIGIT_RUN.search(candidate):
        return candidate
    return new_id()


def current() -> str | None:
    return _CURRENT.get()


@contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Make `request_id` the current one inside the block."""
    token = _CURRENT.set(request_id)
    try:
        yield
    finally:
        _CURRENT.reset(token)
