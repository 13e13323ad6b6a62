"""SMS verification codes (短信验证码): sent through the SMS gateway port, checked once.

A code is 6 random digits; only an HMAC-SHA256 of it (keyed with the app's secret, bound to
the phone and the purpose) is stored. It lives `verification_code_minutes` (5), allows
`verification_code_tries` (5) answers, is used up by a right one, and a newer code for the same
phone and purpose replaces it. One phone gets one code per `verification_resend_seconds` (60)
and `verification_daily_max` (10) a day; one client address may ask for
`verification_address_max_sends` codes per window (rows of the login throttle's table under
scope "sms:addr:<ip>"). Refusals are 429 `verification.too_frequent` with the seconds to wait.

Whether the phone has an account is never looked at: the answer (and the work done) is the
same for every phone.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from ..clock import as_utc
from ..config import Settings
from ..domain import identity
from ..domain.errors import Invalid, TooManyRequests
from ..models import LoginFailure, SecurityEvent, VerificationCode
from .ports import SmsGateway

Purpose = Literal["register", "reset_password", "change_phone"]
PURPOSES: tuple[Purpose, ...] = ("register", "reset_password", "change_phone")
CODE_DIGITS = 6
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_DAY = timedelta(days=1)
_MINUTE = 60

#: What each purpose's message says the code is for.
_PURPOSE_TEXT: dict[Purpose, str] = {
    "register": "注册",
    "reset_password": "重置密码",
    "change_phone": "更换手机号码",
}
CODE_INVALID = "verification.code_invalid"
CODE_INVALID_MESSAGE = "验证码错误或已失效，请重新获取"


@dataclass(frozen=True)
class CodeSent:
    """The answer to a request for a code: when the next one may be asked for."""

    resend_after_seconds: int


def _check_mobile(phone: str) -> str:
    text = identity.check_phone(phone, field="phone")
    if not _MOBILE.fullmatch(text):
        raise Invalid("register.phone_not_mobile", "请填写11位手机号码", "phone")
    return text


def code_hash(settings: Settings, *, phone: str, purpose: str, code: str) -> str:
    key = settings.resolved_secret_key().encode()
    return hmac.new(key, f"{purpose}:{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def _wait_text(seconds: int) -> str:
    if seconds < _MINUTE:
        return f"验证码发送过于频繁，请{seconds}秒后再试"
    return f"验证码发送过于频繁，请{math.ceil(seconds / _MINUTE)}分钟后再试"


def _too_frequent(session: Session, wait: float, *, at: datetime, detail: str) -> TooManyRequests:
    seconds = max(1, math.ceil(wait))
    session.add(
        SecurityEvent(at=at, kind="verification.throttled", actor="anonymous", detail=detail)
    )
    return TooManyRequests(
        "verification.too_frequent", _wait_text(seconds), "phone", retry_after_seconds=seconds
    )


def _phone_wait(session: Session, *, phone: str, at: datetime, settings: Settings) -> float:
    """Seconds until this phone may get another code (0: now)."""
    count, first, last = session.execute(
        select(
            func.count(),
            func.min(VerificationCode.created_at),
            func.max(VerificationCode.created_at),
        ).where(VerificationCode.phone == phone, VerificationCode.created_at > at - _DAY)
    ).one()
    wait = 0.0
    if last is not None:
        resend = as_utc(last) + timedelta(seconds=settings.verification_resend_seconds)
        wait = max(wait, (resend - at).total_seconds())
    if count >= settings.verification_daily_max and first is not None:
        wait = max(wait, (as_utc(first) + _DAY - at).total_seconds())
    return wait


def _address_scope(client_address: str) -> str:
    return f"sms:addr:{(client_address or 'unknown')[:90]}"


def _address_wait(session: Session, *, scope: str, at: datetime, settings: Settings) -> float:
    window = timedelta(seconds=settings.verification_address_window_seconds)
    count, first = session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.scope == scope, LoginFailure.at > at - window
        )
    ).one()
    if count >= settings.verification_address_max_sends and first is not None:
        return (as_utc(first) + window - at).total_seconds()
    return 0.0


def send_code(
    session: Session,
    *,
    phone: str,
    purpose: Purpose,
    client_address: str,
    sms: SmsGateway,
    at: datetime,
    settings: Settings,
) -> CodeSent:
    """Send a new code for `purpose` to `phone` (POST /verification-codes).

    Refused with 429 `verification.too_frequent` (Retry-After) within the resend interval of
    the phone's last code, past its daily count, or past the client address's budget; 422 for
    a phone that is no mobile number; 503 when the gateway fails (nothing is then stored).
    Refusals add a security event only: the caller may commit either way.
    """
    phone = _check_mobile(phone)
    scope = _address_scope(client_address)
    address_wait = _address_wait(session, scope=scope, at=at, settings=settings)
    if address_wait > 0:
        raise _too_frequent(session, address_wait, at=at, detail=f"address={client_address[:60]}")
    phone_wait = _phone_wait(session, phone=phone, at=at, settings=settings)
    if phone_wait > 0:
        raise _too_frequent(
            session, phone_wait, at=at, detail=f"phone={identity.mask_phone(phone)}"
        )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    # Only the newest code of a phone and purpose counts.
    session.execute(
        update(VerificationCode)
        .where(
            VerificationCode.phone == phone,
            VerificationCode.purpose == purpose,
            VerificationCode.used_at.is_(None),
        )
        .values(used_at=at)
        .execution_options(synchronize_session=False)
    )
    session.add(
        VerificationCode(
            phone=phone,
            purpose=purpose,
            code_hash=code_hash(settings, phone=phone, purpose=purpose, code=code),
            created_at=at,
            expires_at=at + timedelta(minutes=settings.verification_code_minutes),
            attempts=0,
        )
    )
    # The budget's rows older than its window count no more: dropped here, so the table
    # needs no clean-up job.
    session.execute(
        delete(LoginFailure)
        .where(
            LoginFailure.scope.like("sms:%"),
            LoginFailure.at <= at - timedelta(seconds=settings.verification_address_window_seconds),
        )
        .execution_options(synchronize_session=False)
    )
    session.add(LoginFailure(scope=scope, at=at))
    session.flush()
    minutes = settings.verification_code_minutes
    sms.send(
        phone=phone,
        code=code,
        text=f"【湖北税务】您的{_PURPOSE_TEXT[purpose]}验证码为{code}，{minutes}分钟内有效。"
        "请勿将验证码告诉他人。",
    )
    return CodeSent(resend_after_seconds=settings.verification_resend_seconds)


def use_code(
    session: Session,
    *,
    phone: str,
    purpose: Purpose,
    code: str,
    at: datetime,
    settings: Settings,
    field: str = "verification_code",
) -> None:
    """Accept `code` for `phone` and `purpose` once, or raise 422 `verification.code_invalid`
    (wrong, expired, used, replaced, or out of tries: one answer for all).

    A wrong answer counts one try BEFORE the error is raised: the caller must commit the
    session even when this raises (web/session.py `commit_even_if_refused`). The right
    answer is taken conditionally, so of two requests racing with one code only one wins.
    """
    refused = Invalid(CODE_INVALID, CODE_INVALID_MESSAGE, field)
    row = session.execute(
        select(VerificationCode)
        .where(
            VerificationCode.phone == phone,
            VerificationCode.purpose == purpose,
            VerificationCode.used_at.is_(None),
        )
        .order_by(VerificationCode.created_at.desc(), VerificationCode.id.desc())
        .limit(1)
        # The tries as stored now, not as an earlier read of this session left them.
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if (
        row is None
        or as_utc(row.expires_at) <= at
        or row.attempts >= settings.verification_code_tries
    ):
        raise refused
    given = "".join((code or "").split())
    expected = code_hash(settings, phone=phone, purpose=purpose, code=given)
    if not hmac.compare_digest(expected, row.code_hash):
        tries = row.attempts + 1
        session.execute(
            update(VerificationCode)
            .where(VerificationCode.id == row.id)
            .values(
                attempts=VerificationCode.attempts + 1,
                used_at=at if tries >= settings.verification_code_tries else None,
            )
            .execution_options(synchronize_session=False)
        )
        session.flush()
        raise refused
    taken = cast(
        "CursorResult[Any]",
        session.execute(
            update(VerificationCode)
            .where(VerificationCode.id == row.id, VerificationCode.used_at.is_(None))
            .values(used_at=at)
            .execution_options(synchronize_session=False)
        ),
    ).rowcount
    if taken != 1:
        raise refused
