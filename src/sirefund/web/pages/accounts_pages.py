"""Login, registration and logout as HTML forms, shared by the PC, phone and officer pages.

The form is read into the very input model the API builds from JSON (accounts_schemas), the
work is the services' (through web/session.py, so a form login is throttled and recorded
exactly like an API login); this module only shows each error next to its field and sets or
clears the session cookie.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ...domain.errors import DomainError, TooManyRequests
from ...domain.identity import mask_phone
from ...services import accounts
from ...services.accounts import AccountKind, Principal
from .. import deps
from ..api.accounts_schemas import LoginIn, RegisterPersonIn, RegisterUnitIn
from ..session import (
    clear_session_cookie,
    commit_even_if_refused,
    count_registration,
    end_session,
    perform_login,
    send_verification_code,
    set_session_cookie,
)
from . import common, guard
from .common import Form

ApplicantKind = Literal["person", "unit"]

LOGIN_KINDS = {"person": "自然人业务", "unit": "单位业务（村组）"}
LOGIN_LABELS = {"person": "居民身份证号码/手机号码/用户名", "unit": "纳税人识别号"}
LOGIN_PLACEHOLDERS = {"person": "请输入身份证号、手机号或用户名", "unit": "请输入纳税人识别号"}
REGISTER_KINDS = {"person": "自然人用户注册", "unit": "单位（村组）用户注册"}
REGISTER_FIELDS: dict[ApplicantKind, dict[str, str]] = {
    "person": {
        "id_number": "证件号码",
        "name": "姓名",
        "phone": "手机号码",
        "verification_code": "验证码",
        "username": "用户名",
        "password": "密码",
    },
    "unit": {
        "tax_id": "纳税人识别号",
        "name": "单位名称",
        "handler_id_number": "办税员证件号码",
        "handler_name": "办税员姓名",
        "handler_phone": "办税员手机号码",
        "verification_code": "验证码",
        "password": "密码",
    },
}
#: The field the code is sent to, per kind of registration.
CODE_PHONE_FIELD: dict[ApplicantKind, str] = {"person": "phone", "unit": "handler_phone"}
SEND_CODE = "send_code"
#: The officers' second factor, the six digits of their authenticator app.
OTP_LABEL = "动态口令"
EXPIRED = "页面已过期，请重新提交"
KIND_MAX_CHARS = 10


def _kind_of(value: str | None) -> ApplicantKind:
    return "unit" if value == "unit" else "person"


# --------------------------------------------------------------------------- login


def login_context(
    *, kind: ApplicantKind, form: Form | None = None, next_url: str = ""
) -> dict[str, Any]:
    return {
        "title": "登录",
        "kind": kind,
        "kinds": LOGIN_KINDS,
        "login_labels": LOGIN_LABELS,
        "login_placeholders": LOGIN_PLACEHOLDERS,
        "values": form.values if form else {"kind": kind},
        "errors": form.errors if form else {},
        "next": next_url,
    }


async def show_login(
    request: Request,
    *,
    template: str,
    default_next: str,
    extra: dict[str, Any] | None = None,
    principal: Principal | None,
) -> Response:
    next_url = common.safe_next(request.query_params.get("next"), default_next)
    if principal is not None and principal.kind in LOGIN_KINDS:
        return common.redirect(next_url)
    kind = _kind_of(request.query_params.get("kind"))
    ctx = login_context(kind=kind, next_url=next_url)
    ctx.update(extra or {})
    return common.render(request, template, ctx)


async def do_login(
    request: Request, *, template: str, default_next: str, extra: dict[str, Any] | None = None
) -> Response:
    """POST of the login form: a session cookie and a redirect, or the form with its errors."""
    form = await common.read_form(request)
    kind = _kind_of(form.text("kind", max_chars=KIND_MAX_CHARS))
    form.values["kind"] = kind
    next_url = common.safe_next(form.text("next", max_chars=common.MAX_NEXT_CHARS), default_next)

    def again(status: int) -> Response:
        ctx = login_context(kind=kind, form=form, next_url=next_url)
        ctx.update(extra or {})
        return common.render(request, template, ctx, status_code=status)

    return await finish_login(
        request, form, kind=kind, login_label=LOGIN_LABELS[kind], next_url=next_url, again=again
    )


async def finish_login(
    request: Request,
    form: Form,
    *,
    kind: AccountKind,
    login_label: str,
    next_url: str,
    again: Callable[[int], Response],
    expired: str = EXPIRED,
) -> Response:
    """The end of every login form (citizen, unit, officer): the form read into `LoginIn`,
    the anonymous CSRF token checked, then perform_login in a thread. A redirect to
    ``next_url`` with the session cookie, or ``again(status)``: the form with its errors."""
    labels = {"login": login_label, "password": "密码"}
    if kind == "officer":
        labels["otp"] = OTP_LABEL
    credentials = common.form_model(
        form,
        LoginIn,
        labels=labels,
        secret_fields=("password", "otp"),
        given={"kind": kind},
        missing={"login": f"请输入{login_label}", "password": "请输入密码"},
    )
    if not common.anon_csrf_ok(request, form.data):
        form.errors.clear()
        form.errors["_form"] = expired
        return again(403)
    if credentials is None or form.errors:
        return again(422)

    settings = deps.get_settings(request)
    try:
        token, _principal = await run_in_threadpool(
            perform_login,
            deps.get_db(request),
            credentials,
            client_address=deps.client_address(request),
            at=request.app.state.clock.now(),
            settings=settings,
        )
    except TooManyRequests as exc:
        return _too_many(again, form, exc)
    except DomainError as exc:
        # One answer for a wrong password and an unknown account: shown under the password.
        form.fail(exc, default_field="password", aliases={"kind": "_form"})
        return again(exc.status if exc.status in (401, 403, 422) else 422)

    response = common.redirect(next_url)
    set_session_cookie(response, token=token, settings=settings)
    return response


# --------------------------------------------------------------------------- registration


def _too_many(again: Callable[[int], Response], form: Form, exc: TooManyRequests) -> Response:
    """The form again with the throttle's message above it, 429 with Retry-After."""
    form.errors["_form"] = exc.message
    response = again(exc.status)
    if exc.retry_after_seconds:
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


