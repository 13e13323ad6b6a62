"""关怀版 and accessibility, in real Chromium: every page of the PC site, the phone app and the
officer console — login pages, menus, lists, forms, the dialogs they open and the error pages —
is checked with axe-core in the normal mode and in 关怀版, with no serious or critical
violation (text contrast ≥ 4.5:1 among them) and an ``h1`` on each. The list of pages is
checked against the app's routes, so a new page cannot be forgotten.

axe-core comes from the npm registry at set-up (scripts/ensure-browser.sh, ``make browser``)
into the git-ignored var/axe; without it these tests are skipped with the reason, except under
CI=true, where that is a failure.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from playwright.sync_api import expect
from sqlalchemy import select
from tests import factories as f
from tests.conftest import NOW
from tests.e2e.conftest import ARTIFACTS, IN_CI, PC, PHONE, officer_login

from sirefund.models import DepositAccount, HeirClaim, Notification
from sirefund.services import units

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[2] / "var" / "axe" / "node_modules" / "axe-core"
AXE_JS = AXE / "axe.min.js"
BLOCKING = {"serious", "critical"}
#: GET routes that are not pages: the 关怀版 switch answers a redirect, the queue export a file.
NOT_PAGES = {
    "/care-mode",
    "/officer/applications.xlsx",
    "/officer/audit.xlsx",
    "/officer/stats.xlsx",
}


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE_JS.exists():
        message = (
            f"axe-core is missing ({AXE_JS}): run `make browser` "
            "(scripts/ensure-browser.sh installs axe-core@4 from the npm registry)"
        )
        if IN_CI:
            pytest.fail("CI=true but " + message)
        pytest.skip(message)
    return str(AXE_JS)


# --------------------------------------------------------------------------- the pages


@dataclass(frozen=True)
class Visit:
    route: str  # the route's path as the app declares it
    who: str  # anon | person | unit | officer
    url: str = ""  # the address opened, when it is not the route itself
    status: int = 200
    open_dialog: Callable | None = None  # opens a dialog before the check
    name: str = ""

    @property
    def address(self) -> str:
        return self.url or self.route

    @property
    def label(self) -> str:
        return self.name or re.sub(r"[^a-z0-9]+", "-", self.address.lower()).strip("-") or "root"


def _open_pc_pension_dialog(page) -> None:
    page.locator("#pension-list tbody tr").first.get_by_role("checkbox").check()
    page.get_by_role("button", name="申请退费").click()
    expect(page.locator("#apply-dialog")).to_be_visible()


def _open_phone_pension_sheet(page) -> None:
    page.locator("section.detail").first.get_by_role("link", name="申请退费").click()
    expect(page.locator("#apply-sheet")).to_be_visible()


def _grid_with_errors(page) -> None:
    row = page.locator("tbody[data-report-rows] tr[data-row]").first
    row.locator("#r0-account_name").fill("别人")
    row.locator("#r0-opened_on").fill("2099-01-01")
    page.get_by_role("button", name="提交").click()
    expect(page.locator(".error-summary")).to_be_visible()


def _phone_login_with_errors(page) -> None:
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".field-error").first).to_be_visible()


def _visits(ids: dict) -> list[Visit]:
    reg = ids["registration_id"]
    chosen = f"registration_id={reg}&payment_ids={ids['medical_payment_id']}"
    return [
        # PC 电子税务局
        Visit("/etax/", "anon"),
        Visit("/etax", "person"),
        Visit("/etax/tax-center", "person"),
        Visit("/etax/tax-center/declare", "person"),
        Visit("/etax/tax-center/declare/other", "person"),
        Visit("/etax/query-center", "anon"),
        Visit("/etax/interaction", "anon"),
        Visit("/etax/public", "anon"),
        Visit("/etax/personal", "anon"),
        Visit("/etax/login", "anon"),
        Visit("/etax/register", "anon"),
        Visit("/etax/{rest:path}", "anon", "/etax/no-such-page", status=404),
        Visit("/etax/pension", "person", "/etax/pension?year=2021"),
        Visit(
            "/etax/pension",
            "person",
            "/etax/pension?year=2021",
            open_dialog=_open_pc_pension_dialog,
            name="etax-pension-dialog",
        ),
        Visit("/etax/pension/progress", "person"),
        Visit("/etax/medical", "person", name="etax-medical-choose-dialog"),
        Visit("/etax/medical", "person", f"/etax/medical?registration_id={reg}"),
        Visit("/etax/medical/apply", "person", f"/etax/medical/apply?{chosen}"),
        Visit("/etax/medical/progress", "person"),
        Visit("/etax/medical/deposit-report", "person"),
        Visit(
            "/etax/medical/deposit-report",
            "person",
            open_dialog=_grid_with_errors,
            name="etax-deposit-report-errors",
        ),
        Visit("/etax/unit", "unit", "/etax/unit?year=2022"),
        Visit(
            "/etax/unit/payments/{payment_id}/refund",
            "unit",
            f"/etax/unit/payments/{ids['unit_payment_id']}/refund",
        ),
        Visit("/etax/unit/progress", "unit"),
        Visit(
            "/etax/unit/progress/{application_id}/persons",
            "unit",
            f"/etax/unit/progress/{ids['unit_application_id']}/persons",
        ),
        Visit("/etax/unit", "person", name="etax-wrong-account-kind", status=403),
        # 楚税通
        Visit("/m/", "anon"),
        Visit("/m", "person"),
        Visit("/m/more", "anon"),
        Visit("/m/refund", "anon"),
        Visit("/m/sif", "person"),
        Visit("/m/sif", "unit", name="m-sif-unit"),
        Visit("/m/login", "anon"),
        Visit("/m/login", "anon", open_dialog=_phone_login_with_errors, name="m-login-errors"),
        Visit("/m/register", "anon"),
        Visit("/m/{rest:path}", "anon", "/m/no-such-page", status=404),
        Visit("/m/pension", "person", "/m/pension?year=2021"),
        Visit(
            "/m/pension",
            "person",
            "/m/pension?year=2021",
            open_dialog=_open_phone_pension_sheet,
            name="m-pension-sheet",
        ),
        Visit("/m/pension", "person", "/m/pension?view=progress", name="m-pension-progress"),
        Visit("/m/medical", "person"),
        Visit("/m/medical/query", "person", f"/m/medical/query?registration_id={reg}"),
        Visit("/m/medical/apply", "person", f"/m/medical/apply?{chosen}"),
        Visit("/m/medical/apply/fill", "person", f"/m/medical/apply/fill?{chosen}"),
        Visit("/m/medical/report", "person"),
        Visit("/m/medical/report/account", "person"),
        # 税务端
        Visit("/officer/login", "anon"),
        Visit("/officer/", "officer", status=200),
        Visit("/officer", "officer"),
        Visit("/officer/applications", "officer"),
        Visit(
            "/officer/applications/{application_id}",
            "officer",
            f"/officer/applications/{ids['application_id']}",
        ),
        Visit(
            "/officer/applications/{application_id}",
            "officer",
            "/officer/applications/999999",
            status=404,
            name="officer-not-found",
        ),
        Visit("/officer/initiate", "officer"),
        Visit("/officer/dispatches", "officer"),
        Visit("/officer/calendar", "officer"),
        Visit("/officer/reconciliations", "officer"),
        Visit("/officer/audit", "officer"),
        # 消息中心
        Visit("/etax/messages", "person"),
        Visit(
            "/etax/messages/{notification_id}",
            "person",
            f"/etax/messages/{ids['notification_id']}",
        ),
        Visit("/m/messages", "person"),
        Visit("/m/messages/{notification_id}", "person", f"/m/messages/{ids['notification_id']}"),
        # 继承人代办: the claim form and list, a verified claim with the application form
        Visit("/etax/heirs", "person"),
        Visit("/etax/heirs/{claim_id}", "person", f"/etax/heirs/{ids['heir_claim_id']}"),
        Visit("/m/heirs", "person"),
        Visit("/m/heirs/{claim_id}", "person", f"/m/heirs/{ids['heir_claim_id']}"),
        # 补正 after 退回补正
        Visit(
            "/etax/pension/progress/{application_id}/correct",
            "person",
            f"/etax/pension/progress/{ids['returned_pension_id']}/correct",
        ),
        Visit(
            "/etax/medical/progress/{application_id}/correct",
            "person",
            f"/etax/medical/progress/{ids['returned_medical_id']}/correct",
        ),
        Visit(
            "/etax/unit/progress/{application_id}/correct",
            "unit",
            f"/etax/unit/progress/{ids['returned_unit_id']}/correct",
        ),
        Visit(
            "/m/pension/refunds/{application_id}/correct",
            "person",
            f"/m/pension/refunds/{ids['returned_pension_id']}/correct",
        ),
        Visit(
            "/m/medical/refunds/{application_id}/correct",
            "person",
            f"/m/medical/refunds/{ids['returned_medical_id']}/correct",
        ),
        # 重新提交账户 after 退付失败
        Visit(
            "/etax/pension/progress/{application_id}/reissue",
            "person",
            f"/etax/pension/progress/{ids['failed_pension_id']}/reissue",
        ),
        Visit(
            "/etax/medical/progress/{application_id}/reissue",
            "person",
            f"/etax/medical/progress/{ids['failed_medical_id']}/reissue",
        ),
        Visit(
            "/etax/unit/progress/{application_id}/reissue",
            "unit",
            f"/etax/unit/progress/{ids['failed_unit_id']}/reissue",
        ),
        Visit(
            "/m/pension/refunds/{application_id}/reissue",
            "person",
            f"/m/pension/refunds/{ids['failed_pension_id']}/reissue",
        ),
        Visit(
            "/m/medical/refunds/{application_id}/reissue",
            "person",
            f"/m/medical/refunds/{ids['failed_medical_id']}/reissue",
        ),
        Visit("/officer/stats", "officer"),
    ]


def _get_paths(router) -> set[str]:
    """The GET paths of a router, through the routers it includes (prefixes are not used)."""
    paths: set[str] = set()
    for route in router.routes:
        if isinstance(route, APIRoute):
            if "GET" in route.methods:
                paths.add(route.path)
        else:
            inner = getattr(route, "original_router", None) or getattr(route, "router", None)
            if inner is not None:
                paths |= _get_paths(inner)
    return paths


def _page_routes() -> set[str]:
    """Every GET route of every module under web/pages that has a router: a new page module
    is covered without being named here."""
    import importlib
    import pkgutil

    from sirefund.web import pages

    routers = []
    for info in pkgutil.iter_modules(pages.__path__):
        module = importlib.import_module(f"{pages.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            routers.append(router)
    return set().union(*(_get_paths(router) for router in routers)) - NOT_PAGES


def test_the_checked_pages_cover_every_get_page_route():
    listed = {
        visit.route
        for visit in _visits(
            {
                "registration_id": "R",
                "unit_payment_id": "U",
                "unit_application_id": 1,
                "application_id": 1,
                "medical_payment_id": "M",
                "failed_pension_id": 2,
                "failed_medical_id": 3,
                "failed_unit_id": 4,
                "returned_pension_id": 5,
                "returned_medical_id": 6,
                "returned_unit_id": 7,
                "notification_id": 8,
                "heir_claim_id": 9,
            }
        )
    }
    assert _page_routes() - listed == set(), "pages nobody checks for accessibility"
    assert listed - _page_routes() == set(), "checked pages that are no routes"


# --------------------------------------------------------------------------- data and login


def _seed(site) -> dict:
    with site["sessions"]() as s, s.begin():
        person = f.make_person(s, name="关怀版", password=f.PASSWORD, phone="13900000777")
        f.make_pension_payment(s, person, amount_fen=70000, year=2021)
        f.make_pension_payment(s, person, amount_fen=50000, year=2021, arrival_status="arrived")
        r1 = f.make_registration(s, person)
        r2 = f.make_registration(
            s, person, agency_name="华容区医疗保障局(城乡医疗)", agency_code="420703YB"
        )
        medical_payment = f.make_medical_payment(s, r1, year=2026)
        f.make_submitted_account(s, person)
        f.make_medical_payment(s, r2, year=2026)
        unit = f.make_unit(s, name="关怀村村民委员会", password=f.PASSWORD)
        people = [f.make_person(s, name=n) for n in ("张三", "李四")]
        up, lines = f.make_unit_payment(s, unit, people, year=2022)
        up2, lines2 = f.make_unit_payment(s, unit, people, year=2022, month=2)
        saved = units.save_batch(
            s,
            unit_id=unit.id,
            batch=units.UnitBatchIn.model_validate(
                {
                    "unit_payment_id": up2.unit_payment_id,
                    "line_ids": [line.line_id for line in lines2],
                    "payment_month": 2,
                    "bank_account_type": "bank_card",
                    "bank_account_no": "6228480402564890018",
                    "bank_category": "103",
                    "contact_name": "王会计",
                    "contact_phone": "13812341234",
                    "bank_account_name": "关怀村村民委员会",
                }
            ),
            at=NOW,
        )
        officers = [  # a one-time code each: one officer per run
            # Also the auditor and the supervisor: the audit log and the statistics are pages.
            f.make_officer(
                s, code=code, region="420700", initiator=True, auditor=True, supervisor=True
            )
            for code in ("CARE01", "CARE02")
        ]
        other = f.make_person(s, name="邱世贵", region="420703")
        pay = f.make_pension_payment(s, other)
        app = f.submit(s, f.pension_application(other, pay), at=f.AT)
        deceased = f.make_person(s, name="关怀故", region="420703")
        f.make_pension_payment(s, deceased)
        # The claim page's 城乡居民医疗保险 section with a payment to apply for.
        f.make_medical_payment(s, f.make_registration(s, deceased))
        claim = HeirClaim(
            heir_person_id=person.id,
            relationship="child",
            deceased_id_number=deceased.id_number,
            deceased_name=deceased.name,
            death_date=date(2025, 12, 1),
            status="verified",
            confirmation_result="人社部门已确认死亡登记信息",
            confirmed_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )
        s.add(claim)
        s.flush()
        failed = _failed_payouts(s, person, r1, unit, people[0], NOW)
        returned = _returned_cases(s, officers[0], person, r1, unit, people[1], NOW)
        # The transitions above wrote notices: one of the person's for the 消息中心 pages.
        notice = s.execute(
            select(Notification.id)
            .where(Notification.recipient_kind == "person", Notification.recipient_id == person.id)
            .limit(1)
        ).scalar_one()
        return {
            **failed,
            **returned,
            "notification_id": notice,
            "heir_claim_id": claim.id,
            "person_login": person.phone,
            "unit_login": unit.tax_id,
            "registration_id": r1.registration_id,
            "unit_payment_id": up.unit_payment_id,
            "unit_application_id": saved.applications[0].id,
            "application_id": app.id,
            "medical_payment_id": medical_payment.payment_id,
        }


def _failed_payouts(s, person, registration, unit, villager, at) -> dict:
    """A pension, a medical and a unit application whose payout failed (退付失败), so that
    the 重新提交账户 pages have something to show."""
    account = (
        s.execute(select(DepositAccount).where(DepositAccount.person_id == person.id))
        .scalars()
        .first()
    )
    pay = f.make_pension_payment(s, person, amount_fen=30000, year=2020)
    medical = f.make_medical_payment(s, registration, year=2025)
    up, (line,) = f.make_unit_payment(s, unit, [villager], year=2021)
    made = {
        "failed_pension_id": f.pension_application(person, pay, bank_account_name=person.name),
        "failed_medical_id": f.medical_application(person, medical, registration, account),
        "failed_unit_id": f.unit_application(s, unit, up, line, at=at),
    }
    for app in made.values():
        f.submit(s, app, at=at)
        f.fail_payout(s, app.id, at=at)
    return {key: app.id for key, app in made.items()}


def _returned_cases(s, officer, person, registration, unit, villager, at) -> dict:
    """A pension, a medical and a unit application returned for correction (退回补正), for
    the 补正 pages."""
    pay = f.make_pension_payment(s, person, amount_fen=30000, year=2019)
    medical = f.make_medical_payment(s, registration, year=2024)
    up, (line,) = f.make_unit_payment(s, unit, [villager], year=2019)
    made = {
        "returned_pension_id": (
            f.pension_application(person, pay, bank_account_name=person.name),
            ("bank_account", "contact"),
        ),
        "returned_medical_id": (
            f.medical_application(person, medical, registration, None),
            ("deposit_account", "contact"),
        ),
        "returned_unit_id": (
            f.unit_application(s, unit, up, line, at=at),
            ("bank_account", "contact"),
        ),
    }
    for app, fields in made.values():
        f.submit(s, app, at=at)
        f.return_for_correction(s, app.id, officer=officer, fields=fields, opinion="请核对", at=at)
    return {key: app.id for key, (app, _) in made.items()}


def _login(page, site: dict, who: str, ids: dict) -> None:
    if who == "anon":
        return
    if who == "officer":
        officer_login(page, site, ids["officer_code"])
        return
    page.goto(site["base"] + "/etax/login" + ("?kind=unit" if who == "unit" else ""))
    page.get_by_label(
        "纳税人识别号" if who == "unit" else "居民身份证号码/手机号码/用户名", exact=True
    ).fill(ids[f"{who}_login"])
    page.get_by_label("密码", exact=True).fill(f.PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".account-bar")).to_contain_text("退出")


def _check(page, axe: str) -> list[str]:
    page.add_script_tag(path=axe)
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' ' + n.failureSummary)}));
        }"""
    )
    return [
        f"{v['impact']} {v['id']} ({v['help']}): {v['nodes']}"
        for v in result
        if v["impact"] in BLOCKING
    ]


