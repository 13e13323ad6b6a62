"""税务端 review queue: the filters, the working-day review clock, and the filtered list (a
page for the screen, every row for the export).

Data scope: an officer sees only applications whose payer region lies under the office's
division (``officers.region_clause``); a region filter outside it intersects to nothing.
Every function takes the session of a transaction the caller owns and never commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    func,
    literal_column,
    or_,
    select,
    union,
)
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from ..clock import CHINA_TZ, as_utc
from ..domain import identity, regions
from ..domain.calendar import STATUTORY_REVIEW_WORKING_DAYS, WEEKENDS_ONLY, WorkingDays
from ..domain.documents import DOCUMENT_NO
from ..domain.errors import Invalid
from ..domain.workflow import ApplicationKind, ApplicationStatus, Channel
from ..models import Application, Officer, Person
from . import holidays, risk, views
from .list_filters import (
    DateRangeFilters,
    blank_to_none,
    china_midnight,
    division_code,
    within_days,
)
from .officers import OfficerRef, active_officer, region_clause
from .paging import DEFAULT_PAGE_SIZE, Page, check_page

EXPORT_CHUNK_ROWS = 500  # rows fetched at a time while streaming the whole queue
#: A queue page counts its total only this far (then says "this many or more"): a count of
#: every matching row costs a scan of the whole table at a million applications.
COUNT_LIMIT = 1_000


MAX_SEARCH_LENGTH = 50
_ID_NUMBER = re.compile(r"\d{17}[\dX]")

QueueSort = Literal[
    "days_pending", "-days_pending", "created_at", "-created_at", "amount", "-amount"
]
#: The queue's orders as (column, descending); ``days_pending`` (the longest-waiting first)
#: is the default, the statutory clock runs on those. Ties fall back on the application id,
#: in the same direction, so every order is total (the neighbours of a case are well defined).
SORTS: dict[str, tuple[InstrumentedAttribute[Any], bool]] = {
    "days_pending": (Application.created_at, False),
    "-days_pending": (Application.created_at, True),
    "created_at": (Application.created_at, False),
    "-created_at": (Application.created_at, True),
    "amount": (Application.amount_fen, False),
    "-amount": (Application.amount_fen, True),
}


def _order_by(sort: str, *, reverse: bool = False) -> tuple[ColumnElement[Any], ...]:
    column, descending = SORTS[sort]
    if descending != reverse:
        return (column.desc(), Application.id.desc())
    return (column.asc(), Application.id.asc())


def is_id_number(text: str) -> bool:
    """Whether a search text is a whole resident ID number (searched exactly, never echoed)."""
    return bool(_ID_NUMBER.fullmatch(text.strip().upper()))


def _search_clause(text: str) -> ColumnElement[bool]:
    """``q``: a full ID number matches only that number (never a part of it: the numbers are
    not something to browse by); digits match an application id; a 文书号 only that 文书号
    (its unique index: a name never looks like one); anything else is a name (exact or a
    part of it) or a 文书号 (exact). A name is looked up among the persons first (a part of a
    name can use no index; the persons are fewer than their applications), their
    applications then through the person_id index."""
    upper = text.upper()
    if _ID_NUMBER.fullmatch(upper):
        return Person.id_number == upper
    by_doc = Application.document_no == upper
    if DOCUMENT_NO.fullmatch(text):
        return by_doc
    if text.isascii() and text.isdigit():
        if len(text) > ID_SEARCH_DIGITS:
            return by_doc
        return or_(Application.id == int(text), by_doc)
    named = select(Person.id).where(Person.name.contains(text, autoescape=True))
    # One IN over a UNION, not an OR of the two: PostgreSQL cannot drive an OR holding a
    # subquery from either side and tested every application (7 s at 1M).
    return Application.id.in_(
        union(
            select(Application.id).where(Application.person_id.in_(named)),
            select(Application.id).where(by_doc),
        )
    )


ID_SEARCH_DIGITS = 12


def _member(value: object, enum: type[StrEnum], code: str, message: str, field: str) -> object:
    """Blank means "any"; anything else must be one of the enum's values (the domain's code
    and message, not pydantic's, so a client keeps the codes it knows)."""
    value = blank_to_none(value)
    if value is None:
        return None
    if not isinstance(value, str) or value not in {member.value for member in enum}:
        raise Invalid(code, message, field)
    return value


_CHOICES: dict[str, tuple[type[StrEnum], str]] = {
    "status": (ApplicationStatus, "退费状态不正确"),
    "kind": (ApplicationKind, "申请类型不正确"),
    "channel": (Channel, "申请渠道不正确"),
}


