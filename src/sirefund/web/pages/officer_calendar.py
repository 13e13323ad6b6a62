"""节假日设置 (/officer/calendar): the officers' calendar table, for years the chinesecalendar
package does not know yet (services/holidays.py). Reviewers set or remove a day; every officer
sees the year's holidays and 调休 working days, the table's and the package's."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError

from ...domain.errors import DomainError
from ...services import holidays
from ...services.accounts import Principal
from ..deps import Db, DbSession
from . import common, guard
from .common import in_transaction, render
from .officer import _base_context

router = APIRouter(include_in_schema=False)

WEEKDAYS = "一二三四五六日"
KIND_OPTIONS = [("holiday", "休息日（法定节假日）"), ("workday", "工作日（调休上班）")]
NOTICES = {"calendar_saved": "已保存，审核期限按新的日历计算。", "calendar_removed": "已删除。"}
YEAR_MIN, YEAR_MAX = 2000, 2100


def _year(request: Request) -> int:
    today = request.app.state.clock.today()
    year = common.query_int(request, "year", minimum=YEAR_MIN, maximum=YEAR_MAX)
    return year or today.year


async def _calendar_response(
    request: Request,
    db: Db,
    principal: Principal,
    *,
    year: int,
    form: common.Form | None = None,
    status_code: int = 200,
) -> Response:
    days = await in_transaction(db, lambda s: holidays.list_days(s, year))
    first, last = holidays.package_years()
    ctx = _base_context(
        principal, title="节假日设置", nav="calendar", crumbs=[("节假日设置", None)]
    )
    ctx.update(
        {
            "year": year,
            "rows": [
                {
                    "day": d.day.isoformat(),
                    "weekday": f"星期{WEEKDAYS[d.day.weekday()]}",
                    "kind": "上班" if d.is_workday else "休息",
                    "label": d.label,
                    "source": "税务端设置"
                    if d.source == "table"
                    else "国务院公布（chinesecalendar）",
                    "editable": d.source == "table",
                    "changed_by": d.changed_by,
                }
                for d in days
            ],
            "known": first <= year <= last,
            "package_first": first,
            "package_last": last,
            "kind_options": KIND_OPTIONS,
            "values": form.values if form else {"day": "", "kind": "holiday", "label": ""},
            "errors": form.errors if form else {},
            "can_edit": principal.is_reviewer,
            "notice": NOTICES.get(request.query_params.get("done", ""), ""),
        }
    )
    return render(request, "officer/calendar.html", ctx, status_code=status_code)


@router.get("/officer/calendar")
async def calendar_page(request: Request, db: DbSession, principal: guard.PageOfficer) -> Response:
    return await _calendar_response(request, db, principal, year=_year(request))


def _parse_day(form: common.Form) -> date | None:
    text = form.text("day", max_chars=10)
    try:
        return date.fromisoformat(text) if len(text) == 10 else None  # noqa: PLR2004 - YYYY-MM-DD
    except ValueError:
        return None


@router.post("/officer/calendar")
async def calendar_set(request: Request, db: DbSession, principal: guard.PageOfficer) -> Response:
    """设置一天: a reviewer sets one day (replacing an earlier entry of that day)."""
    form = await common.read_form(request)
    day = _parse_day(form)
    kind = form.text("kind", max_chars=10)
    label = form.text("label", max_chars=holidays.LABEL_MAX * 2, label="说明")
    year = day.year if day else _year(request)
    if not principal.is_reviewer:
        form.errors["_form"] = "只有审核人员可以设置节假日"
        return await _calendar_response(
            request, db, principal, year=year, form=form, status_code=403
        )
    if day is None or not YEAR_MIN <= day.year <= YEAR_MAX:
        form.errors["day"] = "请填写正确的日期（YYYY-MM-DD）"
    if kind not in dict(KIND_OPTIONS):
        form.errors["kind"] = "请选择休息日或工作日"
    if form.errors or day is None:
        return await _calendar_response(
            request, db, principal, year=year, form=form, status_code=422
        )
    at = request.app.state.clock.now()
    chosen = day
    try:
        data = holidays.CalendarDayIn(day=chosen, is_workday=kind == "workday", label=label)
        await in_transaction(
            db,
            lambda s: holidays.set_day(s, data, changed_by=principal.login_code, at=at),
        )
    except DomainError as exc:
        form.fail(exc)
        return await _calendar_response(
            request, db, principal, year=year, form=form, status_code=422
        )
    except ValidationError:
        form.errors["label"] = f"说明不能超过{holidays.LABEL_MAX}个字符"
        return await _calendar_response(
            request, db, principal, year=year, form=form, status_code=422
        )
    return common.redirect("/officer/calendar", year=chosen.year, done="calendar_saved")


@router.post("/officer/calendar/remove")
async def calendar_remove(
    request: Request, db: DbSession, principal: guard.PageOfficer
) -> Response:
    """删除一天 from the officers' table (the package's days cannot be removed, only overridden)."""
    form = await common.read_form(request)
    day = _parse_day(form)
    if not principal.is_reviewer or day is None:
        form.errors["_form"] = "只有审核人员可以删除节假日设置" if day else "请填写正确的日期"
        status = 403 if not principal.is_reviewer else 422
        return await _calendar_response(
            request, db, principal, year=_year(request), form=form, status_code=status
        )
    chosen = day
    await in_transaction(db, lambda s: holidays.remove_day(s, chosen))
    return common.redirect("/officer/calendar", year=chosen.year, done="calendar_removed")
