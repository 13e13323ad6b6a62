"""API routes: registration, login (sessions), logout and the current account.

Everything here hashes or verifies passwords (argon2, slow on purpose), so the work runs in a
worker thread (run_in_threadpool), never on the event loop.

The pages reuse `perform_login`, `set_session_cookie` and `clear_session_cookie`, so a form
login and an API login behave the same (throttling, cookie attributes).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ...config import Settings
from ...domain.errors import DomainError
from ...services import accounts
from ...services.accounts import Principal
from ..deps import (
    SESSION_COOKIE,
    AppSettings,
    Clock,
    CurrentPrincipal,
    Db,
    DbSession,
    client_address,
)
from ..errors import error_responses

router = APIRouter(tags=["accounts"])


# --------------------------------------------------------------------------- input types


def _plain_text(value: str) -> str:
    """Refuse control characters and lone surrogates: no one types them, and the database
    (NUL on PostgreSQL) or the UTF-8 encoder (surrogates) would choke on them."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t":
            raise ValueError("内容包含不允许的字符")
    return value


# Every string is capped: nothing unbounded reaches argon2, the database or a log line.
IdNumberText = Annotated[str, Field(max_length=24), AfterValidator(_plain_text)]
TaxIdText = Annotated[str, Field(max_length=24), AfterValidator(_plain_text)]
NameText = Annotated[str, Field(max_length=50), AfterValidator(_plain_text)]
UnitNameText = Annotated[str, Field(max_length=100), AfterValidator(_plain_text)]
PhoneText = Annotated[str, Field(max_length=20), AfterValidator(_plain_text)]
UsernameText = Annotated[str, Field(max_length=40), AfterValidator(_plain_text)]
LoginText = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_plain_text)]
PasswordText = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_plain_text)]


class RegisterPersonIn(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "id_number": "420703195803120013",
                    "name": "邱世贵",
                    "phone": "13812341234",
                    "password": "Hubei-2026-refund",
                    "username": "qiushigui",
                }
            ]
        },
    )
    id_number: IdNumberText = Field(description="居民身份证号码（18位）")
    name: NameText = Field(description="姓名，须与系统登记的一致")
    phone: PhoneText = Field(description="手机号码")
    password: PasswordText = Field(description="密码，至少8位，不可为常见密码")
    username: UsernameText | None = Field(
        default=None, description="用户名（可选），4至40位字母、数字或下划线，以字母开头"
    )


class RegisterUnitIn(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "tax_id": "544207030000000001",
                    "name": "华容区庙岭镇新庙村村民委员会",
                    "password": "Hubei-2026-refund",
                }
            ]
        },
    )
    tax_id: TaxIdText = Field(description="纳税人识别号（统一社会信用代码）")
    name: UnitNameText = Field(description="单位名称，须与系统登记的一致")
    password: PasswordText = Field(description="密码，至少8位，不可为常见密码")


class LoginIn(BaseModel):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {"kind": "person", "login": "420703195803120013", "password": "Hubei-2026-refund"},
                {"kind": "person", "login": "13812341234", "password": "Hubei-2026-refund"},
                {"kind": "unit", "login": "544207030000000001", "password": "Hubei-2026-refund"},
                {"kind": "officer", "login": "24207030001", "password": "Hubei-2026-refund"},
            ]
        },
    )
    kind: Literal["person", "unit", "officer"] = Field(
        description="账户类型：自然人、单位（村组）、税务人员"
    )
    login: LoginText = Field(
        description="自然人：身份证号码、手机号码或用户名；单位：纳税人识别号；税务人员：人员代码"
    )
    password: PasswordText = Field(description="密码")


# --------------------------------------------------------------------------- output types


class PersonOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "person",
                    "display_name": "邱世贵",
                    "region_code": "420703",
                    "id_number_masked": "4****************3",
                    "phone_masked": "138****1234",
                    "username": "qiushigui",
                    "registered_at": "2026-03-10T09:30:00Z",
                }
            ]
        }
    )
    kind: Literal["person"] = "person"
    display_name: str
    region_code: str
    id_number_masked: str
    phone_masked: str | None
    username: str | None
    registered_at: datetime | None


class UnitOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "unit",
                    "display_name": "华容区庙岭镇新庙村村民委员会",
                    "region_code": "420703",
                    "tax_id": "544207030000000001",
                    "ss_no": "42098400001",
                    "registered_at": "2026-03-10T09:30:00Z",
                }
            ]
        }
    )
    kind: Literal["unit"] = "unit"
    display_name: str
    region_code: str
    tax_id: str
    ss_no: str
    registered_at: datetime | None


class SessionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "q3Vb...（仅返回一次）",
                    "kind": "person",
                    "display_name": "邱世贵",
                    "csrf_token": "H7x...",
                    "expires_at": "2026-03-10T21:30:00Z",
                }
            ]
        }
    )
    token: str = Field(
        description="会话令牌：以 Authorization: Bearer 发送；浏览器另得同值的 HttpOnly Cookie"
    )
    kind: Literal["person", "unit", "officer"]
    display_name: str
    csrf_token: str = Field(
        description="以 Cookie 会话提交修改时须放入 X-CSRF-Token 请求头或表单 csrf_token 字段"
    )
    expires_at: datetime = Field(description="会话的绝对过期时间（空闲30分钟也会结束）")


class MeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "person",
                    "display_name": "邱世贵",
                    "region_code": "420703",
                    "id_number_masked": "4****************3",
                    "phone_masked": "138****1234",
                    "username": "qiushigui",
                    "registered_at": "2026-03-10T09:30:00Z",
                    "csrf_token": "H7x...",
                    "expires_at": "2026-03-10T21:30:00Z",
                }
            ]
        }
    )
    kind: Literal["person", "unit", "officer"]
    display_name: str
    region_code: str
    csrf_token: str
    expires_at: datetime | None
    # person
    id_number_masked: str | None = None
    phone_masked: str | None = None
    username: str | None = None
    # unit
    tax_id: str | None = None
    ss_no: str | None = None
    registered_at: datetime | None = None
    # officer
    officer_code: str | None = None
    is_reviewer: bool | None = None
    is_initiator: bool | None = None


# --------------------------------------------------------------------------- helpers for pages


def perform_login(
    db: Db,
    *,
    kind: str,
    login: str,
    password: str,
    client_address: str,
    at: datetime,
    settings: Settings,
) -> tuple[str, Principal]:
    """accounts.login in its own transaction, committed even when the login is refused (the
    failure must count toward throttling). Blocking: call through run_in_threadpool."""
    refused: DomainError | None = None
    with db.begin() as session:
        try:
            return accounts.login(
                session,
                kind=kind,
                login=login,
                password=password,
                client_address=client_address,
                at=at,
                settings=settings,
            )
        except DomainError as exc:
            refused = exc
    raise refused


def set_session_cookie(response: Response, *, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_absolute_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
    )


def clear_session_cookie(response: Response, *, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.cookie_secure
    )


# --------------------------------------------------------------------------- routes


@router.post(
    "/register/person",
    status_code=status.HTTP_201_CREATED,
    response_model=PersonOut,
    summary="自然人注册",
    responses=error_responses(409, 413, 422),
)
async def register_person(body: RegisterPersonIn, db: DbSession, clock: Clock) -> PersonOut:
    """Register a person. When the system already knows the ID number (from imported
    payments) the name must match it; an unknown ID creates the person."""

    def work() -> PersonOut:
        with db.begin() as session:
            person = accounts.register_person(
                session,
                id_number=body.id_number,
                name=body.name,
                phone=body.phone,
                password=body.password,
                username=body.username,
                at=clock.now(),
                today=clock.today(),
            )
            return PersonOut(**accounts.account_summary(person))

    return await run_in_threadpool(work)


@router.post(
    "/register/unit",
    status_code=status.HTTP_201_CREATED,
    response_model=UnitOut,
    summary="单位（村组）注册",
    responses=error_responses(409, 413, 422),
)
async def register_unit(body: RegisterUnitIn, db: DbSession, clock: Clock) -> UnitOut:
    """Register a unit known from imported unit payments; the name must match its tax ID."""

    def work() -> UnitOut:
        with db.begin() as session:
            unit = accounts.register_unit(
                session, tax_id=body.tax_id, name=body.name, password=body.password, at=clock.now()
            )
            return UnitOut(**accounts.account_summary(unit))

    return await run_in_threadpool(work)


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionOut,
    summary="登录",
    responses=error_responses(401, 413, 422, 429),
)
async def open_session(
    body: LoginIn,
    request: Request,
    response: Response,
    db: DbSession,
    clock: Clock,
    settings: AppSettings,
) -> SessionOut:
    """Log in. The token is returned once and also set as an HttpOnly, SameSite=Lax cookie
    (`sirefund_session`); a cookie session must send `csrf_token` with every write.
    Wrong credentials and unknown accounts get the same 401; repeated failures per account
    or per client address get 429."""
    token, principal = await run_in_threadpool(
        perform_login,
        db,
        kind=body.kind,
        login=body.login,
        password=body.password,
        client_address=client_address(request),
        at=clock.now(),
        settings=settings,
    )
    set_session_cookie(response, token=token, settings=settings)
    assert principal.expires_at is not None
    return SessionOut(
        token=token,
        kind=principal.kind,
        display_name=principal.display_name,
        csrf_token=principal.csrf_token,
        expires_at=principal.expires_at,
    )


@router.delete(
    "/sessions/current",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="退出登录",
    responses=error_responses(401, 403),
)
def delete_current_session(
    principal: CurrentPrincipal, db: DbSession, clock: Clock, settings: AppSettings
) -> Response:
    """Log out: the session ends on the server at once and the cookie is cleared."""
    with db.begin() as session:
        accounts.revoke_session(session, session_id=principal.session_id, at=clock.now())
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    clear_session_cookie(response, settings=settings)
    return response


@router.get(
    "/me",
    response_model=MeOut,
    response_model_exclude_none=True,
    summary="当前账户",
    responses=error_responses(401),
)
def me(principal: CurrentPrincipal, db: DbSession) -> MeOut:
    """The logged-in account, ID number and phone masked."""
    with db.begin() as session:
        view = accounts.describe_account(session, principal=principal)
    return MeOut(**view, csrf_token=principal.csrf_token)
