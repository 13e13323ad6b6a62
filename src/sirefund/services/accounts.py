"""Accounts and server-side sessions.

A session token is random; only its SHA-256 is stored, so logout and expiry really end a
session (30 minutes idle, 12 hours absolute by default). API clients send it as a Bearer
token, browsers as an HttpOnly cookie plus a per-session CSRF token.

Registration (register_person, register_unit) and login hash passwords with argon2, which
is slow on purpose: web code calls them in a worker thread (run_in_threadpool), never on the
event loop. Login records failures in the caller's session before raising, so the caller
commits even on failure (web/session.py `perform_login` does).

Inputs arrive validated and typed (web/api/accounts_schemas.py caps and cleans every string);
what is checked here is the domain's (ID number, phone, password strength, who is on record).
Answers are typed read models (`PersonAccount`, `UnitAccount`, `OfficerAccount`): ID number
and phone masked, instants in UTC; the web layer formats them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import (
    CursorResult,
    Executable,
    and_,
    delete,
    func,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..clock import as_utc
from ..config import Settings
from ..domain import identity
from ..domain.audit import AuditAction
from ..domain.errors import Conflict, Forbidden, Invalid, TooManyRequests, Unauthenticated
from ..models import AuthSession, LoginFailure, Officer, Person, SecurityEvent, Unit
from . import audit, passwords, queries, totp, verification
from .ports import IdentityCheck

AccountKind = Literal["person", "unit", "officer"]

#: A longer bearer token was never issued by us: refused before hashing or querying.
MAX_TOKEN_CHARS = 200


@dataclass(frozen=True)
class Principal:
    """Who is calling. `account_id` is persons.id, units.id or officers.id by `kind`."""

    kind: AccountKind
    account_id: int
    display_name: str
    region_code: str
    session_id: int
    csrf_token: str
    is_reviewer: bool = False
    is_initiator: bool = False
    is_auditor: bool = False
    is_supervisor: bool = False
    login_code: str = ""  # officer code, unit tax id; empty for persons
    expires_at: datetime | None = None  # the session's absolute end (UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(
    session: Session, *, kind: AccountKind, account_id: int, at: datetime, settings: Settings
) -> tuple[str, AuthSession]:
    """Open a session; returns the raw token (shown once) and the stored row."""
    token = secrets.token_urlsafe(32)
    row = AuthSession(
        token_hash=token_hash(token),
        account_kind=kind,
        account_id=account_id,
        csrf_token=secrets.token_urlsafe(24),
        created_at=at,
        last_seen_at=at,
        expires_at=at + timedelta(hours=settings.session_absolute_hours),
    )
    session.add(row)
    session.flush()
    return token, row


def _awaits_real_name(account: Person | Unit | Officer) -> bool:
    """An applicant account with a password that was never verified (registered before
    real-name registration, migration 0004): it may neither log in nor use a session."""
    return (
        isinstance(account, Person | Unit)
        and account.password_hash is not None
        and account.verified_at is None
    )


def _principal_for(session: Session, row: AuthSession) -> Principal | None:
    ends = as_utc(row.expires_at)
    if row.account_kind == "person":
        p = session.get(Person, row.account_id)
        if p is None or _awaits_real_name(p):
            return None
        return Principal(
            "person", p.id, p.name, p.region_code, row.id, row.csrf_token, expires_at=ends
        )
    if row.account_kind == "unit":
        u = session.get(Unit, row.account_id)
        if u is None or _awaits_real_name(u):
            return None
        return Principal(
            "unit",
            u.id,
            u.name,
            u.region_code,
            row.id,
            row.csrf_token,
            login_code=u.tax_id,
            expires_at=ends,
        )
    o = session.get(Officer, row.account_id)
    if o is None or not o.active:
        return None
    return Principal(
        "officer",
        o.id,
        o.name,
        o.region_code,
        row.id,
        row.csrf_token,
        is_reviewer=o.is_reviewer,
        is_initiator=o.is_initiator,
        is_auditor=o.is_auditor,
        is_supervisor=o.is_supervisor,
        login_code=o.code,
        expires_at=ends,
    )


def resolve_session(
    session: Session, *, token: str, at: datetime, settings: Settings
) -> Principal | None:
    """The principal of a live session, touching its idle timer; None if unknown or ended."""
    if len(token) > MAX_TOKEN_CHARS:
        return None
    row = session.execute(
        select(AuthSession).where(AuthSession.token_hash == token_hash(token))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    if _ended(row, at, settings):
        row.revoked_at = at
        return None
    # Every request restarts the idle timer (ASVS 7.3.1): the limit counts from the last use,
    # as recorded at most TOUCH_FRACTION-th of the timeout late (`_touch_due`).
    if _touch_due(row, at, settings):
        row.last_seen_at = at
    return _principal_for(session, row)


#: The idle timer is written back once the recorded last use is 1/TOUCH_FRACTION of the idle
#: timeout old, not on every request: a session may end up to that much early (1 minute of
#: 30), and a person clicking through pages writes once a minute instead of at each click.
TOUCH_FRACTION = 30


def _ended(row: AuthSession, at: datetime, settings: Settings) -> bool:
    return _ended_at(row.last_seen_at, row.expires_at, at, settings)


def _ended_at(last_seen: datetime, expires: datetime, at: datetime, settings: Settings) -> bool:
    idle_limit = as_utc(last_seen) + timedelta(minutes=settings.session_idle_minutes)
    return at >= as_utc(expires) or at >= idle_limit


def _touch_due(row: AuthSession, at: datetime, settings: Settings) -> bool:
    return _touch_due_at(row.last_seen_at, at, settings)


def _touch_due_at(last_seen: datetime, at: datetime, settings: Settings) -> bool:
    since = at - as_utc(last_seen)
    return since >= timedelta(minutes=settings.session_idle_minutes) / TOUCH_FRACTION


@dataclass(frozen=True, slots=True)
class SessionPeek:
    """What a read-only look at a session found: its principal, or that `resolve_session`
    must run in a write transaction (to restart the idle timer or to end the session)."""

    principal: Principal | None
    needs_write: bool


def peek_session(session: Session, *, token: str, at: datetime, settings: Settings) -> SessionPeek:
    """`resolve_session` without writing, for a read-only transaction (which on SQLite does
    not take the write lock). Most requests end here; the rest call `resolve_session`."""
    if len(token) > MAX_TOKEN_CHARS:
        return SessionPeek(None, needs_write=False)
    # The person of a person's session comes in the same statement: `_principal_for` then
    # finds it in the session's identity map (one round trip where two were).
    found = session.execute(
        select(AuthSession, Person)
        .outerjoin(
            Person, and_(AuthSession.account_kind == "person", Person.id == AuthSession.account_id)
        )
        .where(AuthSession.token_hash == token_hash(token))
    ).first()
    row = found[0] if found is not None else None
    if row is None or row.revoked_at is not None:
        return SessionPeek(None, needs_write=False)
    if _ended(row, at, settings) or _touch_due(row, at, settings):
        return SessionPeek(None, needs_write=True)
    return SessionPeek(_principal_for(session, row), needs_write=False)


@dataclass(frozen=True, slots=True)
class PersonPeek:
    """`peek_session` for a person's own reads: the principal (None: not a live person
    session; `kind` says whose it is), or that `resolve_session` must run first; with the
    person's name and masked ID number, which the "my payments" answers show."""

    principal: Principal | None
    needs_write: bool
    kind: str | None = None
    payer_name: str = ""
    id_number_masked: str = ""


