"""Officer accounts (税务人员) and their data scope: an officer sees only what lies within
their division code (domain.regions.is_within), in SQL and in Python alike."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from ..domain import regions
from ..domain.audit import AuditAction
from ..domain.errors import Conflict, Forbidden, Invalid, NotFound
from ..models import Officer, SecurityEvent
from . import audit, passwords, totp
from .accounts import Principal

_REGION_LENGTH = 6  # a division code: province, prefecture, county digits (two each)

OfficerRef = Officer | Principal | str
"""Who acts: an Officer row, a logged-in officer's Principal, or an officer code (CLI)."""


def active_officer(session: Session, officer: OfficerRef) -> Officer:
    """The acting officer's row; 403 for another kind of account or a deactivated officer."""
    if isinstance(officer, Officer):
        row: Officer | None = officer
    elif isinstance(officer, str):
        row = session.execute(select(Officer).where(Officer.code == officer)).scalar_one_or_none()
    else:
        if officer.kind != "officer":
            raise Forbidden("auth.wrong_account_kind", "当前登录的账户类型无权使用此功能")
        row = session.get(Officer, officer.account_id)
    if row is None or not row.active:
        raise Forbidden("officer.inactive", "税务人员账户不可用")
    return row


def in_scope(officer: Officer, region_code: str) -> bool:
    return regions.is_within(region_code, officer.region_code)


def region_clause(
    column: InstrumentedAttribute[str] | ColumnElement[str], scope_code: str
) -> ColumnElement[bool]:
    """SQL for ``regions.is_within(column, scope_code)`` on six-digit codes.

    A scope ``xx0000`` or ``xxxx00`` is a prefix; it is written as a range
    (``'420700' <= code <= '420799'``) rather than ``LIKE '4207%'`` because a range uses the
    (region_code, status) index on both databases whatever the collation, and for digit
    strings the two are the same set. A county code, or a 4290xx province-administered unit,
    covers only itself; ``429000`` (not a real code) would cover the four 4290xx units, as
    ``is_within`` says. There is no nationwide scope: ``""``, ``000000`` or a malformed code
    covers nothing (the whole province is ``420000``, said so).
    """
    if scope_code == "000000" or not (
        len(scope_code) == _REGION_LENGTH and scope_code.isascii() and scope_code.isdigit()
    ):
        return false()
    if scope_code.endswith("0000"):
        prefix = scope_code[:2]
    elif scope_code.endswith("00"):
        prefix = scope_code[:4]
    else:
        return column == scope_code
    rest = _REGION_LENGTH - len(prefix)
    return and_(column >= prefix + "0" * rest, column <= prefix + "9" * rest)


_CODE = re.compile(r"^[A-Za-z0-9_-]{2,30}$")
_REGION = re.compile(r"\d{6}")
_NAME_MAX = 50
#: What `sirefund officer add --role` accepts.
ROLES = frozenset({"reviewer", "initiator", "auditor", "supervisor"})


def add_officer(
    session: Session,
    *,
    code: str,
    name: str,
    region_code: str,
    roles: set[str],
    password: str,
    at: datetime,
    totp_secret: str | None = None,
    actor: str = "cli",
) -> Officer:
    """Open an officer account (roles: reviewer, initiator, auditor,
    supervisor), audited as done by
    `actor` (who ran the command). Its TOTP secret is `totp_secret` (base32, for scripted
    set-up) or a new random one; the caller shows it to the officer once
    (`totp.provisioning_uri`)."""
    if not _CODE.match(code):
        raise Invalid("officer.code", "税务人员代码应为2至30位字母、数字", "code")
    if not _REGION.fullmatch(region_code):
        raise Invalid("officer.region", "行政区划代码应为6位数字", "region")
    if not regions.is_known_hubei_division(region_code):
        # No silent nationwide (or out-of-province) office: the whole province is 420000.
        raise Invalid(
            "officer.region",
            "行政区划代码应为湖北省的行政区划（全省为420000）",
            "region",
        )
    name = name.strip()
    if not name or len(name) > _NAME_MAX:
        raise Invalid("officer.name", "请填写姓名", "name")
    if not roles or not roles <= ROLES:
        raise Invalid(
            "officer.roles", "角色应为 reviewer、initiator、auditor 或 supervisor", "role"
        )
    passwords.check_strength(password, avoid=(code,))
    secret = totp.check_secret(totp_secret) if totp_secret is not None else totp.new_secret()
    if session.execute(select(Officer.id).where(Officer.code == code)).first():
        raise Conflict("officer.exists", "该税务人员代码已存在", "code")
    officer = Officer(
        code=code,
        name=name,
        region_code=region_code,
        is_reviewer="reviewer" in roles,
        is_initiator="initiator" in roles,
        is_auditor="auditor" in roles,
        is_supervisor="supervisor" in roles,
        password_hash=passwords.hash_password(password),
        totp_secret=secret,
        active=True,
        created_at=at,
    )
    session.add(officer)
    session.flush()
    audit.record(
        session,
        actor=audit.Actor.system(actor),
        action=AuditAction.OFFICER_CREATE,
        at=at,
        subject=audit.Subject(officer_id=officer.id),
        details={"code": code, "region_code": region_code, "roles": sorted(roles)},
    )
    return officer


def reset_totp(
    session: Session, *, code: str, at: datetime, actor: str, totp_secret: str | None = None
) -> Officer:
    """Give an officer a new TOTP secret: `totp_secret` (base32, scripted) or a new random one
    that the caller shows once. An officer of a database older than TOTP has none and cannot
    log in until this is run; a lost phone is the other reason. The last used step is
    forgotten (codes of the new secret start afresh) and the reset is recorded, without the
    secret; `officer.unknown` when no officer has `code`."""
    secret = totp.check_secret(totp_secret) if totp_secret is not None else totp.new_secret()
    officer = session.execute(select(Officer).where(Officer.code == code)).scalar_one_or_none()
    if officer is None:
        raise NotFound("officer.unknown", "未找到该税务人员代码", "code")
    officer.totp_secret = secret
    officer.totp_last_step = None
    session.add(
        SecurityEvent(
            at=at,
            kind="officer.totp_reset",
            actor=actor[:60],
            detail=f"officer={officer.code} given={'yes' if totp_secret is not None else 'no'}",
        )
    )
    audit.record(
        session,
        actor=audit.Actor.system(actor),
        action=AuditAction.OFFICER_TOTP_RESET,
        at=at,
        subject=audit.Subject(officer_id=officer.id),
        details={"code": officer.code, "secret_given": totp_secret is not None},
    )
    session.flush()
    return officer
