"""The browser session: the login transaction and the session cookie, shared by the API
(POST /sessions, DELETE /sessions/current) and the login pages, so a form login and an API
login are throttled and recorded alike and set the very same cookie; and the count of
registration attempts, throttled alike by the API and the registration pages.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from fastapi import Response
from sqlalchemy.orm import Session

from ..config import Settings
from ..domain.errors import DomainError
from ..services import accounts, verification
from ..services.accounts import Principal
from ..services.ports import SmsGateway
from .api.accounts_schemas import LoginIn
from .deps import SESSION_COOKIE, Db


def perform_login(
    db: Db, credentials: LoginIn, *, client_address: str, at: datetime, settings: Settings
) -> tuple[str, Principal]:
    """accounts.login in its own transaction, committed even when the login is refused (the
    failure must count toward throttling). Blocking (argon2): call from a worker thread (a plain
    ``def`` route, or run_in_threadpool).
    """
    refused: DomainError | None = None
    with db.begin() as session:
        try:
            return accounts.login(
                session,
                kind=credentials.kind,
                login=credentials.login,
                password=credentials.password,
                otp=credentials.otp,
                client_address=client_address,
                at=at,
                settings=settings,
            )
        except DomainError as exc:
            refused = exc
    raise refused


def count_registration(db: Db, *, client_address: str, at: datetime, settings: Settings) -> None:
    """Count a registration attempt of this address in a transaction of its own, committed
    before the registration runs so that a refused one counts too; TooManyRequests (429) once
    the address has spent its budget. Shared by the API and the registration pages."""
    refused: DomainError | None = None
    with db.begin() as session:
        try:
            accounts.count_registration_attempt(
                session, client_address=client_address, at=at, settings=settings
            )
        except DomainError as exc:
            refused = exc  # committed all the same: the refusal is in the security log
    if refused is not None:
        raise refused


T = TypeVar("T")


def commit_even_if_refused(db: Db, work: Callable[[Session], T]) -> T:
    """Run `work(session)` in one transaction that is committed even when it raises a domain
    error (and the error raised after the commit): a wrong SMS code counts its try
    (verification.use_code), which a rollback would forget. The services make no other
    write before such an error (the registration's own writes are in a savepoint).
    Blocking (argon2, the real-name check): call from a worker thread."""
    refused: DomainError | None = None
    with db.begin() as session:
        try:
            return work(session)
        except DomainError as exc:
            refused = exc
    raise refused


def send_verification_code(
    db: Db,
    *,
    phone: str,
    purpose: verification.Purpose,
    client_address: str,
    sms: SmsGateway,
    at: datetime,
    settings: Settings,
) -> verification.CodeSent:
    """verification.send_code in its own transaction; a refusal's security event is kept.
    Blocking (the SMS gateway): call from a worker thread."""
    return commit_even_if_refused(
        db,
        lambda session: verification.send_code(
            session,
            phone=phone,
            purpose=purpose,
            client_address=client_address,
            sms=sms,
            at=at,
            settings=settings,
        ),
    )


def end_session(db: Db, *, principal: Principal, at: datetime) -> None:
    """Log out: the session ends on the server at once, whatever the cookie still says."""
    with db.begin() as session:
        accounts.revoke_session(session, session_id=principal.session_id, at=at)


def set_session_cookie(response: Response, *, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.session_absolute_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
    )


def clear_session_cookie(response: Response, *, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=settings.secure_cookies
    )
