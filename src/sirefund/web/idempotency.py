"""Idempotency-Key on creating POSTs.

Same key and same body -> the first answer, nothing created again. Same key, other body
-> 422. The first answer is stored in the same transaction as what it created, so a crash
cannot leave one without the other; a concurrent duplicate loses on the unique index and
replays the winner's answer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..domain.errors import Invalid
from ..models import IdempotencyKey
from ..services.accounts import Principal
from .deps import Db

HEADER = "Idempotency-Key"
MAX_KEY_CHARS = 100


def _fingerprint(body: Any) -> str:
    return hashlib.sha256(
        json.dumps(jsonable_encoder(body), sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()


def _lookup(session: Session, principal: Principal, key: str) -> IdempotencyKey | None:
    return session.execute(
        select(IdempotencyKey).where(
            IdempotencyKey.account_kind == principal.kind,
            IdempotencyKey.account_id == principal.account_id,
            IdempotencyKey.key == key,
        )
    ).scalar_one_or_none()


def _replay(row: IdempotencyKey, fingerprint: str, method_path: str) -> JSONResponse:
    if row.request_hash != fingerprint or row.method_path != method_path:
        raise Invalid("idempotency.key_reused", "该幂等键已用于其他请求内容", "Idempotency-Key")
    return JSONResponse(
        row.response_body, status_code=row.response_status, headers={"Idempotent-Replayed": "true"}
    )


def run_idempotent(
    request: Request,
    *,
    db: Db,
    principal: Principal,
    body: Any,
    at: datetime,
    action: Callable[[Session], Any],
    status_code: int = 201,
) -> JSONResponse:
    """Run `action(session)` once per (account, Idempotency-Key); return its JSON response.

    Without the header the action simply runs. `action` returns a JSON-able value.
    """
    key = request.headers.get(HEADER)
    if key is not None and not (1 <= len(key) <= MAX_KEY_CHARS):
        raise Invalid("idempotency.key_invalid", "幂等键长度应为1至100个字符", "Idempotency-Key")
    method_path = f"{request.method} {request.url.path}"
    fingerprint = _fingerprint(body)
    if key is None:
        with db.begin() as session:
            result = jsonable_encoder(action(session))
        return JSONResponse(result, status_code=status_code)
    with db.begin() as session:
        existing = _lookup(session, principal, key)
        if existing is not None:
            return _replay(existing, fingerprint, method_path)
    try:
        with db.begin() as session:
            result = jsonable_encoder(action(session))
            session.add(
                IdempotencyKey(
                    account_kind=principal.kind,
                    account_id=principal.account_id,
                    key=key,
                    method_path=method_path,
                    request_hash=fingerprint,
                    response_status=status_code,
                    response_body=result,
                    created_at=at,
                )
            )
            session.flush()
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it did.
        with db.begin() as session:
            existing = _lookup(session, principal, key)
        if existing is None:
            raise
        return _replay(existing, fingerprint, method_path)
    return JSONResponse(result, status_code=status_code)