#: The person's session and the person in one statement (issue 12; bench/reads.py reads it here).
PERSON_SESSION_SQL = queries.PERSON_SESSION_SQL


def _instant(value: object) -> datetime:
    """A timestamp as the driver hands it back (SQLite: ISO text, stored as UTC)."""
    return as_utc(
        datetime.fromisoformat(value) if isinstance(value, str) else cast("datetime", value)
    )


def peek_person_session(
    session: Session, *, token: str, at: datetime, settings: Settings
) -> PersonPeek:
    """`peek_session` of a person's session on the session's connection, without writing:
    the same answers (revoked, ended, idle timer due -> `needs_write`, unverified account)."""
    if len(token) > MAX_TOKEN_CHARS:
        return PersonPeek(None, needs_write=False)
    found = queries.driver_rows(session, PERSON_SESSION_SQL, (token_hash(token),))
    return person_peek(found[0] if found else None, at=at, settings=settings)


def person_peek(row: tuple[object, ...] | None, *, at: datetime, settings: Settings) -> PersonPeek:
    """What a PERSON_SESSION_SQL row (None: no such session) says, as `peek_person_session`."""
    if row is None or row[5] is not None:
        return PersonPeek(None, needs_write=False)
    last_seen, expires = _instant(row[3]), _instant(row[4])
    if _ended_at(last_seen, expires, at, settings) or _touch_due_at(last_seen, at, settings):
        return PersonPeek(None, needs_write=True)
    if row[1] != "person":
        return PersonPeek(None, needs_write=False, kind=str(row[1]))
    if row[6] is None or (row[10] and not row[11]):  # gone, or awaits real-name registration
        return PersonPeek(None, needs_write=False)
    name = str(row[7])
    principal = Principal(
        "person",
        int(cast("int", row[6])),
        name,
        str(row[8]),
        int(cast("int", row[0])),
        str(row[2]),
        expires_at=expires,
    )
    return PersonPeek(
        principal,
        needs_write=False,
        kind="person",
        payer_name=name,
        id_number_masked=identity.mask_id_number(cast("str | None", row[9])),
    )


