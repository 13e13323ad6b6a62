"""重新申请 on the pages: ``?reapply=<application id>`` opens a kind's apply form for the
payment of the applicant's own refused application, its details filled in. Another's
application, one of another kind or one not refused answers 页面不存在 (404), like one that
does not exist: nobody fills a form from someone else's case."""

from __future__ import annotations

from fastapi import Request

from ...domain.errors import NotFound
from ...domain.workflow import ApplicationKind
from ...services import reapply
from ...services.accounts import Principal
from ...services.audit import Actor
from .. import deps
from . import common, guard
from .common import in_transaction

#: Larger than any id the database holds; a larger number is no application.
ID_MAX = 2**62


def wanted(request: Request) -> int | None:
    """The ``reapply`` query parameter, or None when the page is opened as usual."""
    return common.query_int(request, "reapply", maximum=ID_MAX)


async def refused_details(
    request: Request, db: deps.Db, principal: Principal, kind: ApplicationKind
) -> reapply.RefusedDetails | None:
    """The refused application ``?reapply=`` names, if it is ``principal``'s own of ``kind``;
    None without the parameter; guard.PageNotFound (404) otherwise."""
    application_id = wanted(request)
    if application_id is None:
        return None
    owner = (
        Actor.unit(principal.account_id)
        if principal.kind == "unit"
        else Actor.person(principal.account_id)
    )
    try:
        return await in_transaction(
            db,
            lambda s: reapply.refused(s, owner=owner, kind=kind, application_id=application_id),
        )
    except NotFound:
        raise guard.PageNotFound() from None


def bank_values(refused: reapply.RefusedDetails) -> dict[str, str]:
    """The pension and unit forms' bank and contact fields as the refused case had them."""
    fields = {
        "bank_account_type": refused.bank_account_type,
        "bank_account_no": refused.bank_account_no,
        "bank_account_name": refused.bank_account_name,
        "bank_category": refused.bank_category,
        "contact_name": refused.contact_name,
        "contact_phone": refused.contact_phone,
    }
    return {k: v for k, v in fields.items() if v}


def medical_values(refused: reapply.RefusedDetails) -> dict[str, str]:
    """The medical form's deposit account, 办税人电话 and 退费理由 as the refused case had them."""
    fields = {
        "deposit_account_id": (
            str(refused.deposit_account_id) if refused.deposit_account_id is not None else None
        ),
        "handler_phone": refused.handler_phone,
        "reason_code": refused.reason_code,
        "reason_text": refused.reason_text,
    }
    return {k: v for k, v in fields.items() if v}
