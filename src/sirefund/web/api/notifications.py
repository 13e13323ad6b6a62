"""API routes: the 消息中心 (api.md "Outcomes"): the notices about a person's or a unit's
applications (services/notifications.py writes them with every transition) and marking one
read. Officers have no notices: their list is empty."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from ...services import notifications
from ...services.accounts import Principal
from ..deps import Clock, CurrentPrincipal, DbSession
from ..errors import error_responses
from .notifications_schemas import NotificationsOut

router = APIRouter(tags=["notifications"])


def recipient(principal: Principal) -> notifications.Recipient | None:
    """Whose notices the caller reads: a person's or a unit's own; an officer has none."""
    if principal.kind in ("person", "unit"):
        return (principal.kind, principal.account_id)
    return None


@router.get(
    "/notifications",
    response_model=NotificationsOut,
    summary="消息中心：我的消息（最新在前）与未读数",
    responses=error_responses(401),
)
def list_notifications(
    principal: CurrentPrincipal,
    db: DbSession,
    unread: Annotated[
        bool | None, Query(description="true：只看未读；false：只看已读；不传：全部")
    ] = None,
) -> NotificationsOut:
    who = recipient(principal)
    if who is None:
        return NotificationsOut(items=[], unread_count=0)
    with db.begin() as session:
        found = notifications.list_for(session, who, unread=unread)
    return NotificationsOut.model_validate(found)


@router.post(
    "/notifications/{notification_id}/read",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="标记消息为已读",
    responses=error_responses(401, 403, 404),
)
def read_notification(
    notification_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    principal: CurrentPrincipal,
    db: DbSession,
    clock: Clock,
) -> Response:
    who = recipient(principal)
    with db.begin() as session:
        if who is None:
            raise notifications.not_found()
        notifications.mark_read(session, who, notification_id, at=clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)