def revoke_session(session: Session, *, session_id: int, at: datetime) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=at)
    )


def _revoke_account_sessions(
    session: Session, *, kind: AccountKind, account_id: int, at: datetime
) -> None:
    """End every session still open on one account (opened before it was verified)."""
    session.execute(
        update(AuthSession)
        .where(
            AuthSession.account_kind == kind,
            AuthSession.account_id == account_id,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=at)
        .execution_options(synchronize_session=False)
    )


def _rows_changed(session: Session, statement: Executable) -> int:
    """Rows an UPDATE or DELETE touched (its result is a cursor result; the stubs say Result)."""
    return cast("CursorResult[Any]", session.execute(statement)).rowcount


# --------------------------------------------------------------------------- registration

_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,39}")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_TAX_ID = re.compile(r"[0-9A-Z]{15,20}")


def _squeeze(value: str) -> str:
    """Every whitespace removed: people paste numbers grouped with spaces."""
    return "".join(value.split())


def _check_mobile(phone: str, *, field: str = "phone") -> str:
    text = identity.check_phone(phone, field=field)
    if not _MOBILE.fullmatch(text):
        raise Invalid("register.phone_not_mobile", "请填写11位手机号码", field)
    return text


def _check_username(username: str | None) -> str | None:
    """Optional. Stored lower-case so that `Qiu_SG` and `qiu_sg` are one name. It must start
    with a letter, so it can never be mistaken for an ID number or a phone at login."""
    text = (username or "").strip()
    if not text:
        return None
    if not _USERNAME.fullmatch(text):
        raise Invalid(
            "register.username_format",
            "用户名应为4至40位字母、数字或下划线，且以字母开头",
            "username",
        )
    return text.lower()


def _check_tax_id(tax_id: str) -> str:
    text = _squeeze(tax_id).upper()
    if not _TAX_ID.fullmatch(text):
        raise Invalid("register.tax_id_format", "纳税人识别号应为15至20位数字或大写字母", "tax_id")
    return text


def _refuse_taken_username(
    session: Session, *, person_id: int | None, username: str | None
) -> None:
    others = Person.id != person_id if person_id is not None else true()
    if (
        username
        and session.execute(select(Person.id).where(Person.username == username, others)).first()
    ):
        raise Conflict("register.username_taken", "该用户名已被使用，请换一个", "username")


def _release_phone(session: Session, *, phone: str, keeper_id: int | None, at: datetime) -> None:
    """The registrant has just proven `phone` (SMS code) and the carrier's real-name record
    says it is theirs: another account still holding it (a number given up and reassigned)
    lets go of it, and the registrant is told nothing about that account."""
    others = Person.id != keeper_id if keeper_id is not None else true()
    released = _rows_changed(
        session,
        update(Person)
        .where(Person.phone == phone, others)
        .values(phone=None)
        .execution_options(synchronize_session=False),
    )
    if released:
        session.add(
            SecurityEvent(
                at=at,
                kind="register.phone_reassigned",
                actor="anonymous",
                detail=f"phone={identity.mask_phone(phone)}",
            )
        )