def register_context(
    *, kind: ApplicantKind, form: Form | None = None, notice: str | None = None, code_wait: int = 0
) -> dict[str, Any]:
    return {
        "title": "用户注册",
        "kind": kind,
        "register_kinds": REGISTER_KINDS,
        "values": form.values if form else {},
        "errors": form.errors if form else {},
        "notice": notice,
        # Seconds before 获取验证码 may be pressed again (the page counts them down).
        "code_wait": code_wait,
    }


async def _send_code(
    request: Request, form: Form, kind: ApplicantKind, again: Callable[..., Response]
) -> Response:
    """获取验证码: send a registration code to the form's phone (the handler's for a unit)
    and show the form again with the other values kept, or the error next to the phone."""
    if not common.anon_csrf_ok(request, form.data):
        form.errors["_form"] = EXPIRED
        return again(403)
    phone_field = CODE_PHONE_FIELD[kind]
    for name, label in REGISTER_FIELDS[kind].items():
        if name != "password":
            form.text(name, label=label)
    phone = form.values.get(phone_field, "")
    if not phone:
        form.errors[phone_field] = "请填写手机号码"
        return again(422)
    clock = request.app.state.clock
    try:
        sent = await run_in_threadpool(
            send_verification_code,
            deps.get_db(request),
            phone=phone,
            purpose="register",
            client_address=deps.client_address(request),
            sms=deps.get_sms(request),
            at=clock.now(),
            settings=deps.get_settings(request),
        )
    except DomainError as exc:
        form.errors[phone_field] = exc.message
        response = again(exc.status if exc.status in (422, 429, 503) else 422)
        if isinstance(exc, TooManyRequests) and exc.retry_after_seconds:
            response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
    notice = f"验证码已发送至手机号码 {mask_phone(phone)}，{_code_minutes(request)}分钟内有效"
    return again(200, notice=notice, code_wait=sent.resend_after_seconds)


def _code_minutes(request: Request) -> int:
    return deps.get_settings(request).verification_code_minutes


async def show_register(
    request: Request, *, template: str, extra: dict[str, Any] | None = None
) -> Response:
    ctx = register_context(kind=_kind_of(request.query_params.get("kind")))
    ctx.update(extra or {})
    return common.render(request, template, ctx)


