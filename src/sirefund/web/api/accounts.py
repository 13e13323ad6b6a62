"""API routes: registration, login (sessions), logout and the current account.

Everything here hashes or verifies passwords (argon2, slow on purpose), so the routes are plain
``def``: FastAPI runs them in a worker thread, never on the event loop. The login transaction and the
cookie are web/session.py's, shared with the login pages.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request, Response, status

from ...services import accounts
from ..deps import (
    AppSettings,
    Clock,
    CurrentPrincipal,
    DbSession,
    RealNameCheck,
    Sms,
    client_address,
)
from ..errors import error_responses
from ..session import (
    clear_session_cookie,
    commit_even_if_refused,
    count_registration,
    end_session,
    perform_login,
    send_verification_code,
    set_session_cookie,
)
from .accounts_schemas import (
    LoginIn,
    MeOut,
    PersonOut,
    RegisterPersonIn,
    RegisterUnitIn,
    SessionOut,
    UnitOut,
    VerificationCodeIn,
    VerificationCodeOut,
)

router = APIRouter(tags=["accounts"])


# --------------------------------------------------------------------------- routes


@router.post(
    "/verification-codes",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=VerificationCodeOut,
    summary="获取短信验证码",
    responses=error_responses(413, 422, 429, 503),
)
def request_verification_code(
    body: VerificationCodeIn,
    request: Request,
    db: DbSession,
    clock: Clock,
    settings: AppSettings,
    sms: Sms,
) -> VerificationCodeOut:
    """Send a 6-digit code to the phone (valid 5 minutes, 5 tries). The answer is the same
    whether or not the phone has an account. One code per phone per 60 s and 10 a day, and
    a budget per client address: 429 `verification.too_frequent` with Retry-After."""
    sent = send_verification_code(
        db,
        phone=body.phone,
        purpose=body.purpose,
        client_address=client_address(request),
        sms=sms,
        at=clock.now(),
        settings=settings,
    )
    return VerificationCodeOut(resend_after_seconds=sent.resend_after_seconds)


@router.post(
    "/register/person",
    status_code=status.HTTP_201_CREATED,
    response_model=PersonOut,
    summary="自然人注册（实名）",
    responses=error_responses(409, 413, 422, 429, 503),
)
def register_person(
    body: RegisterPersonIn,
    request: Request,
    db: DbSession,
    clock: Clock,
    settings: AppSettings,
    identity_check: RealNameCheck,
) -> PersonOut:
    """Real-name registration: the SMS code sent to the phone (422
    `verification.code_invalid`) and the real-name check that the phone is this ID number's
    and name's (422 `identity.not_verified`). When the system already knows the ID number
    (from imported payments) the name must match it; 409 when the ID is registered. One
    client address may try so many registrations per window (429 `register.too_frequent`)."""
    count_registration(
        db, client_address=client_address(request), at=clock.now(), settings=settings
    )
    person = commit_even_if_refused(
        db,
        lambda session: accounts.register_person(
            session,
            **body.model_dump(),
            identity_check=identity_check,
            at=clock.now(),
            today=clock.today(),
            settings=settings,
        ),
    )
    return PersonOut.model_validate(person, from_attributes=True)


@router.post(
    "/register/unit",
    status_code=status.HTTP_201_CREATED,
    response_model=UnitOut,
    summary="单位（村组）注册（办税员）",
    responses=error_responses(409, 413, 422, 429),
)
def register_unit(
    body: RegisterUnitIn, request: Request, db: DbSession, clock: Clock, settings: AppSettings
) -> UnitOut:
    """Register a unit through its 办税员 on record, with the code sent to the handler's
    phone: the unit must be known, its name must match and the handler must be the one on
    record, else 422 `unit.handler_not_on_record`. Throttled per client address like a
    person's registration."""
    count_registration(
        db, client_address=client_address(request), at=clock.now(), settings=settings
    )
    unit = commit_even_if_refused(
        db,
        lambda session: accounts.register_unit(
            session, **body.model_dump(), at=clock.now(), today=clock.today(), settings=settings
        ),
    )
    return UnitOut.model_validate(unit, from_attributes=True)


@router.post(
    "/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionOut,
    summary="登录",
    responses=error_responses(401, 413, 422, 429),
)
def open_session(
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
    token, principal = perform_login(
        db, body, client_address=client_address(request), at=clock.now(), settings=settings
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
    end_session(db, principal=principal, at=clock.now())
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
    with db.read() as session:
        view = accounts.describe_account(session, principal=principal)
    return MeOut(**asdict(view), csrf_token=principal.csrf_token)
