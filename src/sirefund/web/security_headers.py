"""Security headers on every response, pages, API, files and errors alike (ASVS V3.4), set in
one place instead of by each route. A header a route sets itself is kept (the Swagger page
needs its own CSP for its inline script)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        shared = str(scope.get("path", "")).startswith(_SHARED_PREFIX)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS:
                    headers.setdefault(name, value)
                is_page = headers.get("content-type", "").startswith("text/html")
                headers.setdefault("Content-Security-Policy", PAGE_CSP if is_page else OTHER_CSP)
                # Pages and answers show personal data: keep them out of shared caches and
                # the browser's back-forward cache.
                if not shared:
                    headers.setdefault("Cache-Control", "no-store")
                if self.settings.https:
                    headers.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
