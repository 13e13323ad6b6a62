"""补正 as pages, on the PC site (电子税务局) and the phone (楚税通): an application the
officer returned (退回补正, 待补正) shown with the officer's opinion and the fields to fix, and
a form filled with what was given before where only the asked fields can be changed; each
problem next to its field. The service is services/corrections.py (the API's PUT
/{kind}/refunds/{id}), which refuses a field that was not asked for.

Pre-filled: the account type, category and name, the contact name, the 退费理由 and the
chosen deposit account. Full account and phone numbers are never sent back to the browser
(they stay masked on the server), so a number asked for is typed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...domain.errors import DomainError
from ...domain.rules import MEDICAL_REFUND_REASONS
from ...domain.workflow import ApplicationKind, CorrectionField
from ...services import corrections, deposit_accounts
from ...services.accounts import Principal
from ...services.audit import Actor
from ...services.corrections import CorrectionIn
from .. import presenters
from ..deps import Db, DbSession
from . import common, etax, etax_medical, etax_unit, guard, mobile, reissue_flow
from .common import Form, in_transaction, render
from .pension_flow import BANK_CHOICES
from .reissue_flow import ApplicationId, Site

router = APIRouter(include_in_schema=False)

TITLE = "补正"
#: The form fields each correction field stands for (the page's own names are the API's).
TEXT_FIELDS: dict[CorrectionField, tuple[str, ...]] = {
    CorrectionField.BANK_ACCOUNT: (
        "bank_account_type",
        "bank_account_no",
        "bank_account_name",
        "bank_category",
    ),
    CorrectionField.REASON: ("reason_code", "reason_text"),
}


async def _load(db: Db, *, kind: ApplicationKind, account_id: int, application_id: int) -> Any:
    def read(s: Any) -> dict[str, Any]:
        view = corrections.returned_case(
            s, owner=Actor.applicant(kind, account_id), kind=kind, application_id=application_id
        )
        return presenters.application(view)

    return await in_transaction(db, read)


def _earlier(case: dict[str, Any], payee_name: str) -> dict[str, Any]:
    """What the form shows before anything is typed: the earlier values that are not secret."""
    return {
        "bank_account_type": case.get("bank_account_type") or "",
        "bank_account_name": payee_name,
        "bank_category": case.get("bank_category") or "",
        "contact_name": case.get("contact_name") or "",
        "reason_code": case.get("reason_code") or "",
        "reason_text": case.get("reason_text") or "",
        "deposit_account_id": case.get("deposit_account_id") or "",
    }


def _read(form: Form, kind: ApplicationKind, asked: list[str]) -> dict[str, object]:
    """Only the asked fields are read: anything else in the request is ignored on the page
    (the API refuses it, the page never offers it)."""
    data: dict[str, object] = {}
    for field in CorrectionField:
        if field.value not in asked:
            continue
        if field == CorrectionField.BANK_ACCOUNT:
            data.update({n: form.text(n) for n in TEXT_FIELDS[field]})
            data["account_no_confirmed"] = form.flag("account_no_confirmed")
        elif field == CorrectionField.REASON:
            data.update({n: form.text(n) for n in TEXT_FIELDS[field]})
        elif field == CorrectionField.CONTACT:
            if kind == ApplicationKind.MEDICAL:
                data["handler_phone"] = form.text("handler_phone")
            else:
                data["contact_name"] = form.text("contact_name")
                data["contact_phone"] = form.text("contact_phone")
        else:
            chosen = form.integer(
                "deposit_account_id",
                label="银行账户信息",
                minimum=1,
                maximum=deposit_accounts.BIGINT_MAX,
            )
            if chosen is None:
                form.errors.setdefault("deposit_account_id", "请选择银行账户信息")
            else:
                data["deposit_account_id"] = chosen
    return data


async def _submit(
    request: Request,
    db: Db,
    *,
    kind: ApplicationKind,
    account_id: int,
    application_id: int,
    asked: list[str],
) -> Form:
    form = await common.read_form(request)
    data = _read(form, kind, asked)
    correction = common.validate_form(form, CorrectionIn, data)
    if correction is None or form.errors:
        return form
    await common.change_on_form(
        request,
        db,
        form,
        lambda s, at: corrections.correct(
            s,
            owner=Actor.applicant(kind, account_id),
            kind=kind,
            application_id=application_id,
            correction=correction,
            at=at,
        ),
    )
    return form


async def correction_page(
    request: Request, db: Db, principal: Principal, application_id: int, site: Site
) -> Response:
    """GET shows the returned case and the form; POST corrects and resubmits, then back to
    the progress list with a notice."""
    kind = site.kind
    try:
        case = await _load(
            db, kind=kind, account_id=principal.account_id, application_id=application_id
        )
    except DomainError as exc:
        return site.error(request, TITLE, exc)
    asked: list[str] = case["correction_fields"]
    ctx: dict[str, Any] = {
        "title": TITLE,
        "case": case,
        "asked": asked,
        "kind": kind.value,
        "values": _earlier(case, principal.display_name),
        "errors": {},
        "codes": {},
        "back_url": site.back_url,
        "action": site.action(application_id),
        "reasons": MEDICAL_REFUND_REASONS,
        **BANK_CHOICES,
        **site.layout,
    }
    status = 200
    if request.method == "POST":
        form = await _submit(
            request,
            db,
            kind=kind,
            account_id=principal.account_id,
            application_id=application_id,
            asked=asked,
        )
        if not form.errors:
            return common.redirect(site.back_url, done="corrected")
        ctx.update(values={**ctx["values"], **form.values}, errors=form.errors, codes=form.codes)
        status = 422
    if kind == ApplicationKind.MEDICAL:
        ctx["deposit_accounts"] = await reissue_flow.deposit_choices(
            db, person_id=principal.account_id
        )
    return render(request, site.template, ctx, status_code=status)


# --------------------------------------------------------------------------- the sites

#: Both methods on one route: GET shows the form, POST corrects.
METHODS = ["GET", "POST"]


def _etax(
    kind: ApplicationKind, back_url: str, crumbs: list[tuple[str, str | None]], subtitle: str
) -> Site:
    """A page of 电子税务局 (PC), under the kind's progress list."""
    layout = {"nav": "tax", "crumbs": [*crumbs, (TITLE, None)], "subtitle": subtitle}
    return Site(
        path=f"{back_url}/{{application_id}}/correct",
        kind=kind,
        template="etax/correction.html",
        back_url=back_url,
        layout=layout,
        error_layout={"crumbs": layout["crumbs"]},
    )


