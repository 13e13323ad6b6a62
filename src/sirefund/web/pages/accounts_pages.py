"""Login, registration and logout as HTML forms, shared by the PC and the phone pages.

The work is the services' (accounts.login / register_person / register_unit /
revoke_session, through the API module's `perform_login` so that a form login is throttled
and recorded exactly like an API login); this module only reads the form, shows each error
next to its field and sets or clears the session cookie.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...domain.errors import DomainError, TooManyRequests
from ...services import accounts
from ...services.accounts import Principal
from ..api.accounts import perform_login
from ..deps import client_address
from . import common
from .common import Form

LOGIN_KINDS = {"person": "自然人业务", "unit": "单位业务（村组）"}
LOGIN_LABELS = {"person": "居民身份证号码/手机号码/用户名", "unit": "纳税人识别号"}
LOGIN_PLACEHOLDERS = {"person": "请输入身份证号、手机号或用户名", "unit": "请输入纳税人识别号"}


def _kind_of(value: object) -> str:
    return value if isinstance(value, str) and value in LOGIN_KINDS else "person"


def login_context(
    request: Request, *, kind: str, form: Form | None = None, next_url: str = ""
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
    ctx = login_context(request, kind=kind, next_url=next_url)
    ctx.update(extra or {})
    return common.render(request, template, ctx)


async def do_login(
    request: Request, *, template: str, default_next: str, extra: dict[str, Any] | None = None
) -> Response:
    """POST of the login form: a session cookie and a redirect, or the form with its errors."""
    form = await common.read_form(request)
    kind = _kind_of(form.text("kind", max_chars=10))
    form.values["kind"] = kind
    login = form.text("login", max_chars=64, label="账号")
    next_url = common.safe_next(form.text("next", max_chars=500), default_next)

    def again(status: int) -> Response:
        ctx = login_context(request, kind=kind, form=form, next_url=next_url)
        ctx.update(extra or {})
        return common.render(request, template, ctx, status_code=status)

    if not common.anon_csrf_ok(request, form.data):
        form.errors["_form"] = "页面已过期，请重新提交"
        return again(403)
    if not login:
        form.errors["login"] = f"请输入{LOGIN_LABELS[kind]}"
    return await finish_login(request, form, kind=kind, login=login, next_url=next_url, again=again)


async def finish_login(
    request: Request,
    form: Form,
    *,
    kind: str,
    login: str,
    next_url: str,
    again: Callable[[int], Response],
) -> Response:
    """The end of every login form (citizen, unit, officer), once the page has read and checked
    its own fields and the CSRF token: the password's presence and length, then perform_login
    in a thread. A redirect to ``next_url`` with the session cookie, or ``again(status)``: the
    form with its errors."""
    password_raw = form.data.get("password")
    password = password_raw if isinstance(password_raw, str) else ""
    if not password:
        form.errors["password"] = "请输入密码"
    elif len(password) > 128:
        form.errors["password"] = "密码不能超过128位"
    if form.errors:
        return again(422)

    app = request.app
    try:
        token, _principal = await run_in_threadpool(
            perform_login,
            common.deps.Db(app.state.session_factory),
            kind=kind,
            login=login,
            password=password,
            client_address=client_address(request),
            at=app.state.clock.now(),
            settings=app.state.settings,
        )
    except TooManyRequests as exc:
        form.errors["_form"] = exc.message
        response = again(429)
        if exc.retry_after_seconds:
            response.headers["Retry-After"] = str(exc.retry_after_seconds)
        return response
    except DomainError as exc:
        # One answer for a wrong password and an unknown account: shown under the password.
        form.fail(
            exc,
            default_field="password",
            aliases={"kind": "_form", "login": "login", "password": "password"},
        )
        return again(exc.status if exc.status in (401, 403, 422) else 422)

    response = common.redirect(next_url)
    common.set_session_cookie(response, request, token)
    return response


REGISTER_KINDS = {"person": "自然人用户注册", "unit": "单位（村组）用户注册"}


def register_context(*, kind: str, form: Form | None = None) -> dict[str, Any]:
    return {
        "title": "用户注册",
        "kind": kind,
        "register_kinds": REGISTER_KINDS,
        "values": form.values if form else {},
        "errors": form.errors if form else {},
    }


async def show_register(
    request: Request,
    *,
    template: str,
    extra: dict[str, Any] | None = None,
    principal: Principal | None,
) -> Response:
    kind = _kind_of(request.query_params.get("kind"))
    ctx = register_context(kind=kind)
    ctx.update(extra or {})
    return common.render(request, template, ctx)


async def do_register(
    request: Request, *, template: str, login_url: str, extra: dict[str, Any] | None = None
) -> Response:
    form = await common.read_form(request)
    kind = _kind_of(form.text("kind", max_chars=10))
    form.values["kind"] = kind

    def again(status: int) -> Response:
        ctx = register_context(kind=kind, form=form)
        ctx.update(extra or {})
        return common.render(request, template, ctx, status_code=status)

    if not common.anon_csrf_ok(request, form.data):
        form.errors["_form"] = "页面已过期，请重新提交"
        return again(403)
    password = form.text("password", max_chars=128, label="密码")
    confirm = form.text("password_confirm", max_chars=128, label="确认密码")
    name = form.text("name", max_chars=100, label="名称")
    if kind == "person":
        id_number = form.text("id_number", max_chars=24, label="证件号码")
        phone = form.text("phone", max_chars=20, label="手机号码")
        username = form.text("username", max_chars=40, label="用户名")
        for field, label in (("id_number", "证件号码"), ("name", "姓名"), ("phone", "手机号码")):
            if not form.values[field]:
                form.errors.setdefault(field, f"请填写{label}")
    else:
        tax_id = form.text("tax_id", max_chars=24, label="纳税人识别号")
        for field, label in (("tax_id", "纳税人识别号"), ("name", "单位名称")):
            if not form.values[field]:
                form.errors.setdefault(field, f"请填写{label}")
    if not password:
        form.errors.setdefault("password", "请设置密码")
    elif password != confirm:
        form.errors.setdefault("password_confirm", "两次输入的密码不一致")
    if form.errors:
        return again(422)

    app = request.app
    clock = app.state.clock

    def work() -> None:
        with common.deps.Db(app.state.session_factory).begin() as session:
            if kind == "person":
                accounts.register_person(
                    session,
                    id_number=id_number,
                    name=name,
                    phone=phone,
                    password=password,
                    username=username or None,
                    at=clock.now(),
                    today=clock.today(),
                )
            else:
                accounts.register_unit(
                    session, tax_id=tax_id, name=name, password=password, at=clock.now()
                )

    try:
        await run_in_threadpool(work)
    except DomainError as exc:
        form.fail(exc)
        if exc.field == "password":
            # A refused password is typed again, so do not hand it back.
            form.values["password"] = form.values["password_confirm"] = ""
        return again(exc.status if exc.status in (409, 422) else 422)
    return common.redirect(login_url, kind=kind, done="registered")


async def do_logout(request: Request, *, after: str, principal: Principal | None) -> Response:
    if principal is not None:
        app = request.app

        def work() -> None:
            with common.deps.Db(app.state.session_factory).begin() as session:
                accounts.revoke_session(
                    session, session_id=principal.session_id, at=app.state.clock.now()
                )

        await run_in_threadpool(work)
    response = common.redirect(after, done="logged_out")
    common.clear_session_cookie(response, request)
    return response
