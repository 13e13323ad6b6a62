"""A form sent after its session ended keeps what was typed (issue 10, part 9).

When a page form arrives with the cookie of a session that has ended (idle or too old), the
page does not throw the typing away: :func:`keep` stores the fields on the server for the
account whose session it was — only when the form carries that session's own CSRF token, so
another site cannot plant values — and gives a random token for the browser's cookie. After
that account logs in again and opens the page the form was on, :func:`take` hands the fields
back once. Nothing typed travels in a URL; passwords and tokens are never kept.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..clock import as_utc
from ..models import AuthSession, SavedForm
from .accounts import MAX_TOKEN_CHARS, token_hash

#: Long enough to log in again, short enough not to keep typed data around.
KEEP_FOR = timedelta(minutes=30)
MAX_FIELDS = 300
MAX_VALUE_CHARS = 200
MAX_PATH_CHARS = 500
#: Never kept: the CSRF token (the new session has its own) and anything secret.
NOT_KEPT = ("csrf_token", "password", "otp", "idempotency")

Fields = dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class Restored:
    """What was typed, field by field (a field that occurred several times keeps each value)."""

    path: str
    fields: Fields


def _kept(fields: Mapping[str, Sequence[str]]) -> Fields:
    out: Fields = {}
    for name, values in fields.items():
        if len(out) >= MAX_FIELDS or any(word in name.lower() for word in NOT_KEPT):
            continue
        kept = [v[:MAX_VALUE_CHARS] for v in values if isinstance(v, str)][:MAX_FIELDS]
        if kept and len(name) <= MAX_VALUE_CHARS:
            out[name] = kept
    return out


def keep(
    session: Session,
    *,
    session_token: str,
    fields: Mapping[str, Sequence[str]],
    path: str,
    at: datetime,
) -> str | None:
    """Keep ``fields`` typed on ``path`` for the owner of the ended session ``session_token``;
    the token for the browser's cookie, or None when the form is not that session's own (its
    CSRF token differs), the session is unknown, or nothing worth keeping was typed."""
    if not session_token or len(session_token) > MAX_TOKEN_CHARS or len(path) > MAX_PATH_CHARS:
        return None
    row = session.execute(
        select(AuthSession).where(AuthSession.token_hash == token_hash(session_token))
    ).scalar_one_or_none()
    sent = [v for v in fields.get("csrf_token", []) if isinstance(v, str)]
    if row is None or not sent or not hmac.compare_digest(sent[0], row.csrf_token):
        return None
    kept = _kept(fields)
    if not kept:
        return None
    session.execute(delete(SavedForm).where(SavedForm.expires_at <= at))
    token = secrets.token_urlsafe(24)
    session.add(
        SavedForm(
            token_hash=token_hash(token),
            account_kind=row.account_kind,
            account_id=row.account_id,
            path=path,
            fields=json.dumps(kept, ensure_ascii=False),
            created_at=at,
            expires_at=at + KEEP_FOR,
        )
    )
    session.flush()
    return token


def take(
    session: Session, *, token: str, account_kind: str, account_id: int, path: str, at: datetime
) -> Restored | None:
    """The fields kept under ``token`` for this account and this page, once (then gone);
    None for another account, another page, an expired or unknown token."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        return None
    row = session.execute(
        select(SavedForm).where(SavedForm.token_hash == token_hash(token))
    ).scalar_one_or_none()
    if row is None or as_utc(row.expires_at) <= at:
        return None
    if (row.account_kind, row.account_id) != (account_kind, account_id):
        return None
    if row.path != path:
        return None
    fields: Fields = json.loads(row.fields)
    session.delete(row)
    return Restored(path=row.path, fields=fields)
