"""What the PC (电子税务局) and phone (楚税通) pages share: templates and their filters, the
answer to a visitor a page does not fit, CSRF for anonymous forms, form reading (into the use
case's input model, ``validate_form``), and errors shown next to fields.

Pages are plain HTML forms. Every state-changing form carries ``csrf_token``: for a logged-in
browser it is the session's token (checked by ``deps.optional_principal``); before login (the
login and registration forms) it is a double-submit token kept in its own cookie, so a third
site cannot log a victim into the attacker's account.

Service calls are blocking (SQL, argon2), so pages run them in the thread pool inside one
transaction: ``await in_transaction(db, lambda session: ...)``.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException

from ...clock import CHINA_TZ, as_utc
from ...domain.errors import DomainError
from ...domain.money import format_yuan
from ...services import notifications, saved_forms
from ...services.accounts import Principal
from ...services.deposit_accounts import FormInvalid
from .. import deps, officer_presenters
from ..errors import ErrorDetail, describe_validation_error
from ..xlsx_download import OfficerExport
from . import guard

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def _cn_datetime(value: object, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """An instant (datetime or ISO text, stored in UTC) in China time, as the manual shows it."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        return as_utc(value).astimezone(CHINA_TZ).strftime(fmt)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _cn_date(value: object) -> str:
    return _cn_datetime(value, "%Y-%m-%d")


def _or_dash(value: object) -> object:
    return "--" if value in (None, "") else value


def _yuan(fen: int | None) -> str:
    """Integer fen as the manual's two-decimal yuan ("350.00"); empty for no amount."""
    return "" if fen is None else format_yuan(fen)


templates.env.filters["yuan"] = _yuan
templates.env.filters["cn_datetime"] = _cn_datetime
templates.env.filters["cn_date"] = _cn_date
templates.env.filters["or_dash"] = _or_dash
# 税务端: an agency error recorded for the logs, in words (officer_presenters).
templates.env.filters["agency_words"] = officer_presenters.agency_error_words

ANON_CSRF_COOKIE = "sirefund_form"
#: 关怀版 (large text, high contrast) is on while this cookie is "1" (see care.py).
CARE_COOKIE = "sirefund_care"
#: Our double-submit tokens are token_urlsafe(24), 32 characters; a cookie far off that
#: shape was not set by us and is replaced.
ANON_CSRF_CHARS = range(20, 101)
#: Longest value any single text field of our forms may carry; longer input is refused with
#: a message next to the field rather than reaching a service or the database.
MAX_FIELD_CHARS = 200
MAX_LIST_ITEMS = 500
#: A selectable list item is an id or a code, never longer.
MAX_LIST_ITEM_CHARS = 60
#: A ``next`` target longer than this is not one of our pages.
MAX_NEXT_CHARS = 500
#: Longest integer query parameter read (page numbers, years, ids).
MAX_QUERY_DIGITS = 9

#: The PC site's breadcrumbs down to 其他申报, where its three refund functions live.
ETAX_PATH_TO_OTHER: list[tuple[str, str]] = [
    ("首页", "/etax/"),
    ("办税中心", "/etax/tax-center"),
    ("税费申报及缴纳", "/etax/tax-center/declare"),
    ("其他申报", "/etax/tax-center/declare/other"),
]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


# --------------------------------------------------------------------------- transactions


async def in_transaction(db: deps.Db, work: Callable[[Session], T]) -> T:
    """Run ``work(session)`` in one transaction on a worker thread (commit on success)."""

    def _run() -> T:
        with db.begin() as session:
            return work(session)

    return await run_in_threadpool(_run)


async def change_on_form(
    request: Request, db: deps.Db, form: Form, change: Callable[[Session, datetime], object]
) -> bool:
    """Run ``change(session, now)`` in one transaction. What the service refuses goes on the
    form next to the field it names (every problem of a ``FormInvalid``), else at the top;
    False then."""
    at = request.app.state.clock.now()
    try:
        await in_transaction(db, lambda s: change(s, at))
    except DomainError as exc:
        for error in exc.errors if isinstance(exc, FormInvalid) else [exc]:
            form.fail(error, default_field="_form")
        return False
    return True