_YES_NO_LABELS = {"risk": "风险提示", "heir": "继承人代办"}


class QueueFilters(DateRangeFilters):
    """The queue's filters, built by the API from the query string and by the page from the
    same query string; None means "any". A bad value raises ``Invalid`` with its field."""

    model_config = ConfigDict(frozen=True)
    range_code = "queue.date_range"

    status: ApplicationStatus | None = Field(
        default=None, description="pending_review / approved / rejected / …"
    )
    kind: ApplicationKind | None = Field(
        default=None, description="pension / unit_pension / medical"
    )
    region: str | None = Field(default=None, description="行政区划代码，如 420703；420700 表示全市")
    channel: Channel | None = Field(default=None, description="web / mobile_app / officer")
    date_from: date | None = Field(default=None, description="申请日期起 YYYY-MM-DD")
    date_to: date | None = Field(default=None, description="申请日期止 YYYY-MM-DD")
    risk: bool | None = Field(
        default=None, description="true：仅有风险提示的申请；false：仅无风险提示的申请"
    )
    heir: bool | None = Field(
        default=None,
        description="true：仅继承人代办的申请（继承人为已故参保人申请）；false：仅本人（或单位）申请",
    )
    q: str | None = Field(
        default=None,
        max_length=50,
        description="证件号码（完整18位，精确匹配）、缴费人姓名、申请编号或文书号",
    )
    sort: QueueSort = Field(
        default="days_pending",
        description="排序：days_pending（等待最久在前）、-days_pending、created_at、"
        "-created_at（最新在前）、amount、-amount",
    )
    due_within: int | None = Field(
        default=None,
        ge=0,
        le=STATUTORY_REVIEW_WORKING_DAYS,
        description="待审核且剩余工作日不超过该数（含已超期），如 5",
    )

    @field_validator("status", "kind", "channel", mode="before")
    @classmethod
    def _one_of(cls, value: object, info: ValidationInfo) -> object:
        name = info.field_name or ""
        enum, message = _CHOICES[name]
        return _member(value, enum, f"queue.{name}", message, name)

    @field_validator("region", mode="before")
    @classmethod
    def _region(cls, value: object) -> object:
        return division_code(value, code="queue.region")

    @field_validator("due_within", mode="before")
    @classmethod
    def _due_within(cls, value: object) -> object:
        value = blank_to_none(value)
        if value is None or isinstance(value, int):
            return value
        text = value.strip() if isinstance(value, str) else ""
        if not (text.isascii() and text.isdigit()) or int(text) > STATUTORY_REVIEW_WORKING_DAYS:
            raise Invalid(
                "queue.due_within",
                f"剩余工作日应为0至{STATUTORY_REVIEW_WORKING_DAYS}之间的整数",
                "due_within",
            )
        return int(text)

    @field_validator("risk", "heir", mode="before")
    @classmethod
    def _yes_no(cls, value: object, info: ValidationInfo) -> object:
        value = blank_to_none(value)
        if value is None or isinstance(value, bool):
            return value
        text = value.strip().lower() if isinstance(value, str) else ""
        if text in {"true", "1", "yes", "on"}:
            return True
        if text in {"false", "0", "no", "off"}:
            return False
        name = info.field_name or ""
        raise Invalid(f"queue.{name}", f"{_YES_NO_LABELS[name]}筛选应为 true 或 false", name)

    @field_validator("q", mode="before")
    @classmethod
    def _q(cls, value: object) -> object:
        value = blank_to_none(value)
        if value is None:
            return None
        text = value.strip() if isinstance(value, str) else ""
        if not text or len(text) > MAX_SEARCH_LENGTH:
            raise Invalid("queue.q", f"查询内容应为1至{MAX_SEARCH_LENGTH}个字符", "q")
        return text

    @field_validator("sort", mode="before")
    @classmethod
    def _sort(cls, value: object) -> object:
        value = blank_to_none(value)
        if value is None:
            return "days_pending"
        if value not in SORTS:
            raise Invalid("queue.sort", "排序方式不正确", "sort")
        return value


@dataclass(frozen=True, slots=True)
class ReviewClock:
    """Working days an application waited for review, against the statutory 30."""

    submitted_on: date
    working_days_pending: int
    statutory_working_days: int
    working_days_left: int | None  # None once decided or cancelled
    review_deadline: date
    overdue: bool


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One row of the queue: the officer's view of the application and who pays, masked."""

    application: views.ApplicationView
    region_name: str | None
    payer_name: str
    payer_id_number_masked: str
    initiated_by_officer_code: str | None
    reviewed_by_officer_code: str | None
    clock: ReviewClock
    risk_flags: list[risk.FlagView] = field(default_factory=list)