_NOT_VERIFIED = ("identity.not_verified", "实名核验未通过：该手机号码不是以此证件号码和姓名登记的")


def register_person(
    session: Session,
    *,
    id_number: str,
    name: str,
    phone: str,
    verification_code: str,
    password: str,
    username: str | None = None,
    identity_check: IdentityCheck,
    at: datetime,
    today: date,
    settings: Settings,
) -> PersonAccount:
    """Real-name registration of a person (自然人实名注册); the account as its owner sees it.

    In this order: the shapes of ID number, name, phone, username and the password's
    strength; the SMS code sent to `phone` for registration (422
    `verification.code_invalid`, a wrong one counting a try); the real-name check, which must
    say that `phone` is this ID number's and name's (422 `identity.not_verified`). Only then
    is anything said about the account: a person already known from imported payments keeps
    their row, the name must be the one on record (`register.name_mismatch`), and a verified
    account of this ID is 409 `register.already_registered`. An account registered before
    real-name registration (password, not verified) is taken over by whoever passes these
    checks, its owner. Whether the phone belonged to another account is never said: it is
    released (`_release_phone`).

    The code's tries are recorded before an error is raised: the caller commits even when
    this raises (web/session.py `commit_even_if_refused`). Hashes the password (argon2,
    slow) and calls the identity service: call from a worker thread.
    """
    id_number = identity.check_resident_id(id_number, today=today)
    name = identity.check_name(name)
    phone = _check_mobile(phone)
    username = _check_username(username)
    birth_date = identity.resident_id_birth_date(id_number).strftime("%Y%m%d")
    passwords.check_strength(password, avoid=(id_number, birth_date, phone, username))

    verification.use_code(
        session, phone=phone, purpose="register", code=verification_code, at=at, settings=settings
    )
    if not identity_check.phone_belongs_to(id_number=id_number, name=name, phone=phone):
        raise Invalid(*_NOT_VERIFIED, "phone")

    person = session.execute(
        select(Person).where(Person.id_number == id_number)
    ).scalar_one_or_none()
    if person is not None:
        if person.name.strip() != name:
            raise Invalid(
                "register.name_mismatch", "姓名与证件号码登记的信息不一致，请核对", "name"
            )
        if person.verified_at is not None:
            raise Conflict(
                "register.already_registered", "该证件号码已注册，请直接登录", "id_number"
            )
    existing_id = person.id if person is not None else None
    _refuse_taken_username(session, person_id=existing_id, username=username)
    _release_phone(session, phone=phone, keeper_id=existing_id, at=at)

    password_hash = passwords.hash_password(password)
    try:
        with session.begin_nested():
            if person is None:
                person = Person(
                    id_number=id_number,
                    name=name,
                    region_code=id_number[:6],
                    phone=phone,
                    username=username,
                    password_hash=password_hash,
                    registered_at=at,
                    verified_at=at,
                    created_at=at,
                )
                session.add(person)
                session.flush()
            else:
                # Conditional: of two simultaneous registrations of one ID, one wins.
                claimed = _rows_changed(
                    session,
                    update(Person)
                    .where(Person.id == person.id, Person.verified_at.is_(None))
                    .values(
                        phone=phone,
                        username=username,
                        password_hash=password_hash,
                        registered_at=at,
                        verified_at=at,
                    )
                    .execution_options(synchronize_session=False),
                )
                if claimed != 1:
                    raise Conflict(
                        "register.already_registered", "该证件号码已注册，请直接登录", "id_number"
                    )
                # Sessions opened on the account before it was verified end now.
                _revoke_account_sessions(session, kind="person", account_id=person.id, at=at)
    except IntegrityError:
        # A concurrent registration took the ID, phone or username between check and write.
        _refuse_taken_username(session, person_id=existing_id, username=username)
        raise Conflict(
            "register.already_registered", "该证件号码已注册，请直接登录", "id_number"
        ) from None
    session.refresh(person)
    audit.record(
        session,
        actor=audit.Actor.person(person.id),
        action=AuditAction.REGISTER_PERSON,
        at=at,
        subject=audit.Subject(person_id=person.id),
        details={"known_before": existing_id is not None},
    )
    return _person_account(person)


_HANDLER_NOT_ON_RECORD = (
    "unit.handler_not_on_record",
    "未查询到该单位或办税员信息：单位须已登记，名称须一致，办税员须为登记的办税员",
)


