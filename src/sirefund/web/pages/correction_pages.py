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

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ...domain.errors import DomainError
from ...domain.rules import MEDICAL_REFUND_REASONS
from ...domain.workflow import ApplicationKind, CorrectionField
from ...services import corrections, deposit_accounts
from ...services.accounts import Principal
from ...services.corrections import CorrectionIn
from ...services.deposit_accounts import FormInvalid
from .. import presenters
from ..deps import Db, DbSession
from . import common, etax, etax_medical, etax_unit, guard, mobile, reissue_flow
from .common import Form, in_transaction, render
from .pension_flow import BANK_CHOICES
from .reissue_flow import ApplicationId, owner_of

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


@dataclass(frozen=True)
class Site:
    """Where a correction page lives: its template, its way back and its layout."""

    template: str
    back_url: str
    action: str
    layout: dict[str, Any]


async def _load(db: Db, *, kind: ApplicationKind, account_id: int, application_id: int) -> Any:
    def read(s: Any) -> dict[str, Any]:
        view = corrections.returned_case(
            s, owner=owner_of(kind, account_id), kind=kind, application_id=application_id
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
    at = request.app.state.clock.now()
    try:
        await in_transaction(
            db,
            lambda s: corrections.correct(
                s,
                owner=owner_of(kind, account_id),
                kind=kind,
                application_id=application_id,
                correction=correction,
                at=at,
            ),
        )
    except FormInvalid as exc:
        for error in exc.errors:
            form.fail(error, default_field="_form")
    except DomainError as exc:
        form.fail(exc, default_field="_form")
    return form


async def correction_page(
    request: Request,
    db: Db,
    principal: Principal,
    *,
    kind: ApplicationKind,
    application_id: int,
    site: Site,
) -> Response:
    """GET shows the returned case and the form; POST corrects and resubmits, then back to
    the progress list with a notice."""
    try:
        case = await _load(
            db, kind=kind, account_id=principal.account_id, application_id=application_id
        )
    except DomainError as exc:
        return common.error_page(
            request,
            title=TITLE,
            message=exc.message,
            back_url=site.back_url,
            status_code=exc.status,
            **{k: v for k, v in site.layout.items() if k == "crumbs"},
        )
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
        "action": site.action,
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


# --------------------------------------------------------------------------- 电子税务局 (PC)


def _etax(back_url: str, action: str, crumbs: list[tuple[str, str | None]], subtitle: str) -> Site:
    return Site(
        template="etax/correction.html",
        back_url=back_url,
        action=action,
        layout={
            "nav": "tax",
            "crumbs": [*crumbs, (TITLE, None)],
            "subtitle": subtitle,
        },
    )


@router.api_route("/etax/pension/progress/{application_id}/correct", methods=["GET", "POST"])
async def etax_pension(
    request: Request, application_id: ApplicationId, db: DbSession, principal: guard.PagePerson
) -> Response:
    back = "/etax/pension/progress"
    site = _etax(
        back,
        f"{back}/{application_id}/correct",
        [*etax.PENSION_CRUMBS, ("进度查询", back)],
        "城乡居民基本养老保险退费（个人）",
    )
    return await correction_page(
        request,
        db,
        principal,
        kind=ApplicationKind.PENSION,
        application_id=application_id,
        site=site,
    )


@router.api_route("/etax/unit/progress/{application_id}/correct", methods=["GET", "POST"])
async def etax_unit_correct(
    request: Request, application_id: ApplicationId, db: DbSession, principal: guard.PageUnit
) -> Response:
    back = "/etax/unit/progress"
    site = _etax(
        back,
        f"{back}/{application_id}/correct",
        [*etax_unit.CRUMBS, ("退费进度", back)],
        etax.UNIT_TITLE,
    )
    return await correction_page(
        request,
        db,
        principal,
        kind=ApplicationKind.UNIT_PENSION,
        application_id=application_id,
        site=site,
    )


@router.api_route("/etax/medical/progress/{application_id}/correct", methods=["GET", "POST"])
async def etax_medical_correct(
    request: Request, application_id: ApplicationId, db: DbSession, principal: guard.PagePerson
) -> Response:
    back = "/etax/medical/progress"
    site = _etax(
        back,
        f"{back}/{application_id}/correct",
        [*etax_medical.CRUMBS, ("退费进度", back)],
        etax_medical.TITLE,
    )
    return await correction_page(
        request,
        db,
        principal,
        kind=ApplicationKind.MEDICAL,
        application_id=application_id,
        site=site,
    )


# --------------------------------------------------------------------------- 楚税通 (phone)


@router.api_route("/m/pension/refunds/{application_id}/correct", methods=["GET", "POST"])
async def mobile_pension(
    request: Request, application_id: ApplicationId, db: DbSession, principal: guard.PagePerson
) -> Response:
    site = Site(
        template="mobile/correction.html",
        back_url="/m/pension?view=progress",
        action=f"/m/pension/refunds/{application_id}/correct",
        layout={"crumbs": mobile.PENSION_CRUMBS},
    )
    return await correction_page(
        request,
        db,
        principal,
        kind=ApplicationKind.PENSION,
        application_id=application_id,
        site=site,
    )


@router.api_route("/m/medical/refunds/{application_id}/correct", methods=["GET", "POST"])
async def mobile_medical(
    request: Request, application_id: ApplicationId, db: DbSession, principal: guard.PagePerson
) -> Response:
    site = Site(
        template="mobile/correction.html",
        back_url="/m/medical",
        action=f"/m/medical/refunds/{application_id}/correct",
        layout={"crumbs": mobile.MEDICAL_CRUMBS},
    )
    return await correction_page(
        request,
        db,
        principal,
        kind=ApplicationKind.MEDICAL,
        application_id=application_id,
        site=site,
    )
