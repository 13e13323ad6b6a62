"""Who may see a page: login as a dependency that raises, one HTML handler that answers.

A page route names what it needs in its signature — ``principal: PagePerson`` — and never
checks the caller itself. When the caller does not fit, the dependency raises a
:class:`PageDenied`; :func:`install` registers the one handler that turns it into the answer
of the area the page belongs to (PC 电子税务局, phone 楚税通, officer console):

- :class:`LoginRequired` — anonymous: 303 to that area's login page, coming back here after;
  a form sent after its session ended keeps what was typed (services/saved_forms.py: kept
  here, stored by the area's answer, handed back here when the same account comes back);
- :class:`WrongAccountKind` — logged in as another kind of account: 403 无权使用此功能;
- :class:`PageExpired` — a cookie POST without the session's CSRF token: 403 页面已过期;
- :class:`PageNotFound` — the page's path names what cannot exist (an id that is no number):
  404, the area's 不存在 page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ...domain.errors import Forbidden
from ...services import saved_forms
from ...services.accounts import Principal
from .. import deps


class PageDenied(Exception):
    """This page cannot be shown to this caller."""


class LoginRequired(PageDenied):
    def __init__(self, kind: str | None, typed: dict[str, list[str]] | None = None) -> None:
        super().__init__(kind)
        self.kind = kind  # the kind of account the login page should offer first
        self.typed = typed  # the fields of a form sent after its session ended


class WrongAccountKind(PageDenied):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind  # the kind the page is for


class PageExpired(PageDenied):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PageNotFound(PageDenied):
    """Raised by a path dependency, so that routes do not each check their path's id."""


async def page_principal(request: Request) -> Principal | None:
    """The logged-in account of any kind, or None for an anonymous visitor."""
    try:
        return await deps.optional_principal(request)
    except Forbidden as exc:  # a cookie POST with a wrong or missing CSRF token
        raise PageExpired(exc.message) from exc


#: The browser's key to a form kept after its session ended (services/saved_forms.py).
SAVED_FORM_COOKIE = "sirefund_typed"


async def _typed_fields(request: Request) -> dict[str, list[str]] | None:
    """The text fields of a form posted with the cookie of a session that has ended."""
    if request.method != "POST" or not request.cookies.get(deps.SESSION_COOKIE):
        return None
    try:
        data = await request.form(max_files=0, max_fields=2000)
    except (HTTPException, MultiPartException, ValueError):
        return None
    fields: dict[str, list[str]] = {}
    for name, value in data.multi_items():
        if isinstance(value, str):
            fields.setdefault(name, []).append(value)
    return fields


def _restore_typed(request: Request, principal: Principal) -> None:
    """A GET by an account that has just logged in again, of the page whose form was kept:
    the fields for the page to show (``request.state.restored_form``)."""
    token = request.cookies.get(SAVED_FORM_COOKIE)
    if request.method != "GET" or not token:
        return
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    app = request.app
    with deps.Db(app.state.session_factory).begin() as session:
        restored = saved_forms.take(
            session,
            token=token,
            account_kind=principal.kind,
            account_id=principal.account_id,
            path=path,
            at=app.state.clock.now(),
        )
    if restored is not None:
        request.state.restored_form = restored


def _of_kind(kind: str) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        principal = await page_principal(request)
        if principal is None:
            raise LoginRequired(kind, await _typed_fields(request))
        if principal.kind != kind:
            raise WrongAccountKind(kind)
        _restore_typed(request, principal)
        return principal

    dependency.__name__ = f"page_{kind}"
    return dependency


PagePrincipal = Annotated[Principal | None, Depends(page_principal)]
PagePerson = Annotated[Principal, Depends(_of_kind("person"))]
PageUnit = Annotated[Principal, Depends(_of_kind("unit"))]
PageOfficer = Annotated[Principal, Depends(_of_kind("officer"))]

DeniedRenderer = Callable[[Request, PageDenied], Response]


def install(app: FastAPI, *, applicant: DeniedRenderer, officer: DeniedRenderer) -> None:
    """One exception handler for every page: the officer console answers in its own layout,
    the PC and phone sites in theirs (``applicant`` tells the two apart by path)."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageDenied)  # registered for PageDenied only
        if request.url.path.startswith("/officer"):
            return officer(request, exc)
        return applicant(request, exc)

    app.add_exception_handler(PageDenied, handler)
