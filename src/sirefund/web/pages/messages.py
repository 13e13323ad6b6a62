"""消息中心 on both sites (PC /etax/messages, phone /m/messages): a person's or a unit's
notices (services/notifications.py), newest first; opening one marks it read. The unread
count in both headers is filled in by common.render."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ...domain.errors import NotFound
from ...services import notifications
from ...services.accounts import Principal
from ..deps import Clock, DbSession
from . import guard
from .common import error_page, in_transaction, render

router = APIRouter(include_in_schema=False)

TITLE = "消息中心"
ID_MAX_DIGITS = 12


def _path_notification_id(notification_id: str) -> int:
    """The ``{notification_id}`` of the path; one that is no id answers 页面不存在."""
    if not (notification_id.isascii() and notification_id.isdigit()) or (
        len(notification_id) > ID_MAX_DIGITS
    ):
        raise guard.PageNotFound()
    return int(notification_id)


NotificationId = Annotated[int, Depends(_path_notification_id)]

#: Where a notice's application is followed up, by site and account kind.
_PROGRESS = {
    ("etax", "unit"): "/etax/unit/progress",
    ("etax", "pension"): "/etax/pension/progress",
    ("etax", "medical"): "/etax/medical/progress",
    ("m", "unit"): "/m/",
    ("m", "pension"): "/m/pension?view=progress",
    ("m", "medical"): "/m/medical?view=progress",
}


def _follow_up(
    site: str, who: notifications.Recipient, view: notifications.NotificationView, kind: str | None
) -> dict[str, str]:
    """Where the reader acts on the notice: the 继承人代办 claim it tells about, or the
    progress of the application's kind."""
    if view.heir_claim_id is not None:
        return {
            "progress_url": f"/{site}/heirs/{view.heir_claim_id}",
            "progress_label": "查看继承人代办",
        }
    key = "unit" if who[0] == "unit" else ("medical" if kind == "medical" else "pension")
    return {"progress_url": _PROGRESS[(site, key)], "progress_label": "查看退费进度"}


def _recipient(principal: Principal | None) -> notifications.Recipient:
    if principal is None:
        raise guard.LoginRequired(None)
    if principal.kind not in ("person", "unit"):
        raise guard.WrongAccountKind("person")
    return (principal.kind, principal.account_id)


def _layout(site: str) -> dict[str, Any]:
    if site == "etax":
        return {"nav": "user", "crumbs": [("首页", "/etax/"), (TITLE, None)]}
    return {"back_url": "/m/"}


async def _list(
    request: Request, db: DbSession, principal: Principal | None, site: str
) -> Response:
    who = _recipient(principal)
    found = await in_transaction(db, lambda s: notifications.list_for(s, who))
    return render(
        request,
        f"{'etax' if site == 'etax' else 'mobile'}/messages.html",
        {"title": TITLE, "messages": found.items, "site": site, **_layout(site)},
    )


async def _open(
    request: Request,
    db: DbSession,
    clock: Clock,
    principal: Principal | None,
    notification_id: int,
    site: str,
) -> Response:
    who = _recipient(principal)
    now = clock.now()

    def work(session: Any) -> tuple[notifications.NotificationView, str | None] | None:
        try:
            notifications.mark_read(session, who, notification_id, at=now)
        except NotFound:
            return None
        view = notifications.one(session, who, notification_id)
        if view.application_id is None:
            return view, None
        return view, notifications.application_kind(session, view.application_id)

    found = await in_transaction(db, work)
    if found is None:
        return error_page(
            request,
            title="消息不存在",
            message="该消息不存在或不属于当前账户。",
            back_url=f"/{site}/messages",
            status_code=404,
            **({"crumbs": [("首页", "/etax/"), (TITLE, None)]} if site == "etax" else {}),
        )
    view, kind = found
    return render(
        request,
        f"{'etax' if site == 'etax' else 'mobile'}/message.html",
        {
            "title": view.title,
            "message": view,
            **_follow_up(site, who, view, kind),
            "site": site,
            **(
                {
                    "nav": "user",
                    "crumbs": [("首页", "/etax/"), (TITLE, "/etax/messages"), (view.title, None)],
                }
                if site == "etax"
                else {"back_url": "/m/messages", "heading": TITLE}
            ),
        },
    )


def _add_site(site: str) -> None:
    """消息中心 on one site (``/etax`` PC, ``/m`` phone): the list and one message."""

    async def messages(request: Request, db: DbSession, principal: guard.PagePrincipal) -> Response:
        return await _list(request, db, principal, site)

    async def message(
        request: Request,
        db: DbSession,
        clock: Clock,
        principal: guard.PagePrincipal,
        notification_id: NotificationId,
    ) -> Response:
        return await _open(request, db, clock, principal, notification_id, site)

    router.add_api_route(f"/{site}/messages", messages, methods=["GET"], name=f"{site}_messages")
    router.add_api_route(
        f"/{site}/messages/{{notification_id}}", message, methods=["GET"], name=f"{site}_message"
    )


_add_site("etax")
_add_site("m")
