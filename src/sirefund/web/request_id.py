"""Every HTTP request gets an id, a metric and one access log line.

The id is the client's `X-Request-ID` when it is a plain token (request_context.accept: no
digit run that could be an ID, phone or card number), otherwise a new one; it is echoed in
the response's `X-Request-ID`, bound for the request's code (logs, and `outbox.enqueue`,
which stores it with the message so the worker logs it when it sends).

Requests are labelled with their route's template (`/api/v1/officer/applications/{id}`),
never the raw path, so no id ends up in a metric label or in the access line; uvicorn's own
access log, which prints raw paths, is switched off where the server starts (runtime.py).
The middleware that does it is web/edge.py.
"""

from __future__ import annotations

import logging
import re

from starlette.routing import Mount
from starlette.types import Scope

HEADER = "X-Request-ID"
_HEADER_KEY = HEADER.lower().encode("latin-1")
#: Probes poll all day long: counted in the metrics, not written to the log.
QUIET = frozenset({"/healthz", "/readyz", "/metrics"})
UNMATCHED = "unmatched"
_DIGITS = re.compile(r"\d{3,}")

access_log = logging.getLogger("sirefund.access")


def route_label(scope: Scope) -> str:
    """The template of the route that answered, or `unmatched` (404s, redirects).

    An included router's route knows its path without the router's prefix
    (`/officer/applications/{application_id}`): the prefix is taken back from the front of
    the requested path, as many segments as the path has beyond the template's. A prefix
    that looks like data (3+ digits) is dropped rather than risk an id in a label.
    """
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return UNMATCHED
    if isinstance(route, Mount):  # static files: one label for the whole folder
        return template.rstrip("/") + "/{path}"
    parts = str(scope.get("path", "")).split("/")
    depth = template.count("/")
    prefix = "/".join(parts[:-depth]) if 0 < depth < len(parts) else ""
    if _DIGITS.search(prefix):
        prefix = ""
    return prefix + template


def client_id(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == _HEADER_KEY:
            return bytes(value).decode("latin-1")
    return None