def register_unit(
    session: Session,
    *,
    tax_id: str,
    name: str,
    handler_id_number: str,
    handler_name: str,
    handler_phone: str,
    verification_code: str,
    password: str,
    at: datetime,
    today: date,
    settings: Settings,
) -> UnitAccount:
    """Register a unit (村组) through its 办税员 on record (the `units` import).

    The shapes and the password first; then the SMS code sent to the handler's phone for
    registration (422 `verification.code_invalid`); then the unit must be known, its name
    must match, and the handler's ID number, name and phone must be the ones on record: any
    of these wrong is one answer, 422 `unit.handler_not_on_record`. A verified unit is 409
    `register.already_registered`; one registered before real-name registration is taken
    over by its handler. Commit even when this raises (the code's tries); hashes: call from
    a worker thread."""
    tax_id = _check_tax_id(tax_id)
    name = name.strip()
    if not name:
        raise Invalid("register.unit_name_required", "请填写单位名称", "name")
    try:
        handler_id = identity.check_resident_id(handler_id_number, today=today)
    except Invalid as exc:
        raise Invalid(exc.code, exc.message, "handler_id_number") from None
    handler = identity.check_name(handler_name, field="handler_name")
    phone = _check_mobile(handler_phone, field="handler_phone")
    birth_date = identity.resident_id_birth_date(handler_id).strftime("%Y%m%d")
    passwords.check_strength(password, avoid=(tax_id, handler_id, birth_date, phone))

    verification.use_code(
        session, phone=phone, purpose="register", code=verification_code, at=at, settings=settings
    )
    unit = session.execute(select(Unit).where(Unit.tax_id == tax_id)).scalar_one_or_none()
    if (
        unit is None
        or unit.name.strip() != name
        or unit.handler_id_number != handler_id
        or (unit.handler_name or "").strip() != handler
        or unit.handler_phone != phone
    ):
        raise Invalid(*_HANDLER_NOT_ON_RECORD, "handler_id_number")
    if unit.verified_at is not None:
        raise Conflict("register.already_registered", "该单位已注册，请直接登录", "tax_id")
    claimed = _rows_changed(
        session,
        update(Unit)
        .where(Unit.id == unit.id, Unit.verified_at.is_(None))
        .values(password_hash=passwords.hash_password(password), registered_at=at, verified_at=at)
        .execution_options(synchronize_session=False),
    )
    if claimed != 1:
        raise Conflict("register.already_registered", "该单位已注册，请直接登录", "tax_id")
    _revoke_account_sessions(session, kind="unit", account_id=unit.id, at=at)
    session.refresh(unit)
    audit.record(
        session,
        actor=audit.Actor.unit(unit.id),
        action=AuditAction.REGISTER_UNIT,
        at=at,
        subject=audit.Subject(unit_id=unit.id),
    )
    return _unit_account(unit)


# --------------------------------------------------------------------------- login

_INVALID_CREDENTIALS = "auth.invalid_credentials"
_MINUTE = 60
# One message per kind for every refusal: an officer is not told which of password and
# one-time password was wrong.
_INVALID_MESSAGES: dict[AccountKind, str] = {
    "person": "账号或密码错误",
    "unit": "账号或密码错误",
    "officer": "账号、密码或动态口令错误",
}


def _account_scope(kind: AccountKind, login: str, settings: Settings) -> str:
    """Throttle key of an account: a keyed hash of what was typed, never the row, so unknown
    accounts are throttled exactly like known ones and the table holds no ID or phone."""
    normalised = _squeeze(login).lower()
    digest = hmac.new(
        settings.resolved_secret_key().encode(), f"{kind}:{normalised}".encode(), hashlib.sha256
    ).hexdigest()
    return f"acct:{kind}:{digest[:40]}"


def _address_scope(client_address: str) -> str:
    return f"addr:{(client_address or 'unknown')[:90]}"


#: The doubling of an account's delay stops here (the delay is capped far below anyway).
_MAX_DOUBLINGS = 20