def query_filters(
    request: Request,
    model: type[M],
    fields: Collection[str],
    *,
    max_chars: int,
    invalid: Callable[[str], str],
) -> tuple[dict[str, str], M | None, dict[str, str]]:
    """An officer list's filters from the query string: (the query as typed, ``model`` of
    its filled fields or None when one is wrong, the error by field: the service's message,
    else ``invalid(field)`` for a value of the wrong type)."""
    query = {name: query_text(request, name, max_chars=max_chars) for name in fields}
    try:
        return query, model.model_validate({k: v for k, v in query.items() if v}), {}
    except DomainError as exc:
        return query, None, {exc.field or "_filters": exc.message}
    except ValidationError as exc:
        name = str(exc.errors()[0]["loc"][0]) if exc.errors() else "_filters"
        return query, None, {name: invalid(name)}


def add_export_page(
    router: APIRouter,
    export: OfficerExport[T],
    *,
    filters: Callable[[Request], T | None],
    page: Callable[[Request, deps.Db, Principal], Awaitable[Response]],
) -> None:
    """导出Excel of what an officer's page shows: ``export``'s workbook of the page's
    ``filters`` (None when one is wrong), named for today, or the ``page`` again when a filter
    is wrong or the service refuses (an officer without the role sees why there)."""

    async def download(
        request: Request, db: deps.DbSession, principal: guard.PageOfficer
    ) -> Response:
        chosen = filters(request)
        if chosen is None:
            return await page(request, db, principal)
        today = request.app.state.clock.today()
        try:
            content = await in_transaction(db, lambda s: export.build(s, principal, chosen, today))
        except DomainError:
            return await page(request, db, principal)
        return export.download.response(content, today)

    name = f"export_{export.download.ascii_name}"
    router.add_api_route(export.path, download, methods=["GET"], name=name)


# --------------------------------------------------------------------------- who is calling


_FULL_ID_NUMBER = re.compile(r"\d{17}[\dXx]")


def return_target(request: Request, fallback: str) -> str:
    """Where to come back to after logging in: this page (with its query) for a GET. For a
    form posted after the session ended, the page it was on (the POST address itself cannot be
    opened after login), else ``fallback``."""
    target = request.url.path
    if request.method == "GET" and request.url.query:
        # A searched ID number is not carried into a link (关怀版, login's next): the page
        # comes back without that search rather than write the number into the page.
        kept = [
            (k, v)
            for k, v in parse_qsl(request.url.query, keep_blank_values=True)
            if not _FULL_ID_NUMBER.fullmatch(v.strip())
        ]
        if kept:
            target += "?" + urlencode(kept)
    elif request.method != "GET":
        target = referer_path(request) or fallback
        # A page shown in answer to a POST cannot be opened again: its list page instead.
        target = PAGE_OF_POST_ANSWER.get(urlsplit(target).path, target)
    return target


#: Pages shown in answer to a POST (the no-JavaScript 申请退费 dialog) and where to come back.
PAGE_OF_POST_ANSWER = {"/etax/pension/action": "/etax/pension"}


def restored_fields(request: Request) -> dict[str, list[str]] | None:
    """What was typed into this page's form before the session ended, when the same account
    is back on it (guard.py found it; :func:`render` puts it back in ``values``)."""
    restored: saved_forms.Restored | None = getattr(request.state, "restored_form", None)
    return restored.fields if restored is not None else None


def denied_response(request: Request, exc: guard.PageDenied) -> Response:
    """The PC or phone site's answer to a visitor a page does not fit (see guard.py)."""
    if isinstance(exc, guard.LoginRequired):
        target = return_target(request, home_url(request))
        kind = f"kind={exc.kind}&" if exc.kind else ""
        # The browser still holds the cookie of a session that has ended: say why.
        expired = "done=session_expired&" if request.cookies.get(deps.SESSION_COOKIE) else ""
        response = RedirectResponse(
            f"{login_url(request)}?{kind}{expired}next={quote(target)}", status_code=303
        )
        if exc.typed and referer_path(request):
            keep_typed(request, response, exc.typed, target)
        return response
    if isinstance(exc, guard.PageNotFound):
        return not_found_page(request)
    if isinstance(exc, guard.WrongAccountKind):
        who = {"person": "自然人", "unit": "单位（村组）"}.get(exc.kind, exc.kind)
        message = f"当前登录的账户类型无权使用此功能，请以{who}身份登录。"
        back = home_url(request)
        if is_mobile(request) and exc.kind == "person":
            # A unit on the phone: its own functions are one tap away (社保费退费).
            message += "单位（村组）业务请从“社保费退费”进入办理。"
            back = "/m/sif"
        return error_page(
            request, title="无权使用此功能", message=message, back_url=back, status_code=403
        )
    return error_page(
        request,
        title="页面已过期",
        message=exc.message if isinstance(exc, guard.PageExpired) else "页面已过期，请刷新后重试",
        back_url=referer_path(request) or home_url(request),
        status_code=403,
    )