def _china_date(value: datetime) -> date:
    return as_utc(value).astimezone(CHINA_TZ).date()


def review_clock(
    app: Application, *, today: date, calendar: WorkingDays = WEEKENDS_ONLY
) -> ReviewClock:
    """Pending: from the day of submission to ``today`` (China dates). Decided or cancelled:
    the count stops on the day of the decision, so the figure says how long the review took.
    ``calendar``: the working days (services.holidays.working_days).
    """
    submitted = _china_date(app.created_at)
    pending = app.status == ApplicationStatus.PENDING_REVIEW
    if pending:
        until = today
    elif app.reviewed_at is not None:
        until = _china_date(app.reviewed_at)
    else:  # cancelled by the applicant: the clock stopped then
        until = _china_date(app.updated_at)
    waited = max(0, calendar.between(submitted, until))
    return ReviewClock(
        submitted_on=submitted,
        working_days_pending=waited,
        statutory_working_days=STATUTORY_REVIEW_WORKING_DAYS,
        working_days_left=max(0, STATUTORY_REVIEW_WORKING_DAYS - waited) if pending else None,
        review_deadline=calendar.add(submitted, STATUTORY_REVIEW_WORKING_DAYS),
        overdue=waited > STATUTORY_REVIEW_WORKING_DAYS,
    )


#: How a statement of the queue is planned on SQLite (None: as written, and on PostgreSQL).
SqlitePlan = Literal["page", "count"] | None
_UNINDEXED_REGION = literal_column("+applications.region_code", String)
_UNINDEXED_CREATED = literal_column("+applications.created_at", Application.created_at.type)


def _sqlite_plan(session: Session, plan: Literal["page", "count"]) -> SqlitePlan:
    return plan if session.get_bind().dialect.name == "sqlite" else None


def _wide(code: str) -> bool:
    """A city's or the province's code: a range of counties, not one."""
    return code.endswith("00")


def _conditions(
    officer: Officer,
    filters: QueueFilters,
    due_by: date | None = None,
    *,
    sqlite: SqlitePlan = None,
) -> list[ColumnElement[bool]]:
    """``due_by``: with ``filters.due_within``, the latest submission day of a case due
    within that many working days (:func:`_due_by`).

    ``sqlite``: SQLite plans without knowing how many rows a range holds (no STAT4), so some
    terms are written ``+column`` (SQLite's way to say "no index for this term"). "count"
    and "page": the officer's city or province scope, which holds nearly every row — read
    through the (region_code, status) index it made SQLite count through the whole scope
    and sort it (1.5 s at 1M applications). "page" also: a city or province region filter,
    and the date bounds when the page is sorted by amount, so that the page walks the index
    of its order and stops after its rows instead of sorting every match (a city, newest
    first: 2.2 s). Equalities (status, the search) keep their indexes. PostgreSQL knows
    from its statistics."""
    wide_scope = sqlite is not None and _wide(officer.region_code)
    scope_column = _UNINDEXED_REGION if wide_scope else Application.region_code
    conds = [region_clause(scope_column, officer.region_code)]
    if filters.due_within is not None:
        if due_by is None:
            raise ValueError("due_within needs due_by")
        conds.append(Application.status == ApplicationStatus.PENDING_REVIEW.value)
        conds.append(Application.created_at < china_midnight(due_by + timedelta(days=1)))
    if filters.q is not None:
        conds.append(_search_clause(filters.q))
    if filters.region is not None:
        # A region outside the officer's scope simply intersects to nothing.
        walk = sqlite == "page" and _wide(filters.region)
        conds.append(
            region_clause(_UNINDEXED_REGION if walk else Application.region_code, filters.region)
        )
    if filters.status is not None:
        conds.append(Application.status == filters.status.value)
    if filters.kind is not None:
        conds.append(Application.kind == filters.kind.value)
    if filters.channel is not None:
        conds.append(Application.channel == filters.channel.value)
    if filters.risk is not None:
        flagged = risk.flagged_clause()
        conds.append(flagged if filters.risk else ~flagged)
    if filters.heir is not None:
        heir = Application.heir_claim_id
        conds.append(heir.is_not(None) if filters.heir else heir.is_(None))
    # 申请日期 is a date in China; created_at is stored in UTC.
    by_amount = sqlite == "page" and SORTS[filters.sort][0] is Application.amount_fen
    created = _UNINDEXED_CREATED if by_amount else Application.created_at
    conds.extend(within_days(created, filters.date_from, filters.date_to))
    return conds