def _account_delay(failures: int, settings: Settings) -> timedelta:
    """How long an account waits after its latest failure: nothing for the first
    `login_free_failures` in a row (typos), then a delay doubling with each further one, capped
    so that the owner is slowed down at worst, never locked out."""
    if failures < settings.login_free_failures:
        return timedelta(0)
    doublings = min(failures - settings.login_free_failures, _MAX_DOUBLINGS)
    seconds = min(settings.login_delay_seconds * 2**doublings, settings.login_max_delay_seconds)
    return timedelta(seconds=seconds)


def _wait_seconds(
    session: Session, *, account_scope: str, address_scope: str, at: datetime, settings: Settings
) -> int:
    """Seconds until this account may be tried again from this address (0: now).

    An account waits out the delay of its row of failures (`_account_delay`), whoever caused
    them; an address that has spent its budget of failures in the window waits until its
    oldest failure leaves the window. Refused attempts are not failures, so an attacker
    knocking during a delay does not lengthen it."""
    window = timedelta(seconds=settings.login_window_seconds)
    rows = session.execute(
        select(
            LoginFailure.scope, func.count(), func.min(LoginFailure.at), func.max(LoginFailure.at)
        )
        .where(
            LoginFailure.scope.in_((account_scope, address_scope)), LoginFailure.at > at - window
        )
        .group_by(LoginFailure.scope)
    ).all()
    until = at
    for scope, failures, first, last in rows:
        if scope == account_scope:
            until = max(until, as_utc(last) + _account_delay(failures, settings))
        elif failures >= settings.login_address_max_failures:
            until = max(until, as_utc(first) + window)
    return math.ceil((until - at).total_seconds())


def _find_account(
    session: Session, kind: AccountKind, login: str
) -> Person | Unit | Officer | None:
    text = _squeeze(login)
    if not text:
        return None
    if kind == "person":
        if _ID_SHAPE.fullmatch(text.upper()):
            where = Person.id_number == text.upper()
        elif _MOBILE.fullmatch(text):
            where = Person.phone == text
        elif _USERNAME.fullmatch(text):
            where = Person.username == text.lower()
        else:
            return None
        return session.execute(select(Person).where(where)).scalar_one_or_none()
    if kind == "unit":
        return session.execute(select(Unit).where(Unit.tax_id == text.upper())).scalar_one_or_none()
    officer = session.execute(select(Officer).where(Officer.code == text)).scalar_one_or_none()
    return officer if officer is not None and officer.active else None


def _throttle_message(wait_seconds: int, *, reason: str = "登录失败次数过多") -> str:
    if wait_seconds < _MINUTE:
        return f"{reason}，请{wait_seconds}秒后再试"
    return f"{reason}，请{math.ceil(wait_seconds / _MINUTE)}分钟后再试"


def _second_factor_ok(
    session: Session, account: Person | Unit | Officer, otp: str | None, *, at: datetime
) -> bool:
    """Officers also give the TOTP code of their authenticator; it is used up here (its step
    stored, conditionally, so of two logins racing with one code only one gets in)."""
    if not isinstance(account, Officer):
        return True
    if account.totp_secret is None:
        return False
    step = totp.accepted_step(account.totp_secret, otp, at=at, after=account.totp_last_step)
    if step is None:
        return False
    unused = (Officer.totp_last_step.is_(None)) | (Officer.totp_last_step < step)
    return (
        _rows_changed(
            session,
            update(Officer)
            .where(Officer.id == account.id, unused)
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False),
        )
        == 1
    )