def _mobile(
    kind: ApplicationKind, path: str, back_url: str, crumbs: Sequence[tuple[str, str | None]]
) -> Site:
    """A page of 楚税通 (phone)."""
    return Site(
        path=path,
        kind=kind,
        template="mobile/correction.html",
        back_url=back_url,
        layout={"crumbs": crumbs},
        error_layout={"crumbs": crumbs},
    )


ETAX_PENSION = _etax(
    ApplicationKind.PENSION,
    "/etax/pension/progress",
    [*etax.PENSION_CRUMBS, ("进度查询", "/etax/pension/progress")],
    "城乡居民基本养老保险退费（个人）",
)
ETAX_UNIT = _etax(
    ApplicationKind.UNIT_PENSION,
    "/etax/unit/progress",
    [*etax_unit.CRUMBS, ("退费进度", "/etax/unit/progress")],
    etax.UNIT_TITLE,
)
ETAX_MEDICAL = _etax(
    ApplicationKind.MEDICAL,
    "/etax/medical/progress",
    [*etax_medical.CRUMBS, ("退费进度", "/etax/medical/progress")],
    etax_medical.TITLE,
)
MOBILE_PENSION = _mobile(
    ApplicationKind.PENSION,
    "/m/pension/refunds/{application_id}/correct",
    "/m/pension?view=progress",
    mobile.PENSION_CRUMBS,
)
MOBILE_MEDICAL = _mobile(
    ApplicationKind.MEDICAL,
    "/m/medical/refunds/{application_id}/correct",
    "/m/medical",
    mobile.MEDICAL_CRUMBS,
)


@router.api_route(ETAX_UNIT.path, methods=METHODS)
async def etax_unit_correct(
    request: Request, application_id: ApplicationId, db: DbSession, principal: guard.PageUnit
) -> Response:
    return await correction_page(request, db, principal, application_id, ETAX_UNIT)


def _add_person_page(site: Site, name: str) -> None:
    """The page of a person's own case on ``site`` (the unit's above needs a unit)."""

    async def page(
        request: Request, application_id: ApplicationId, db: DbSession, principal: guard.PagePerson
    ) -> Response:
        return await correction_page(request, db, principal, application_id, site)

    router.add_api_route(site.path, page, methods=METHODS, name=name)


_add_person_page(ETAX_PENSION, "etax_pension")
_add_person_page(ETAX_MEDICAL, "etax_medical_correct")
_add_person_page(MOBILE_PENSION, "mobile_pension")
_add_person_page(MOBILE_MEDICAL, "mobile_medical")
