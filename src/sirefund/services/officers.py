"""Officer accounts (税务人员)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..domain.errors import Conflict, Invalid
from ..models import Officer
from . import passwords

_CODE = re.compile(r"^[A-Za-z0-9_-]{2,30}$")


def add_officer(
    session: Session,
    *,
    code: str,
    name: str,
    region_code: str,
    roles: set[str],
    password: str,
    at: datetime,
) -> Officer:
    if not _CODE.match(code):
        raise Invalid("officer.code", "税务人员代码应为2至30位字母、数字", "code")
    if not re.fullmatch(r"\d{6}", region_code):
        raise Invalid("officer.region", "行政区划代码应为6位数字", "region")
    name = name.strip()
    if not name or len(name) > 50:
        raise Invalid("officer.name", "请填写姓名", "name")
    if not roles or not roles <= {"reviewer", "initiator"}:
        raise Invalid("officer.roles", "角色应为 reviewer 或 initiator", "role")
    passwords.check_strength(password)
    if session.execute(select(Officer.id).where(Officer.code == code)).first():
        raise Conflict("officer.exists", "该税务人员代码已存在", "code")
    officer = Officer(
        code=code,
        name=name,
        region_code=region_code,
        is_reviewer="reviewer" in roles,
        is_initiator="initiator" in roles,
        password_hash=passwords.hash_password(password),
        active=True,
        created_at=at,
    )
    session.add(officer)
    session.flush()
    return officer
