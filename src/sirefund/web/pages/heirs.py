"""继承人代办 on both sites (PC /etax/heirs, phone /m/heirs): the claim form (关系, 已故参保人
证件号码、姓名、死亡日期), the heir's claims with their 核实状态 and reason, and once a claim
is verified the deceased's payments with the pension application form (the heir's own
account) and, under 城乡居民医疗保险, the deceased's medical payments of the newest 参保年度
that has payments with the medical application form (a deposit account of the heir's own
report; medical_flows reads the form as on the medical pages). services/heir_claims.py,
services/pension.py and services/medical.py do the work; the death registry is the one the
app was built with (deps.get_death_registry)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ...domain.errors import DomainError
from ...domain.heirs import Relationship
from ...services import bank_details, heir_claims, pension
from ...services.accounts import Principal
from ...services.heir_claims import HeirClaimIn
from ...services.pension import PensionRefundIn
from .. import deps, refund_presenters
from ..deps import DbSession
from . import guard, medical_flows
from .common import Form, in_transaction, read_form, redirect, render, validate_form
from .pension_flow import BANK_CHOICES

router = APIRouter(include_in_schema=False)

TITLE = "继承人代办"
ID_MAX_DIGITS = 12
SITES = {"etax": "etax", "m": "mobile"}
CHANNELS = {"etax": "web", "m": "mobile_app"}
CLAIM_FIELDS = ("relationship", "deceased_id_number", "deceased_name", "death_date")
#: The medical form's fields that show their own error; the others' errors are moved next to
#: the field they concern (the account's holder: the account chosen) or above the form.
MEDICAL_SHOWN = {"payment_ids", "deposit_account_id", "handler_phone", "reason_code", "reason_text"}
MEDICAL_ALIASES = {"bank_account_name": "deposit_account_id"}
CLAIM_LABELS = {
    "relationship": "与已故参保人关系",
    "deceased_id_number": "已故参保人证件号码",
    "deceased_name": "已故参保人姓名",
    "death_date": "死亡日期",
}


def _claim_id(claim_id: str) -> int:
    if not (claim_id.isascii() and claim_id.isdigit()) or len(claim_id) > ID_MAX_DIGITS:
        raise guard.PageNotFound()
    return int(claim_id)


ClaimId = Annotated[int, Depends(_claim_id)]


def _layout(site: str, *, claim_id: int | None = None) -> dict[str, Any]:
    if site == "etax":
        crumbs: list[tuple[str, str | None]] = [("首页", "/etax/"), (TITLE, "/etax/heirs")]
        if claim_id is not None:
            crumbs.append((f"代办申请 {claim_id}", None))
        return {"nav": "tax", "crumbs": crumbs}
    return {"back_url": "/m/heirs" if claim_id is not None else "/m/"}


def _base(site: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": TITLE,
        "site": site,
        "home": f"/{site}/heirs",
        "relationships": [(r.value, r.label) for r in Relationship],
        **BANK_CHOICES,
        **extra,
    }


async def _claims_page(
    request: Request, db: DbSession, principal: Principal, site: str, form: Form | None = None
) -> Response:
    claims = await in_transaction(
        db, lambda s: heir_claims.own_claims(s, person_id=principal.account_id)
    )
    ctx = _base(
        site,
        claims=claims,
        values=form.values if form else {},
        errors=form.errors if form else {},
        **_layout(site),
    )
    return render(
        request, f"{SITES[site]}/heirs.html", ctx, status_code=422 if form and form.errors else 200
    )


async def _create(request: Request, db: DbSession, principal: Principal, site: str) -> Response:
    form = await read_form(request)
    data = {name: form.text(name) for name in CLAIM_FIELDS}
    for name in CLAIM_FIELDS:
        if not data[name]:
            form.errors.setdefault(name, f"请填写{CLAIM_LABELS[name]}")
    found = None
    if not form.errors:
        claim = validate_form(form, HeirClaimIn, data, labels=CLAIM_LABELS)
        if claim is not None:
            at = request.app.state.clock.now()
            registry = deps.get_death_registry(request)
            try:
                found = await in_transaction(
                    db,
                    lambda s: heir_claims.create(
                        s, person_id=principal.account_id, claim=claim, registry=registry, at=at
                    ),
                )
            except DomainError as exc:
                form.fail(exc, default_field="_form")
    if found is None:
        return await _claims_page(request, db, principal, site, form)
    return redirect(f"/{site}/heirs/{found.id}")


async def _claim_page(
    request: Request,
    db: DbSession,
    principal: Principal,
    site: str,
    claim_id: int,
    form: Form | None = None,
    medical_form: Form | None = None,
) -> Response:
    at = request.app.state.clock.now()
    today = request.app.state.clock.today()
    registry = deps.get_death_registry(request)

    def read(s: Any) -> tuple[heir_claims.HeirClaimView, list[dict[str, Any]], dict[str, Any]]:
        claim = heir_claims.show(
            s, person_id=principal.account_id, claim_id=claim_id, registry=registry, at=at
        )
        if claim.status != "verified":
            return claim, [], {}
        lines = pension.heir_payments(s, person_id=principal.account_id, heir_claim_id=claim_id)
        medical_data = medical_flows.heir_listing(s, principal, heir_claim_id=claim_id, today=today)
        return claim, [refund_presenters.pension_line(line) for line in lines], medical_data

    try:
        claim, rows, medical_data = await in_transaction(db, read)
    except DomainError:
        raise guard.PageNotFound() from None
    values = form.values if form else {"bank_account_name": principal.display_name}
    ctx = _base(
        site,
        claim=claim,
        rows=rows,
        refundable=[r for r in rows if r["refundable"]],
        values=values,
        errors=form.errors if form else {},
        codes=form.codes if form else {},
        selected=(form.values.get("payment_ids", []) if form else []),
        medical=medical_data,
        medical_values=medical_form.values if medical_form else {},
        medical_errors=medical_form.errors if medical_form else {},
        medical_selected=(medical_form.values.get("payment_ids", []) if medical_form else []),
        reasons=medical_flows.REASON_OPTIONS,
        **_layout(site, claim_id=claim_id),
    )
    status = 200
    if form and form.errors:
        status = 422
    elif medical_form and medical_form.errors:
        status = medical_flows.refusal_status(medical_form)
    return render(request, f"{SITES[site]}/heir.html", ctx, status_code=status)


async def _apply_medical(
    request: Request, db: DbSession, principal: Principal, site: str, claim_id: int
) -> Response:
    """申请退费 of the deceased's medical payments into a deposit account of the heir's own
    report; the problems next to their fields on the claim page."""
    form = await read_form(request)
    year, ids = await medical_flows.apply_from_form(
        request, db, principal, form, channel=CHANNELS[site], heir_claim_id=claim_id
    )
    if year is not None:
        return redirect(f"/{site}/heirs/{claim_id}", done="applied")
    form.values["payment_ids"] = ids
    for name in [n for n in form.errors if n not in MEDICAL_SHOWN]:
        target = MEDICAL_ALIASES.get(name, "_form")
        message, code = form.errors.pop(name), form.codes.pop(name, "")
        if target not in form.errors:
            form.errors[target], form.codes[target] = message, code
    return await _claim_page(request, db, principal, site, claim_id, medical_form=form)


async def _apply(
    request: Request, db: DbSession, principal: Principal, site: str, claim_id: int
) -> Response:
    form = await read_form(request)
    data: dict[str, object] = {name: form.text(name) for name in bank_details.FIELDS}
    data.update(
        bank_account_name=form.text("bank_account_name") or None,
        payment_ids=form.many("payment_ids", max_items=pension.MAX_SELECTED),
        account_no_confirmed=form.flag("account_no_confirmed"),
        channel=CHANNELS[site],
        heir_claim_id=claim_id,
    )
    form.values["payment_ids"] = data["payment_ids"]
    refund = validate_form(form, PensionRefundIn, data)
    if refund is not None and not form.errors:
        at = request.app.state.clock.now()
        try:
            await in_transaction(
                db,
                lambda s: pension.apply(s, person_id=principal.account_id, refund=refund, at=at),
            )
        except DomainError as exc:
            form.fail(exc, default_field="_form")
        else:
            return redirect(f"/{site}/heirs/{claim_id}", done="applied")
    return await _claim_page(request, db, principal, site, claim_id, form)


def _add_site(site: str) -> None:
    """The heir's pages on ``site`` (etax: PC, m: phone): the claims and a new claim, one
    claim with the deceased's payments, and the pension and medical applications."""

    async def claims(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
        return await _claims_page(request, db, principal, site)

    async def create(request: Request, db: DbSession, principal: guard.PagePerson) -> Response:
        return await _create(request, db, principal, site)

    async def claim(
        request: Request, db: DbSession, principal: guard.PagePerson, claim_id: ClaimId
    ) -> Response:
        return await _claim_page(request, db, principal, site, claim_id)

    async def apply(
        request: Request, db: DbSession, principal: guard.PagePerson, claim_id: ClaimId
    ) -> Response:
        return await _apply(request, db, principal, site, claim_id)

    async def apply_medical(
        request: Request, db: DbSession, principal: guard.PagePerson, claim_id: ClaimId
    ) -> Response:
        return await _apply_medical(request, db, principal, site, claim_id)

    base = f"/{site}/heirs"
    router.add_api_route(base, claims, methods=["GET"], name=f"{site}_heirs")
    router.add_api_route(base, create, methods=["POST"], name=f"{site}_heir_claim")
    router.add_api_route(base + "/{claim_id}", claim, methods=["GET"], name=f"{site}_heir")
    router.add_api_route(
        base + "/{claim_id}/apply", apply, methods=["POST"], name=f"{site}_heir_apply"
    )
    router.add_api_route(
        base + "/{claim_id}/medical", apply_medical, methods=["POST"], name=f"{site}_heir_medical"
    )


_add_site("etax")
_add_site("m")
