"""API routes: results from HRSS, medical security and the bank (signed callbacks).

POST /callbacks/{agency}  (hrss | medical_security | bank)
    headers  X-Sirefund-Timestamp, X-Sirefund-Signature (signing.py, shared secret)
    body     {"request_id", "status", "booking_id"?, "reason"?, "decided_at"?, "paid_on"?}
    200      {"applied": true}  the application moved
             {"applied": false} a duplicate, late or intermediate result: nothing changed
    401      wrong signature or a timestamp more than 5 minutes off; a SecurityEvent is written
    404      unknown agency, or a request id we never sent to it
    422      a body that is not a result
"""

from __future__ import annotations

import logging
from datetime import datetime

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from ...domain.agencies import Agency, AgencyResult
from ...domain.errors import Unauthenticated
from ...models import SecurityEvent
from ...services import settlement
from ...signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from ..deps import Db, client_address

log = logging.getLogger(__name__)

router = APIRouter(tags=["callbacks"])

REFUSED = Unauthenticated("callback.signature", "回调签名无效或已过期")


@router.post("/callbacks/{agency}", summary="机构结果回调（人社 / 医保 / 银行）")
async def receive_callback(agency: str, request: Request) -> dict[str, bool]:
    sender = settlement.callback_agency(agency)
    body = await request.body()
    app = request.app
    at = app.state.clock.now()
    verdict = verify(
        app.state.settings.resolved_callback_secret(),
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        body=body,
        at=at,
    )
    db = Db(app.state.session_factory)
    if not verdict.ok:
        # Logged and kept, without the body: it may carry personal data, and it is untrusted.
        address = client_address(request)
        log.warning("refused %s callback from %s: %s", agency, address, verdict.reason)
        await run_in_threadpool(
            _record_refusal,
            db,
            agency=sender,
            reason=verdict.reason,
            address=address,
            size=len(body),
            at=at,
        )
        raise REFUSED
    result = settlement.parse_callback(sender, body)
    applied = await run_in_threadpool(_apply, db, agency=sender, result=result, at=at)
    return {"applied": applied}


def _apply(db: Db, *, agency: Agency, result: AgencyResult, at: datetime) -> bool:
    with db.begin() as session:
        return settlement.apply_result(session, agency=agency, result=result, at=at)


def _record_refusal(
    db: Db, *, agency: Agency, reason: str, address: str, size: int, at: datetime
) -> None:
    with db.begin() as session:
        session.add(
            SecurityEvent(
                at=at,
                kind="callback.refused",
                actor=f"agency:{agency.value}",
                detail=f"reason={reason} from={address} bytes={size}",
            )
        )