def keep_typed(
    request: Request, response: Response, typed: dict[str, list[str]], page: str
) -> None:
    """A form sent after its session ended: what was typed is kept on the server for that
    session's account (services/saved_forms.py), the key in this browser's cookie, until the
    account logs in again and is back on ``page``."""
    app = request.app
    with deps.Db(app.state.session_factory).begin() as session:
        token = saved_forms.keep(
            session,
            session_token=request.cookies.get(deps.SESSION_COOKIE, ""),
            fields=typed,
            path=page,
            at=app.state.clock.now(),
        )
    if token:
        response.set_cookie(
            guard.SAVED_FORM_COOKIE,
            token,
            max_age=int(saved_forms.KEEP_FOR.total_seconds()),
            httponly=True,
            samesite="lax",
            path="/",
            secure=app.state.settings.secure_cookies,
        )


def _restored(request: Request, ctx: dict[str, Any]) -> bool:
    """The fields kept when this page's form was sent after its session ended, back in the
    form (guard.py found them for this account and page); True when there were some."""
    restored: saved_forms.Restored | None = getattr(request.state, "restored_form", None)
    if restored is None:
        return False
    values = dict(ctx.get("values") or {})
    for name, typed in restored.fields.items():
        values[name] = typed if len(typed) > 1 or isinstance(values.get(name), list) else typed[0]
    ctx["values"] = values
    ctx["notice"] = RESTORED_NOTICE
    ctx["notice_kind"] = "info"
    return True


def error_page(
    request: Request, *, title: str, message: str, back_url: str, status_code: int, **layout: Any
) -> HTMLResponse:
    """The PC or phone site's page for what cannot be done, with a 返回 link to ``back_url``
    (``layout``: the PC site's breadcrumbs)."""
    context = {"title": title, "message": message, "back_url": back_url, **layout}
    return render(request, _error_template(request), context, status_code=status_code)


def not_found_page(request: Request, **layout: Any) -> Response:
    """页面不存在 (404) of the visitor's site, with a way back to its home."""
    return error_page(
        request,
        title="页面不存在",
        message="您访问的页面不存在或已调整，请从首页重新进入。",
        back_url=home_url(request),
        status_code=404,
        **layout,
    )


def add_not_found_route(router: APIRouter, prefix: str, **layout: Any) -> None:
    """Any other address under ``prefix`` (/etax, /m) answers a Chinese page of that site, not
    the API's JSON. Registered last: it matches every path below the prefix."""

    async def not_found(request: Request, rest: str, principal: guard.PagePrincipal) -> Response:
        return not_found_page(request, **layout)

    router.add_api_route(prefix + "/{rest:path}", not_found, methods=["GET"])


def is_mobile(request: Request) -> bool:
    return request.url.path.startswith("/m/") or request.url.path == "/m"


def home_url(request: Request) -> str:
    return "/m/" if is_mobile(request) else "/etax/"


def login_url(request: Request) -> str:
    return "/m/login" if is_mobile(request) else "/etax/login"


def _error_template(request: Request) -> str:
    return "mobile/error.html" if is_mobile(request) else "etax/error.html"


def referer_path(request: Request) -> str | None:
    """Our own page the visitor came from (path and query only), for a 返回 link."""
    referer = request.headers.get("referer", "")
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc != request.url.netloc:
        return None
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(path, "") or None