async def do_register(
    request: Request, *, template: str, login_url: str, extra: dict[str, Any] | None = None
) -> Response:
    """POST of the registration form: a redirect to the login page, or the form with its
    errors (a refused password is not handed back)."""
    form = await common.read_form(request)
    kind = _kind_of(form.text("kind", max_chars=KIND_MAX_CHARS))
    form.values["kind"] = kind

    def again(status: int, *, notice: str | None = None, code_wait: int = 0) -> Response:
        ctx = register_context(kind=kind, form=form, notice=notice, code_wait=code_wait)
        ctx.update(extra or {})
        return common.render(request, template, ctx, status_code=status)

    if form.text("action", max_chars=KIND_MAX_CHARS) == SEND_CODE:
        return await _send_code(request, form, kind, again)

    model: type[RegisterPersonIn | RegisterUnitIn] = (
        RegisterPersonIn if kind == "person" else RegisterUnitIn
    )
    body = common.form_model(
        form,
        model,
        labels=REGISTER_FIELDS[kind],
        secret_fields=("password",),
        missing={"password": "请设置密码"},
    )
    confirm = form.secret("password_confirm")
    if not common.anon_csrf_ok(request, form.data):
        form.errors.clear()
        form.errors["_form"] = EXPIRED
        return again(403)
    if body is not None and body.password != confirm:
        form.errors.setdefault("password_confirm", "两次输入的密码不一致")
    if body is None or form.errors:
        return again(422)

    clock = request.app.state.clock
    settings = deps.get_settings(request)
    registration = body

    def work(session: Session) -> None:
        # The model's fields are the service's parameters, as in the API's routes.
        if isinstance(registration, RegisterPersonIn):
            accounts.register_person(
                session,
                **registration.model_dump(),
                identity_check=deps.get_identity_check(request),
                at=clock.now(),
                today=clock.today(),
                settings=settings,
            )
        else:
            accounts.register_unit(
                session,
                **registration.model_dump(),
                at=clock.now(),
                today=clock.today(),
                settings=settings,
            )

    db = deps.get_db(request)
    try:
        await run_in_threadpool(
            count_registration,
            db,
            client_address=deps.client_address(request),
            at=clock.now(),
            settings=deps.get_settings(request),
        )
    except TooManyRequests as exc:
        return _too_many(again, form, exc)
    try:
        # Committed even when refused: a wrong code counts its try.
        await run_in_threadpool(commit_even_if_refused, db, work)
    except DomainError as exc:
        form.fail(exc)
        if exc.field == "password":
            # A refused password is typed again, so do not hand it back.
            form.values["password"] = form.values["password_confirm"] = ""
        return again(exc.status if exc.status in (409, 422, 503) else 422)
    return common.redirect(login_url, kind=kind, done="registered")


# --------------------------------------------------------------------------- logout


async def do_logout(request: Request, *, after: str, principal: Principal | None) -> Response:
    """End the session on the server (if any) and clear its cookie; then ``after``."""
    if principal is not None:
        await run_in_threadpool(
            end_session, deps.get_db(request), principal=principal, at=request.app.state.clock.now()
        )
    response = common.redirect(after, done="logged_out")
    clear_session_cookie(response, settings=deps.get_settings(request))
    return response


# --------------------------------------------------------------------------- one site's routes


@dataclass(frozen=True)
class Site:
    """Where a citizen's site (PC 电子税务局 ``/etax``, phone 楚税通 ``/m``) keeps its login,
    registration and logout: its address prefix and templates, where a login lands by default
    and a logout ends, and what its layout adds to each form's context."""

    prefix: str
    templates: str
    home: str
    after_login: str
    login_extra: dict[str, Any] = field(default_factory=dict)
    register_extra: dict[str, Any] = field(default_factory=dict)


def add_account_routes(router: APIRouter, site: Site) -> None:
    """登录, 用户注册 and 退出 of ``site`` on ``router``: GET shows a form, POST submits it."""
    login_template = f"{site.templates}/login.html"
    register_template = f"{site.templates}/register.html"
    login_url = f"{site.prefix}/login"

    async def login_page(request: Request, principal: guard.PagePrincipal) -> Response:
        return await show_login(
            request,
            principal=principal,
            template=login_template,
            default_next=site.after_login,
            extra=site.login_extra,
        )

    async def login_submit(request: Request) -> Response:
        return await do_login(
            request, template=login_template, default_next=site.after_login, extra=site.login_extra
        )

    async def register_page(request: Request, principal: guard.PagePrincipal) -> Response:
        return await show_register(request, template=register_template, extra=site.register_extra)

    async def register_submit(request: Request) -> Response:
        return await do_register(
            request, template=register_template, login_url=login_url, extra=site.register_extra
        )

    async def logout(request: Request, principal: guard.PagePrincipal) -> Response:
        return await do_logout(request, after=site.home, principal=principal)

    router.add_api_route(login_url, login_page, methods=["GET"])
    router.add_api_route(login_url, login_submit, methods=["POST"])
    router.add_api_route(f"{site.prefix}/register", register_page, methods=["GET"])
    router.add_api_route(f"{site.prefix}/register", register_submit, methods=["POST"])
    router.add_api_route(f"{site.prefix}/logout", logout, methods=["POST"])
