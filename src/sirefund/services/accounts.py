"""Accounts and server-side sessions.

A session token is random; only its SHA-256 is stored, so logout and expiry really end a
session (30 minutes idle, 12 hours absolute by default). API clients send it as a Bearer
token, browsers as an HttpOnly cookie plus a per-session CSRF token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..clock import as_utc
from ..config import Settings
from ..models import AuthSession, Officer, Person, Unit


@dataclass(frozen=True)
class Principal:
    """Who is calling. `account_id` is persons.id, units.id or officers.id by `kind`."""

    kind: str  # person / unit / officer
    account_id: int
    display_name: str
    region_code: str
    session_id: int
    csrf_token: str
    is_reviewer: bool = False
    is_initiator: bool = False
    login_code: str = ""  # officer code, unit tax id; empty for persons


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_session(
    session: Session, *, kind: str, account_id: int, at: datetime, settings: Settings
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


def _principal_for(session: Session, row: AuthSession) -> Principal | None:
    if row.account_kind == "person":
        p = session.get(Person, row.account_id)
        if p is None:
            return None
        return Principal("person", p.id, p.name, p.region_code, row.id, row.csrf_token)
    if row.account_kind == "unit":
        u = session.get(Unit, row.account_id)
        if u is None:
            return None
        return Principal("unit", u.id, u.name, u.region_code, row.id, row.csrf_token, login_code=u.tax_id)
    o = session.get(Officer, row.account_id)
    if o is None or not o.active:
        return None
    return Principal("officer", o.id, o.name, o.region_code, row.id, row.csrf_token,
                     is_reviewer=o.is_reviewer, is_initiator=o.is_initiator, login_code=o.code)


def resolve_session(session: Session, *, token: str, at: datetime, settings: Settings) -> Principal | None:
    """The principal of a live session, touching its idle timer; None if unknown or ended."""
    if len(token) > 200:
        return None
    row = session.execute(
        select(AuthSession).where(AuthSession.token_hash == token_hash(token))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    idle_limit = as_utc(row.last_seen_at) + timedelta(minutes=settings.session_idle_minutes)
    if at >= as_utc(row.expires_at) or at >= idle_limit:
        row.revoked_at = at
        return None
    # Touch at most once a minute: a page load fires many requests.
    if at - as_utc(row.last_seen_at) > timedelta(seconds=60):
        row.last_seen_at = at
    return _principal_for(session, row)


def revoke_session(session: Session, *, session_id: int, at: datetime) -> None:
    session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=at)
    )


def revoke_all_sessions(session: Session, *, kind: str, account_id: int, at: datetime) -> int:
    result = session.execute(
        update(AuthSession)
        .where(AuthSession.account_kind == kind, AuthSession.account_id == account_id,
               AuthSession.revoked_at.is_(None))
        .values(revoked_at=at)
    )
    return result.rowcount
