"""The audit log as an auditor (审计) reads it: filtered by application, actor, person and
China dates, newest first, a page at a time or every row for an export. Only officers with
the `auditor` role; the log covers the whole system, whatever the auditor's region."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from pydantic import ConfigDict, Field, field_validator
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from ..clock import as_utc
from ..domain.audit import AuditAction, AuditRow
from ..domain.errors import Forbidden, Invalid
from ..models import Application, AuditRecord, Officer
from .list_filters import DateRangeFilters, blank_to_none, within_days
from .officers import OfficerRef, active_officer
from .paging import Page, check_page

#: More rows than this in one export is 422: narrow the filters.
EXPORT_MAX_ROWS = 200_000
_ACTOR_MAX = 80


class AuditFilters(DateRangeFilters):
    """The log's filters (query string of the API and of the page); None means any."""

    model_config = ConfigDict(frozen=True)
    range_code = "audit.date_range"
    range_message = "日期起不能晚于日期止"

    application_id: int | None = Field(default=None, ge=1, description="申请编号")
    actor: str | None = Field(
        default=None,
        description="操作人：`officer:代码`、`person:编号`、`unit:编号`、`system`，或只写税务人员代码",
    )
    person_id: int | None = Field(
        default=None, ge=1, description="缴费人编号：其本人的操作和关于其本人及其申请的记录"
    )
    date_from: date | None = Field(default=None, description="日期起 YYYY-MM-DD（北京时间）")
    date_to: date | None = Field(default=None, description="日期止 YYYY-MM-DD（北京时间）")

    @field_validator("application_id", "person_id", mode="before")
    @classmethod
    def _blank(cls, value: object) -> object:
        return blank_to_none(value)

    @field_validator("actor", mode="before")
    @classmethod
    def _actor(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str) or len(value.strip()) > _ACTOR_MAX:
            raise Invalid("audit.actor", "操作人格式不正确", "actor")
        return value.strip()


@dataclass(frozen=True, slots=True)
class AuditEntry(AuditRow):
    """One audit row as the 审计日志 shows it: `at` in UTC, the action with its label."""

    action_label: str


def _auditor(session: Session, officer: OfficerRef) -> Officer:
    me = active_officer(session, officer)
    if not me.is_auditor:
        raise Forbidden("audit.not_auditor", "仅审计人员可以查看审计日志")
    return me


def _conditions(filters: AuditFilters) -> list[ColumnElement[bool]]:
    t = AuditRecord
    where: list[ColumnElement[bool]] = []
    if filters.application_id is not None:
        where.append(t.application_id == filters.application_id)
    if filters.actor is not None:
        kind, sep, ident = filters.actor.partition(":")
        if not sep:  # a bare value: an officer's code
            where.append(and_(t.actor_kind == "officer", t.actor_id == kind))
        elif ident:
            where.append(and_(t.actor_kind == kind, t.actor_id == ident))
        else:
            where.append(t.actor_kind == kind)
    if filters.person_id is not None:
        pid = filters.person_id
        own_applications = select(Application.id).where(Application.person_id == pid)
        where.append(
            or_(
                t.person_id == pid,
                and_(t.actor_kind == "person", t.actor_id == str(pid)),
                t.application_id.in_(own_applications),
            )
        )
    where.extend(within_days(t.at, filters.date_from, filters.date_to))
    return where


def _select(filters: AuditFilters) -> Select[AuditRecord]:
    return select(AuditRecord).where(*_conditions(filters)).order_by(AuditRecord.id.desc())


def _entry(row: AuditRecord) -> AuditEntry:
    try:
        label = AuditAction(row.action).label
    except ValueError:  # an action of a newer version
        label = row.action
    return AuditEntry(
        id=row.id,
        at=as_utc(row.at),
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        action=row.action,
        action_label=label,
        application_id=row.application_id,
        person_id=row.person_id,
        unit_id=row.unit_id,
        officer_id=row.officer_id,
        address=row.address,
        details=row.details,
    )


def search(
    session: Session,
    *,
    officer: OfficerRef,
    filters: AuditFilters,
    page: int = 1,
    page_size: int = 20,
) -> Page[AuditEntry]:
    """A page of the log, newest first. 403 `audit.not_auditor` for other officers."""
    _auditor(session, officer)
    page, page_size = check_page(page, page_size)
    total = session.execute(
        select(func.count()).select_from(AuditRecord).where(*_conditions(filters))
    ).scalar_one()
    rows = session.execute(
        _select(filters).offset((page - 1) * page_size).limit(page_size)
    ).scalars()
    return Page(items=[_entry(r) for r in rows], total=total, page=page, page_size=page_size)


def export_rows(
    session: Session, *, officer: OfficerRef, filters: AuditFilters
) -> Iterator[AuditEntry]:
    """Every row the filters select, newest first, streamed; 422 `export.too_many` beyond
    EXPORT_MAX_ROWS. 403 for officers who are not auditors. Iterate inside the transaction."""
    _auditor(session, officer)
    total = session.execute(
        select(func.count()).select_from(AuditRecord).where(*_conditions(filters))
    ).scalar_one()
    if total > EXPORT_MAX_ROWS:
        raise Invalid("export.too_many", f"导出结果超过{EXPORT_MAX_ROWS}条，请缩小查询范围", None)
    return _stream(session, filters)


def _stream(session: Session, filters: AuditFilters) -> Iterator[AuditEntry]:
    for row in session.execute(_select(filters).execution_options(yield_per=2000)).scalars():
        yield _entry(row)
