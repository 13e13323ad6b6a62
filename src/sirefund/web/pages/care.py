"""关怀版: the large-text, high-contrast mode for elderly users of the PC and phone pages.

A plain link in each site's header (no JavaScript) asks ``GET /care-mode?on=1&next=<path>``;
the answer remembers the choice in a cookie and sends the visitor back to ``next`` — our own
path only (``common.safe_next``), never another site. :func:`common.render` reads the cookie
and puts the ``care`` class on ``<html>``, so the mode is drawn by the server on every page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from . import common

router = APIRouter(include_in_schema=False)

#: A year: the choice outlives sessions, as a setting of the device should.
CARE_COOKIE_SECONDS = 365 * 24 * 3600


@router.get("/care-mode")
async def care_mode(request: Request) -> Response:
    """Switch 关怀版 on (``on=1``) or off (anything else), then back to ``next``."""
    on = request.query_params.get("on") == "1"
    back = common.safe_next(request.query_params.get("next"), "/etax/")
    response = RedirectResponse(back, status_code=303)
    settings = request.app.state.settings
    if on:
        response.set_cookie(
            common.CARE_COOKIE,
            "1",
            max_age=CARE_COOKIE_SECONDS,
            httponly=True,
            samesite="lax",
            path="/",
            secure=settings.secure_cookies,
        )
    else:
        response.delete_cookie(common.CARE_COOKIE, path="/")
    return response