def _due_by(filters: QueueFilters, today: date, calendar: WorkingDays) -> date | None:
    """Due within N working days = waited at least 30 - N by ``today``: submitted on or
    before the day this returns (overdue cases too)."""
    if filters.due_within is None:
        return None
    return calendar.latest_start(today, STATUTORY_REVIEW_WORKING_DAYS - filters.due_within)


_Initiator = aliased(Officer, name="initiator")
_Reviewer = aliased(Officer, name="reviewer")


def _queue_select(
    officer: Officer, filters: QueueFilters, due_by: date | None, *, sqlite: SqlitePlan = None
) -> Select[Application, str, str, str, str]:
    return (
        select(Application, Person.name, Person.id_number, _Initiator.code, _Reviewer.code)
        .join(Person, Person.id == Application.person_id)
        .outerjoin(_Initiator, _Initiator.id == Application.initiated_by_officer_id)
        .outerjoin(_Reviewer, _Reviewer.id == Application.reviewed_by_officer_id)
        .where(*_conditions(officer, filters, due_by, sqlite=sqlite))
        .order_by(*_order_by(filters.sort))
    )


def _queue_item(
    app: Application,
    payer_name: str,
    payer_id_number: str,
    initiator_code: str | None,  # None when nobody initiated or reviewed (outer joins)
    reviewer_code: str | None,
    *,
    today: date,
    calendar: WorkingDays,
) -> QueueItem:
    return QueueItem(
        application=views.application(app, audience="officer"),
        region_name=regions.division_name(app.region_code),
        payer_name=payer_name,
        payer_id_number_masked=identity.mask_id_number_for_officer(payer_id_number),
        initiated_by_officer_code=initiator_code,
        reviewed_by_officer_code=reviewer_code,
        clock=review_clock(app, today=today, calendar=calendar),
    )


def _with_flags(session: Session, items: list[QueueItem]) -> list[QueueItem]:
    """The items with their 风险提示 (one query for the page)."""
    found = risk.flags(session, [i.application.id for i in items])
    return [replace(i, risk_flags=found.get(i.application.id, [])) for i in items]


def queue_count(
    session: Session,
    *,
    officer: OfficerRef,
    filters: QueueFilters,
    today: date,
    calendar: WorkingDays | None = None,
    limit: int | None = None,
) -> int:
    """How many applications the filtered queue holds; with ``limit``, counting stops there
    (the answer is then at most ``limit``: "that many or more")."""
    me = active_officer(session, officer)
    due_by = _due_by(filters, today, calendar or holidays.working_days(session))
    plan = _sqlite_plan(session, "count")
    matching = select(Application.id).where(*_conditions(me, filters, due_by, sqlite=plan))
    if filters.q is not None:  # the search may look at the payer's name or ID number
        matching = matching.join(Person, Person.id == Application.person_id)
    if limit is not None:
        matching = matching.limit(limit)
    return session.execute(select(func.count()).select_from(matching.subquery())).scalar_one()


def _page_total(
    session: Session,
    me: Officer,
    filters: QueueFilters,
    calendar: WorkingDays,
    today: date,
    *,
    offset: int,
    page_size: int,
    shown: int,
) -> tuple[int, bool]:
    """The page's ``(total, total_exact)``. A page that is not full ends the queue, so the
    total is known without counting; otherwise the rows are counted up to
    ``COUNT_LIMIT`` (or the end of this page, when deeper), never the whole table: beyond
    that the total is that figure and not exact ("1000 条以上")."""
    if shown and shown < page_size or (not shown and offset == 0):
        return offset + shown, True
    cap = max(COUNT_LIMIT, offset + page_size)
    counted = queue_count(
        session, officer=me, filters=filters, today=today, calendar=calendar, limit=cap + 1
    )
    return min(counted, cap), counted <= cap