def safe_next(value: object, default: str) -> str:
    """Only our own paths: never redirect a freshly logged-in user to another site."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or len(value) > MAX_NEXT_CHARS or any(c < " " for c in value):
        return default
    return value


# --------------------------------------------------------------------------- cookies and CSRF


def anon_csrf_token(request: Request) -> str:
    """The double-submit token for forms shown before login (reused while its cookie lives)."""
    current = request.cookies.get(ANON_CSRF_COOKIE, "")
    if len(current) in ANON_CSRF_CHARS and current.replace("-", "").replace("_", "").isalnum():
        return current
    cached = getattr(request.state, "anon_csrf", None)
    if cached is None:
        cached = secrets.token_urlsafe(24)
        request.state.anon_csrf = cached
    return cached


def attach_anon_csrf(response: Response, request: Request) -> Response:
    if request.cookies.get(ANON_CSRF_COOKIE) != anon_csrf_token(request):
        settings = request.app.state.settings
        response.set_cookie(
            ANON_CSRF_COOKIE,
            anon_csrf_token(request),
            httponly=True,
            samesite="lax",
            path="/",
            secure=settings.secure_cookies,
        )
    return response


def anon_csrf_ok(request: Request, form: FormData | Mapping[str, Any]) -> bool:
    cookie = request.cookies.get(ANON_CSRF_COOKIE, "")
    sent = form.get("csrf_token")
    return bool(cookie) and isinstance(sent, str) and hmac.compare_digest(cookie, sent)


# --------------------------------------------------------------------------- forms


@dataclass
class Form:
    """Submitted values read defensively: strings only, trimmed, capped; lists capped.

    ``values`` keeps what the user typed so a page re-rendered after an error loses nothing;
    ``errors`` maps a field name to the Chinese message shown next to it (``_form`` for the
    form as a whole).
    """

    data: FormData | Mapping[str, Any]
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    codes: dict[str, str] = field(default_factory=dict)

    def text(self, name: str, *, max_chars: int = MAX_FIELD_CHARS, label: str | None = None) -> str:
        raw = self.data.get(name)
        value = raw.strip() if isinstance(raw, str) else ""
        if len(value) > max_chars:
            self.errors.setdefault(name, f"{label or '内容'}不能超过{max_chars}个字符")
            value = value[:max_chars]
        self.values[name] = value
        return value

    def many(self, name: str, *, max_items: int = MAX_LIST_ITEMS) -> list[str]:
        getter = getattr(self.data, "getlist", None)
        raw = getter(name) if getter else ([self.data[name]] if name in self.data else [])
        out: list[str] = []
        for item in raw:
            if (
                isinstance(item, str)
                and item.strip()
                and len(item) <= MAX_LIST_ITEM_CHARS
                and item.strip() not in out
            ):
                out.append(item.strip())
        if len(out) > max_items:
            self.errors.setdefault(name, "选择的记录过多")
            out = out[:max_items]
        self.values[name] = out
        return out

    def secret(self, name: str, *, max_chars: int = MAX_FIELD_CHARS) -> str:
        """A password as typed: not trimmed (spaces may be part of it), capped; kept in
        ``values`` only for the forms that show it again (registration)."""
        raw = self.data.get(name)
        value = raw[:max_chars] if isinstance(raw, str) else ""
        self.values[name] = value
        return value

    def flag(self, name: str) -> bool:
        value = self.data.get(name)
        on = isinstance(value, str) and value.lower() in {"1", "on", "true", "yes"}
        self.values[name] = on
        return on

    def integer(
        self,
        name: str,
        *,
        label: str,
        minimum: int | None = None,
        maximum: int | None = None,
        required: bool = False,
    ) -> int | None:
        value = self.text(name, max_chars=12, label=label)
        if not value:
            if required:
                self.errors.setdefault(name, f"请选择{label}")
            return None
        if not value.isascii() or not value.isdigit():
            self.errors.setdefault(name, f"{label}应为数字")
            return None
        number = int(value)
        if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
            self.errors.setdefault(name, f"{label}不正确")
            return None
        return number

    def fail(
        self,
        exc: DomainError,
        *,
        default_field: str = "_form",
        aliases: Mapping[str, str] | None = None,
    ) -> None:
        """Record a service error next to the field it names (or at the top of the form)."""
        name = exc.field or default_field
        if aliases and name in aliases:
            name = aliases[name]
        if name not in self.errors:
            self.errors[name] = exc.message
            self.codes[name] = exc.code


def refusals(
    exc: ValidationError,
    *,
    labels: Mapping[str, str] | None = None,
    messages: Mapping[str, str] | None = None,
    code_messages: Mapping[str, str] | None = None,
    missing: Mapping[str, str] | None = None,
) -> dict[str, ErrorDetail]:
    """What pydantic refused in a page's input model, per form field (the first problem of
    each; a list item's problem is its list's), as the Chinese message shown next to it and the
    contract's code. Every page words these the same way, with its own words where it has them:

    - ``messages``: a field's message outright;
    - a text too long: "<label>不能超过N个字符", like :meth:`Form.text` (label from ``labels``);
    - a required field left empty: its ``missing`` message, else "请填写<label>";
    - ``code_messages``: the page's wording of an error code;
    - otherwise the API's message for that problem.
    """
    labels = labels or {}
    out: dict[str, ErrorDetail] = {}
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else "_form"
        if name in out:
            continue
        detail = describe_validation_error(error)
        label = labels.get(name)
        if messages and name in messages:
            message = messages[name]
        elif error["type"] == "string_too_long":
            limit = (error.get("ctx") or {}).get("max_length")
            message = f"{label or '内容'}不能超过{limit}个字符"
        elif error["type"] == "missing" and (name in (missing or {}) or label):
            message = (missing or {}).get(name) or f"请填写{label}"
        else:
            message = (code_messages or {}).get(detail.code, detail.message)
        out[name] = ErrorDetail(code=detail.code, message=message, field=name)
    return out


def validation_errors(
    exc: ValidationError,
    *,
    labels: Mapping[str, str] | None = None,
    messages: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The :func:`refusals` messages alone, for a page that shows them outside a ``Form``."""
    return {name: r.message for name, r in refusals(exc, labels=labels, messages=messages).items()}