# --------------------------------------------------------------------------- the check


@pytest.mark.parametrize("care", [False, True], ids=["normal", "care"])
def test_every_page_has_an_h1_and_no_serious_accessibility_violation(
    applicant_browser, applicant_site, axe_source, care
):
    site = applicant_site
    base = site["base"]
    if "care-ids" not in site:
        site["care-ids"] = _seed(site)
    ids = site["care-ids"]
    ids = {**ids, "officer_code": "CARE02" if care else "CARE01"}
    contexts: dict[tuple[str, str], object] = {}
    problems: list[str] = []
    try:
        for visit in _visits(ids):
            phone = visit.address.startswith("/m")
            key = (visit.who, "phone" if phone else "pc")
            if key not in contexts:
                context = applicant_browser.new_context(
                    locale="zh-CN",
                    viewport=PHONE if phone else PC,
                    # axe is injected as a script of the test's own; the pages' CSP stays on.
                    bypass_csp=True,
                )
                context.set_default_timeout(10_000)
                page = context.new_page()
                _login(page, site, visit.who, ids)
                if care:
                    page.goto(base + "/care-mode?on=1&next=/etax/")
                contexts[key] = (context, page)
            _, page = contexts[key]
            response = page.goto(base + visit.address)
            assert response is not None
            where = f"{visit.who} {visit.address}"
            if response.status != visit.status:
                problems.append(f"{where}: HTTP {response.status}, expected {visit.status}")
            if visit.open_dialog:
                visit.open_dialog(page)
                where += f" ({visit.open_dialog.__name__.strip('_')})"
            if page.locator("h1").count() < 1:
                problems.append(f"{where}: no h1")
            html_class = page.locator("html").get_attribute("class") or ""
            if care != ("care" in html_class.split()):
                problems.append(f"{where}: 关怀版 is {'off' if care else 'on'}")
            problems += [f"{where}: {v}" for v in _check(page, axe_source)]
            if care:
                ARTIFACTS.mkdir(exist_ok=True)
                shot = (
                    ARTIFACTS / f"care-{'phone' if phone else 'pc'}-{visit.who}-{visit.label}.png"
                )
                page.screenshot(path=str(shot), full_page=True)
    finally:
        for context, _ in contexts.values():
            context.close()
    assert problems == [], "\n".join(problems)