def queue(
    session: Session,
    *,
    officer: OfficerRef,
    filters: QueueFilters,
    page: int = 1,
    page_size: int = DEFAULT_PAGE_SIZE,
    today: date,
) -> Page[QueueItem]:
    """The review queue within the officer's scope, filtered, oldest first: the officer view
    of each application plus payer name, masked ID number (first six, last four) and the
    working-day clock (:func:`review_clock`). The total is exact up to ``COUNT_LIMIT``
    applications (:func:`_page_total`): no page counts a million rows."""
    me = active_officer(session, officer)
    page, page_size = check_page(page, page_size)
    calendar = holidays.working_days(session)
    due_by = _due_by(filters, today, calendar)
    offset = (page - 1) * page_size
    select_page = _queue_select(me, filters, due_by, sqlite=_sqlite_plan(session, "page"))
    rows = session.execute(select_page.limit(page_size).offset(offset)).all()
    total, exact = _page_total(
        session, me, filters, calendar, today, offset=offset, page_size=page_size, shown=len(rows)
    )
    items = _with_flags(
        session, [_queue_item(*row, today=today, calendar=calendar) for row in rows]
    )
    return Page(items=items, total=total, page=page, page_size=page_size, total_exact=exact)


def queue_rows(
    session: Session, *, officer: OfficerRef, filters: QueueFilters, today: date
) -> Iterator[QueueItem]:
    """Every item of the filtered queue (no paging), read in chunks, for the export."""
    me = active_officer(session, officer)
    calendar = holidays.working_days(session)
    result = session.execute(
        _queue_select(me, filters, _due_by(filters, today, calendar)),
        execution_options={"yield_per": EXPORT_CHUNK_ROWS},
    )
    for row in result:
        yield _queue_item(*row, today=today, calendar=calendar)


@dataclass(frozen=True, slots=True)
class Neighbours:
    """The cases before and after one case in the filtered, sorted queue (None at an end)."""

    previous_id: int | None
    next_id: int | None


def _beyond(app: Application, sort: str, *, before: bool) -> ColumnElement[bool]:
    """Rows after ``app`` in the order ``sort`` (or before it)."""
    column, descending = SORTS[sort]
    key = getattr(app, column.key)
    later = descending == before  # "after" in an ascending order is greater
    if later:
        return or_(column > key, and_(column == key, Application.id > app.id))
    return or_(column < key, and_(column == key, Application.id < app.id))


def _first_id(
    session: Session, me: Officer, filters: QueueFilters, today: date, *extra: ColumnElement[bool]
) -> int | None:
    due_by = _due_by(filters, today, holidays.working_days(session))
    return session.execute(
        select(Application.id)
        .join(Person, Person.id == Application.person_id)
        .where(*_conditions(me, filters, due_by, sqlite=_sqlite_plan(session, "page")), *extra)
        .order_by(*_order_by(filters.sort))
        .limit(1)
    ).scalar_one_or_none()


def neighbours(
    session: Session,
    *,
    officer: OfficerRef,
    filters: QueueFilters,
    application_id: int,
    today: date,
) -> Neighbours:
    """上一条 / 下一条 of a case within the queue as the officer filtered and sorted it (one
    indexed query each way, whatever the queue's length). A case outside the officer's scope
    has no neighbours."""
    me = active_officer(session, officer)
    app = session.execute(
        select(Application).where(
            Application.id == application_id,
            region_clause(Application.region_code, me.region_code),
        )
    ).scalar_one_or_none()
    if app is None:
        return Neighbours(None, None)
    due_by = _due_by(filters, today, holidays.working_days(session))
    sqlite = _sqlite_plan(session, "page")

    def step(*, before: bool) -> int | None:
        return session.execute(
            select(Application.id)
            .join(Person, Person.id == Application.person_id)
            .where(
                *_conditions(me, filters, due_by, sqlite=sqlite),
                _beyond(app, filters.sort, before=before),
            )
            .order_by(*_order_by(filters.sort, reverse=before))
            .limit(1)
        ).scalar_one_or_none()

    return Neighbours(previous_id=step(before=True), next_id=step(before=False))


def next_pending(
    session: Session,
    *,
    officer: OfficerRef,
    filters: QueueFilters,
    after_id: int,
    today: date,
) -> int | None:
    """The case 通过并下一条 / 退回并下一条 opens: the next one still 待审核 after ``after_id``
    in the officer's filtered, sorted queue, else the first one still 待审核 (from the top),
    never ``after_id`` itself; None when nothing is left to review."""
    me = active_officer(session, officer)
    pending = filters.model_copy(update={"status": ApplicationStatus.PENDING_REVIEW})
    app = session.execute(
        select(Application).where(
            Application.id == after_id,
            region_clause(Application.region_code, me.region_code),
        )
    ).scalar_one_or_none()
    if app is not None:
        found = _first_id(session, me, pending, today, _beyond(app, pending.sort, before=False))
        if found is not None:
            return found
    return _first_id(session, me, pending, today, Application.id != after_id)