def login(
    session: Session,
    *,
    kind: AccountKind,
    login: str,
    password: str,
    otp: str | None = None,
    client_address: str,
    at: datetime,
    settings: Settings,
) -> tuple[str, Principal]:
    """Check the credentials and open a session: (raw token, principal).

    Persons log in with their ID number, phone or username; units with their tax ID;
    officers with their code and the current TOTP code of their authenticator (`otp`, used
    once only). Every refusal looks the same whether or not the account exists, and for an
    officer whichever of password and code was wrong: `auth.invalid_credentials` (401) after
    the same argon2 work, or `auth.throttled` (429, with the seconds to wait) while the
    account string waits out the growing delay of its failures or the client address has
    spent its budget of failures (`_wait_seconds`). Nothing locks an account: its owner
    gets in once the delay has passed, even while someone else keeps guessing.

    Failures are recorded in `session` BEFORE the error is raised: the caller must commit
    the session even when this raises Unauthenticated or TooManyRequests (see
    web/session.py `perform_login`), or throttling never engages. Hashes: call from a
    worker thread.
    """
    account_scope = _account_scope(kind, login, settings)
    address_scope = _address_scope(client_address)

    def audit(account: Person | Unit | Officer | None, outcome: str) -> None:
        _audit_login(
            session,
            kind=kind,
            account=account,
            scope=account_scope,
            address=client_address,
            at=at,
            outcome=outcome,
        )

    wait = _wait_seconds(
        session, account_scope=account_scope, address_scope=address_scope, at=at, settings=settings
    )
    if wait > 0:
        session.add(
            SecurityEvent(
                at=at,
                kind="login.throttled",
                actor=f"anonymous:{kind}",
                detail=f"account={account_scope.rsplit(':', 1)[1][:16]} address={client_address[:60]}",
            )
        )
        audit(None, "throttled")
        raise TooManyRequests("auth.throttled", _throttle_message(wait), retry_after_seconds=wait)

    account = _find_account(session, kind, login)
    stored = account.password_hash if account is not None else None
    # verify_password spends the argon2 time for a missing hash too: timing says nothing.
    if not passwords.verify_password(stored, password) or not (
        account is not None and _second_factor_ok(session, account, otp, at=at)
    ):
        purge_login_failures(session, before=at - _longest_window(settings))
        session.add_all(
            [LoginFailure(scope=account_scope, at=at), LoginFailure(scope=address_scope, at=at)]
        )
        session.flush()
        audit(account, "invalid_credentials")
        raise Unauthenticated(_INVALID_CREDENTIALS, _INVALID_MESSAGES[kind])

    assert account is not None and stored is not None
    if _awaits_real_name(account):
        # The right password of an account registered before real-name registration: it
        # opens nothing until its owner registers again with an SMS code (not a failure).
        raise Forbidden(
            "auth.not_verified",
            "该账户尚未完成实名注册，请重新注册（验证本人手机号码）后登录",
        )
    if passwords.needs_rehash(stored):
        account.password_hash = passwords.hash_password(password)
    session.execute(
        delete(LoginFailure)
        .where(LoginFailure.scope == account_scope)
        .execution_options(synchronize_session=False)
    )
    token, row = create_session(session, kind=kind, account_id=account.id, at=at, settings=settings)
    principal = _principal_for(session, row)
    assert principal is not None
    audit(account, "ok")
    return token, principal


def _audit_login(
    session: Session,
    *,
    kind: AccountKind,
    account: Person | Unit | Officer | None,
    scope: str,
    address: str,
    at: datetime,
    outcome: str,
) -> None:
    """A login or a refused one in the audit log: the account when one matched what was typed
    (never the password, nor the ID number or phone typed: only a prefix of the throttle's
    keyed hash of it, which tells attempts on one account apart)."""
    subject = audit.Subject()
    actor = audit.Actor("anonymous", kind)
    if account is not None:
        subject = audit.Subject(
            person_id=account.id if kind == "person" else None,
            unit_id=account.id if kind == "unit" else None,
            officer_id=account.id if kind == "officer" else None,
        )
        if outcome == "ok":
            code = account.code if isinstance(account, Officer) else str(account.id)
            actor = audit.Actor(kind, code)
    audit.record(
        session,
        actor=actor,
        action=AuditAction.LOGIN_SUCCESS if outcome == "ok" else AuditAction.LOGIN_FAILURE,
        at=at,
        subject=subject,
        details={"kind": kind, "login_hash": scope.rsplit(":", 1)[1][:16], "outcome": outcome},
        address=address,
    )


