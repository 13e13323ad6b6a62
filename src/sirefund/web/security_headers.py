"""Security headers on every response, pages, API, files and errors alike (ASVS V3.4), set in
one place instead of by each route (web/edge.py). A header a route sets itself is kept (the
Swagger page needs its own CSP for its inline script)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders

from ..config import Settings

#: Pages load scripts, styles and images from this site only and cannot be framed.
PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
)
#: JSON, files and errors are never rendered as documents: allow nothing.
OTHER_CSP = "default-src 'none'; frame-ancestors 'none'"
#: One year and every subdomain, sent only when the site is public over https.
HSTS = "max-age=31536000; includeSubDomains"
#: Our own style sheets, scripts and images: the same for everyone, so caches may keep them.
_SHARED_PREFIX = "/static/"

_ALWAYS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
    ("X-Frame-Options", "DENY"),
)


def add_headers(headers: MutableHeaders, settings: Settings, *, path: str) -> None:
    """The security headers of an answer to `path` (web/edge.py calls it as the answer
    starts), keeping any a route set itself."""
    for name, value in _ALWAYS:
        headers.setdefault(name, value)
    is_page = headers.get("content-type", "").startswith("text/html")
    headers.setdefault("Content-Security-Policy", PAGE_CSP if is_page else OTHER_CSP)
    # Pages and answers show personal data: keep them out of shared caches and the
    # browser's back-forward cache.
    if not path.startswith(_SHARED_PREFIX):
        headers.setdefault("Cache-Control", "no-store")
    if settings.https:
        headers.setdefault("Strict-Transport-Security", HSTS)