def validate_form(
    form: Form,
    model: type[M],
    data: Mapping[str, object],
    *,
    labels: Mapping[str, str] | None = None,
    code_messages: Mapping[str, str] | None = None,
    missing: Mapping[str, str] | None = None,
) -> M | None:
    """``model`` (the use case's input model, as the API builds it from JSON) from what the page
    read off the form, or None with each :func:`refusals` message and code recorded next to
    its field (a field the page already refused keeps its first message)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        wording = {"labels": labels, "code_messages": code_messages, "missing": missing}
        for name, refusal in refusals(exc, **wording).items():
            if name not in form.errors:
                form.errors[name] = refusal.message
                form.codes[name] = refusal.code
        return None


def form_model(
    form: Form,
    model: type[M],
    *,
    labels: Mapping[str, str],
    secret_fields: Collection[str] = (),
    given: Mapping[str, object] | None = None,
    missing: Mapping[str, str] | None = None,
) -> M | None:
    """:func:`validate_form` of the fields named in ``labels`` (trimmed; the ``secret_fields``
    as typed) plus ``given`` values the page decided itself. A field left empty is missing, so
    a required one reads "请填写<label>" (or its ``missing`` message) and an optional one takes
    its default."""
    data: dict[str, object] = dict(given or {})
    for name, label in labels.items():
        value = form.secret(name) if name in secret_fields else form.text(name, label=label)
        if value:
            data[name] = value
    return validate_form(form, model, data, labels=labels, missing=missing)


async def read_form(request: Request) -> Form:
    try:
        data = await request.form(max_files=0, max_fields=2000)
    except (HTTPException, MultiPartException, ValueError):
        # A malformed body (bad multipart, too many fields) is read as an empty form: the
        # page answers with its usual messages, never a 500.
        data = FormData()
    return Form(data)


def query_int(
    request: Request,
    name: str,
    *,
    default: int | None = None,
    minimum: int = 0,
    maximum: int = 10_000,
) -> int | None:
    """An integer query parameter; anything odd falls back to the default (no 500, no 422)."""
    raw = request.query_params.get(name, "")
    raw = raw.strip()
    if not raw or len(raw) > MAX_QUERY_DIGITS or not raw.isascii() or not raw.isdigit():
        return default
    value = int(raw)
    return value if minimum <= value <= maximum else default


def query_text(request: Request, name: str, *, max_chars: int = 60) -> str:
    raw = request.query_params.get(name, "")
    return raw.strip()[:max_chars]


# --------------------------------------------------------------------------- rendering


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    ctx = dict(context or {})
    principal = getattr(request.state, "principal", None)
    ctx.setdefault("principal", principal)
    ctx.setdefault("csrf_token", principal.csrf_token if principal else anon_csrf_token(request))
    ctx.setdefault("values", {})
    ctx.setdefault("errors", {})
    done = request.query_params.get("done", "")
    ctx.setdefault("notice", NOTICES.get(done, ""))
    ctx.setdefault("notice_kind", "info" if done in INFO_NOTICES else "success")
    ctx.update(care_context(request))
    if principal is not None and principal.kind in ("person", "unit"):
        ctx.setdefault("unread_notices", _unread_notices(request, principal))
    restored = _restored(request, ctx)
    # Security and cache headers: web/security_headers.py, on every response.
    response = templates.TemplateResponse(request, template, ctx, status_code=status_code)
    if restored:
        response.delete_cookie(guard.SAVED_FORM_COOKIE, path="/")
    if principal is None:
        attach_anon_csrf(response, request)
    return response


def _unread_notices(request: Request, principal: Principal) -> int:
    """The header's 消息中心 count: a person's or unit's unread notices."""
    with deps.Db(request.app.state.session_factory).begin() as session:
        return notifications.unread_count(session, (principal.kind, principal.account_id))


