"""重新提交账户 as pages: what the PC site and the phone app share for a case whose payout
failed (退付失败) — the case shown with the bank's reason, and the corrected-account form
validated as the API's PayoutAccountIn (each problem next to its field), then
services/reissue.py. Each site keeps only its own layout and addresses (a ``Site``, which the
补正 pages of correction_pages.py use too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from ...domain.errors import DomainError
from ...domain.workflow import ApplicationKind
from ...services import bank_details, deposit_accounts, reissue
from ...services.accounts import Principal
from ...services.audit import Actor
from ...services.bank_details import PayoutAccountIn
from ...services.deposit_accounts import SubmittedAccount
from ...services.reissue import MedicalReissueIn
from .. import deps, presenters
from . import common, guard
from .common import Form, in_transaction
from .pension_flow import BANK_CHOICES

ID_MAX_DIGITS = 12  # more than any id the database holds; longer is simply not found
TITLE = "重新提交账户"


def _path_application_id(application_id: str) -> int:
    """The ``{application_id}`` of the path; one that is no id answers 页面不存在."""
    if (
        not (application_id.isascii() and application_id.isdigit())
        or len(application_id) > ID_MAX_DIGITS
    ):
        raise guard.PageNotFound()
    return int(application_id)


ApplicationId = Annotated[int, Depends(_path_application_id)]


@dataclass(frozen=True)
class Site:
    """Where the page of one kind's case (重新提交账户, 补正) lives on one site: its route
    (``path``, with ``{application_id}``), the kind, its template, its way back, the layout of
    its form and that of its error page."""

    path: str
    kind: ApplicationKind
    template: str
    back_url: str
    layout: dict[str, Any]
    error_layout: dict[str, Any]

    def action(self, application_id: int) -> str:
        return self.path.format(application_id=application_id)

    def error(self, request: Request, title: str, exc: DomainError) -> Response:
        """The site's page for a case that cannot be shown (not the applicant's, or not in
        the state the page is for), with 返回 to the list."""
        return common.error_page(
            request,
            title=title,
            message=exc.message,
            back_url=self.back_url,
            status_code=exc.status,
            **self.error_layout,
        )


async def load_case(
    db: deps.Db, *, kind: ApplicationKind, account_id: int, application_id: int
) -> dict[str, Any]:
    """The failed case as the form shows it (DomainError: not the applicant's, or not failed)."""
    view = await in_transaction(
        db,
        lambda s: reissue.failed_case(
            s, owner=Actor.applicant(kind, account_id), kind=kind, application_id=application_id
        ),
    )
    return presenters.application(view)


def form_context(case: dict[str, Any], *, payee_name: str, **extra: Any) -> dict[str, Any]:
    """The form's context: the case, the choices, and the account name filled with the
    payee's (the only name the bank will pay)."""
    return {
        "case": case,
        **BANK_CHOICES,
        "values": {"bank_account_name": payee_name},
        "errors": {},
        "codes": {},
        **extra,
    }


async def submit(
    request: Request,
    db: deps.Db,
    *,
    kind: ApplicationKind,
    account_id: int,
    application_id: int,
) -> Form:
    """Validate and re-issue; ``form.errors`` is empty on success."""
    form = await common.read_form(request)
    data: dict[str, object] = {name: form.text(name) for name in bank_details.ACCOUNT_FIELDS}
    data["account_no_confirmed"] = form.flag("account_no_confirmed")
    account = common.validate_form(form, PayoutAccountIn, data)
    if account is not None and not form.errors:
        await common.change_on_form(
            request,
            db,
            form,
            lambda s, at: reissue.reissue_pension(
                s,
                owner=Actor.applicant(kind, account_id),
                application_id=application_id,
                account=account,
                at=at,
            ),
        )
    return form


async def deposit_choices(db: deps.Db, *, person_id: int) -> list[SubmittedAccount]:
    """The person's deposit accounts in force, masked, for 选择银行账户信息."""
    return await in_transaction(
        db, lambda s: deposit_accounts.submitted_accounts(s, person_id=person_id)
    )


async def submit_medical(
    request: Request, db: deps.Db, *, person_id: int, application_id: int
) -> Form:
    """Re-issue a medical refund to the chosen deposit account; ``form.errors`` empty on
    success."""
    form = await common.read_form(request)
    chosen = form.integer(
        "deposit_account_id", label="银行账户信息", minimum=1, maximum=deposit_accounts.BIGINT_MAX
    )
    if chosen is None:
        form.errors.setdefault("deposit_account_id", "请选择银行账户信息")
        return form
    await common.change_on_form(
        request,
        db,
        form,
        lambda s, at: reissue.reissue_medical(
            s,
            person_id=person_id,
            application_id=application_id,
            account=MedicalReissueIn(deposit_account_id=chosen),
            at=at,
        ),
    )
    return form


async def pension_page(
    request: Request, db: deps.Db, principal: Principal, application_id: int, site: Site
) -> Response:
    """重新提交账户 of a pension refund (the person's or the unit's) whose payout failed, on
    either site: GET the form, POST re-issues, then back to the list with a notice."""
    try:
        case = await load_case(
            db, kind=site.kind, account_id=principal.account_id, application_id=application_id
        )
    except DomainError as exc:
        return site.error(request, TITLE, exc)
    ctx = form_context(
        case,
        payee_name=principal.display_name,
        title=TITLE,
        back_url=site.back_url,
        action=site.action(application_id),
        **site.layout,
    )
    if request.method == "POST":
        form = await submit(
            request,
            db,
            kind=site.kind,
            account_id=principal.account_id,
            application_id=application_id,
        )
        if not form.errors:
            return common.redirect(site.back_url, done="reissued")
        ctx.update(values=form.values, errors=form.errors, codes=form.codes)
        return common.render(request, site.template, ctx, status_code=422)
    return common.render(request, site.template, ctx)


async def medical_page(
    request: Request, db: deps.Db, principal: Principal, application_id: int, site: Site
) -> Response:
    """重新提交账户 of a medical refund whose payout failed, on either site: GET the choice of
    the person's deposit accounts, POST re-issues to the chosen one."""
    try:
        case = await load_case(
            db, kind=site.kind, account_id=principal.account_id, application_id=application_id
        )
    except DomainError as exc:
        return site.error(request, TITLE, exc)
    ctx: dict[str, Any] = {
        "title": TITLE,
        "case": case,
        "values": {},
        "errors": {},
        "back_url": site.back_url,
        "action": site.action(application_id),
        **site.layout,
    }
    status = 200
    if request.method == "POST":
        form = await submit_medical(
            request, db, person_id=principal.account_id, application_id=application_id
        )
        if not form.errors:
            return common.redirect(site.back_url, done="reissued")
        ctx.update(values=form.values, errors=form.errors)
        status = 422
    ctx["deposit_accounts"] = await deposit_choices(db, person_id=principal.account_id)
    return common.render(request, site.template, ctx, status_code=status)


def add_person_page(router: APIRouter, site: Site, *, name: str) -> None:
    """GET and POST of ``site``'s page for a person's own case: medical_page for a medical
    refund, pension_page for a pension one (the unit's page needs a unit: its site declares it)."""
    show = medical_page if site.kind is ApplicationKind.MEDICAL else pension_page

    async def page(
        request: Request,
        application_id: ApplicationId,
        db: deps.DbSession,
        principal: guard.PagePerson,
    ) -> Response:
        return await show(request, db, principal, application_id, site)

    router.add_api_route(site.path, page, methods=["GET", "POST"], name=name)