def count_registration_attempt(
    session: Session, *, client_address: str, at: datetime, settings: Settings
) -> None:
    """Count one registration attempt of this client address, or refuse it with
    `register.too_frequent` (429, with the seconds until its oldest attempt leaves the window)
    once the address has made `register_address_max_attempts` in `register_window_seconds`.

    Every attempt counts, successful or not: what is slowed down is trying IDs, names and tax
    IDs to learn who is on record. The attempts are rows of the login throttle's table under
    their own scope. Call it in a transaction of its own, committed before the registration,
    so that a refused registration still counts (web/session.py `count_registration`)."""
    scope = f"reg:{_address_scope(client_address)}"[:100]
    window = timedelta(seconds=settings.register_window_seconds)
    attempts, first = session.execute(
        select(func.count(), func.min(LoginFailure.at)).where(
            LoginFailure.scope == scope, LoginFailure.at > at - window
        )
    ).one()
    if attempts >= settings.register_address_max_attempts:
        wait = max(1, math.ceil((as_utc(first) + window - at).total_seconds()))
        session.add(
            SecurityEvent(
                at=at,
                kind="register.throttled",
                actor="anonymous",
                detail=f"address={client_address[:60]}",
            )
        )
        raise TooManyRequests(
            "register.too_frequent",
            _throttle_message(wait, reason="注册尝试过于频繁"),
            retry_after_seconds=wait,
        )
    purge_login_failures(session, before=at - _longest_window(settings))
    session.add(LoginFailure(scope=scope, at=at))
    session.flush()


def _longest_window(settings: Settings) -> timedelta:
    """What the throttle table must keep: the longer of the login and registration windows."""
    return timedelta(seconds=max(settings.login_window_seconds, settings.register_window_seconds))


def purge_login_failures(session: Session, *, before: datetime) -> int:
    """Drop the failures of every scope made at or before `before` (the start of the throttle
    window), which no longer count. `login` and `count_registration_attempt` call it whenever
    they record a row, so the table holds about one window of rows and needs no separate
    clean-up job."""
    return _rows_changed(
        session,
        delete(LoginFailure)
        # The SMS budget's rows keep their own, longer window (verification.send_code).
        .where(LoginFailure.at <= before, LoginFailure.scope.not_like("sms:%"))
        .execution_options(synchronize_session=False),
    )


# --------------------------------------------------------------------------- the account


@dataclass(frozen=True, kw_only=True)
class _AccountView:
    display_name: str
    region_code: str
    expires_at: datetime | None = None  # of the session asking (describe_account), UTC


@dataclass(frozen=True, kw_only=True)
class _ApplicantView(_AccountView):
    """An account that registered itself (a person or a unit)."""

    registered_at: datetime | None  # UTC


@dataclass(frozen=True, kw_only=True)
class PersonAccount(_ApplicantView):
    """A person as its owner sees it (registration answers, GET /me): PII masked."""

    id_number_masked: str
    phone_masked: str | None
    username: str | None
    kind: Literal["person"] = "person"


@dataclass(frozen=True, kw_only=True)
class UnitAccount(_ApplicantView):
    """A unit (村组) as its owner sees it."""

    tax_id: str
    ss_no: str
    kind: Literal["unit"] = "unit"


@dataclass(frozen=True, kw_only=True)
class OfficerAccount(_AccountView):
    """A logged-in officer as the console shows them."""

    officer_code: str
    is_reviewer: bool
    is_initiator: bool
    kind: Literal["officer"] = "officer"


Account = PersonAccount | UnitAccount | OfficerAccount


def _person_account(person: Person) -> PersonAccount:
    return PersonAccount(
        display_name=person.name,
        region_code=person.region_code,
        id_number_masked=identity.mask_id_number(person.id_number),
        phone_masked=identity.mask_phone(person.phone) or None,
        username=person.username,
        registered_at=_utc_or_none(person.registered_at),
    )


def _unit_account(unit: Unit) -> UnitAccount:
    return UnitAccount(
        display_name=unit.name,
        region_code=unit.region_code,
        tax_id=unit.tax_id,
        ss_no=unit.ss_no,
        registered_at=_utc_or_none(unit.registered_at),
    )


def describe_account(session: Session, *, principal: Principal) -> Account:
    """The logged-in account for its owner (GET /me), PII masked as domain.md says."""
    account: Account
    if principal.kind == "person":
        person = session.get(Person, principal.account_id)
        if person is None:
            raise Unauthenticated()
        account = _person_account(person)
    elif principal.kind == "unit":
        unit = session.get(Unit, principal.account_id)
        if unit is None:
            raise Unauthenticated()
        account = _unit_account(unit)
    else:
        account = OfficerAccount(
            display_name=principal.display_name,
            region_code=principal.region_code,
            officer_code=principal.login_code,
            is_reviewer=principal.is_reviewer,
            is_initiator=principal.is_initiator,
        )
    return replace(account, expires_at=principal.expires_at)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None