def care_on(request: Request) -> bool:
    return request.cookies.get(CARE_COOKIE) == "1"


def care_context(request: Request) -> dict[str, Any]:
    """关怀版 for base.html: whether it is on, and the header link that switches it and comes
    back to this page (a GET page: itself; after a POST: the page the form was on)."""
    on = care_on(request)
    here = return_target(request, home_url(request))
    query = urlencode({"on": "0" if on else "1", "next": here})
    return {"care_mode": on, "care_switch_url": f"/care-mode?{query}"}


def redirect(url: str, **params: Any) -> RedirectResponse:
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    if clean:
        url += ("&" if "?" in url else "?") + urlencode(clean, doseq=True)
    return RedirectResponse(url, status_code=303)


#: Messages shown after a successful POST (Post/Redirect/Get carries only the code).
NOTICES = {
    "applied": "退费申请已提交，等待税务人员审核。",
    "cancelled": "撤销成功，退费状态已更新为未申请。",
    "batch_cancelled": "撤销成功，同一批操作的退费申请已全部撤销。",
    "saved": "保存成功，退费申请已提交，等待税务人员审核。",
    "draft": "暂存成功。",
    "submitted": "存款账户账号报告提交成功。",
    "registered": "注册成功，请登录。",
    "logged_out": "您已安全退出。",
    "account_saved": "银行账户信息已保存，请核实无误后提交。",
    "reissued": "账户已重新提交，银行将重新退付至新账户。",
    "corrected": "补正成功，退费申请已重新提交，等待税务人员审核。",
    "session_expired": "登录已超时，请重新登录",
}
RESTORED_NOTICE = "已恢复登录超时前填写的内容，请核对后重新提交。"
#: Notices that tell why rather than confirm a success (drawn as information, not in green).
INFO_NOTICES = {"session_expired"}


# --------------------------------------------------------------------------- display helpers


@dataclass(frozen=True)
class Pager:
    """The manual's pagination line: 每页 10 条, 第 p 页 共 n 页, 当前显示第 x 到 y 条 共 n 条记录."""

    page: int
    page_size: int
    total: int
    exact: bool = True  # False: ``total`` or more (services.paging.Page.total_exact)

    @property
    def page_count(self) -> int:
        return max(1, -(-self.total // self.page_size))

    @property
    def first_row(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.page_size + 1

    @property
    def last_row(self) -> int:
        return min(self.total, self.page * self.page_size)


def paged(rows: list[T], page: int | None, page_size: int = 10) -> tuple[list[T], Pager]:
    """One page of rows; a page number past the end shows the last page."""
    total = len(rows)
    count = max(1, -(-total // page_size))
    page = min(max(1, page or 1), count)
    start = (page - 1) * page_size
    return rows[start : start + page_size], Pager(page, page_size, total)


def year_choices(current: int, *, back: int = 10, ahead: int = 1, floor: int = 2010) -> list[int]:
    return list(range(current + ahead, max(floor, current - back) - 1, -1))
