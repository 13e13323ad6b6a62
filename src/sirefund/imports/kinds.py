"""The six import kinds of docs/operations.md ("Import files"): their file columns, how a row
is validated, and the model its rows load into (tables and columns from ``Model.__table__``).
"""

from __future__ import annotations

import re
from datetime import date
from operator import itemgetter
from typing import Any

from sqlalchemy import Column

from ..domain import identity, years
from ..domain.errors import Invalid
from ..domain.rules import ArrivalStatus, UnitPaymentType
from ..domain.workflow import ACTIVE
from ..models import (
    Application,
    MedicalPayment,
    MedicalRegistration,
    PensionPayment,
    Person,
    Unit,
    UnitPayment,
    UnitPaymentPerson,
)
from . import fields as f
from .batch import Context, Kind, Owners, Row
from .bulk import BulkCursor, Values, table_of
from .fields import ID_MAX, fen_or_error, iso_date_or_none, year_or_none  # hot: bound directly

_ARRIVAL = frozenset(s.value for s in ArrivalStatus)
_UNIT_TYPES = frozenset(s.value for s in UnitPaymentType)
# Lengths of text columns not covered by fields.ID_MAX.
_NAME_MAX = 100
_ITEM_MAX = 60
_SS_NO_MAX = 30
_MOBILE = re.compile(r"1[3-9][0-9]{9}")

_PERSONS = table_of(Person)
_UNITS = table_of(Unit)
_APPLICATIONS = table_of(Application)
_PENSION = table_of(PensionPayment)
_REGISTRATIONS = table_of(MedicalRegistration)
_MEDICAL = table_of(MedicalPayment)
_UNIT_PAYMENTS = table_of(UnitPayment)
_LINES = table_of(UnitPaymentPerson)

_ACTIVE_LIST = ", ".join(f"'{s.value}'" for s in ACTIVE)


def _active_application(link: Column[Any], key: Column[Any]) -> str:
    """SQL: an active application refunds the row ``t`` (its ``key`` is the ``link``'s)."""
    return (
        f"EXISTS (SELECT 1 FROM {_APPLICATIONS.name} a WHERE a.{link.name} = t.{key.name} "
        f"AND a.{_APPLICATIONS.c.status.name} IN ({_ACTIVE_LIST}))"
    )


def _lines_sum(payment: str) -> str:
    """SQL: the sum of the person lines of the unit payment aliased ``payment``."""
    upid = _LINES.c.unit_payment_id.name
    return (
        f"(SELECT COALESCE(SUM(l.{_LINES.c.amount_fen.name}), 0) FROM {_LINES.name} l "
        f"WHERE l.{upid} = {payment}.{upid})"
    )


def new_context(today: date, limits: f.ImportLimits | None = None) -> Context:
    """The state of one import run; ``today`` bounds the birth dates in ID numbers and the
    payment dates, ``limits`` the amounts and dates (default: f.ImportLimits())."""
    p, u = _PERSONS.c, _UNITS.c
    return Context(
        today,
        persons=Owners(
            _PERSONS,
            (p.id_number, p["name"], p.region_code),
            Invalid("person.name_mismatch", "姓名与该证件号码已有的姓名不一致", "name"),
        ),
        units=Owners(
            _UNITS,
            (u.tax_id, u["name"], u.ss_no, u.region_code),
            Invalid("unit.name_mismatch", "单位名称与该税号已有的单位名称不一致", "unit_name"),
        ),
        limits=limits,
    )


class PensionPayments(Kind):
    name = "pension-payments"
    columns = ("payment_id", "id_number", "name", "region_code", "amount", "period_start",
               "period_end", "payment_year", "payment_date", "channel", "arrival_status")  # fmt: skip
    c = _PENSION.c
    table, key = _PENSION, c.payment_id
    fields = (c.person_id, c.amount_fen, c.period_start, c.period_end, c.payment_year,
              c.payment_date, c.channel, c.arrival_status)  # fmt: skip
    owner = (c.person_id,)
    guarded = (c.amount_fen, c.period_start, c.period_end, c.payment_year)
    active_sql = _active_application(_APPLICATIONS.c.pension_payment_id, c.payment_id)

    def prepare(self, v: list[str], ctx: Context) -> Values:
        pid, idn, name, region, amount, start, end, year, paid, channel, status = v
        # The hot path of the largest file: cheap checks inline, and only when one fails the
        # descriptive validators run to raise their error.
        fen = fen_or_error(amount)
        if not (
            status in _ARRIVAL
            and 0 < len(pid) <= ID_MAX
            and 0 < len(channel) <= ID_MAX
            and iso_date_or_none(start)
            and iso_date_or_none(end)
            and start <= end
            and iso_date_or_none(paid)
            and ctx.dates_plausible(start, end, paid)
            and type(fen) is int
            and 0 < fen <= ctx.limits.max_pension_fen
            and len(region) == f.REGION_DIGITS
            and region.isdigit()
            and region.isascii()
            and (y := year_or_none(year))
            and ctx.limits.earliest_date.year <= y <= ctx.today.year + 1
        ):
            if status not in _ARRIVAL:
                raise Invalid(
                    "arrival_status.unknown",
                    "到账状态应为 arrived、not_arrived 或 abnormal",
                    "arrival_status",
                )
            f.required(pid, "payment_id", f.ID_MAX)
            ctx.period(start, end)
            ctx.paid_on(paid, "payment_date")
            f.at_most(f.fen(amount, "amount"), ctx.limits.max_pension_fen, "amount")
            f.region(region)
            ctx.year(year, "payment_year")
            f.required(channel, "channel", f.ID_MAX)
        return (
            pid,
            ctx.resident_id(idn),
            f.name(name),
            region,
            fen,
            start,
            end,
            int(year),
            paid,
            channel,
            status,
        )

    def resolve(self, db: BulkCursor, rows: list[Row], ctx: Context) -> None:
        ctx.persons.resolve(db, rows, itemgetter(1, 2, 3))
        for r in rows:
            if not r.outcome:
                rec = r.rec
                r.values = (rec[0], r.ref, rec[4], rec[5], rec[6], rec[7], rec[8], rec[9], rec[10])


class MedicalRegistrations(Kind):
    name = "medical-registrations"
    columns = ("registration_id", "id_number", "name", "region_code", "agency_code",
               "agency_name", "ss_code")  # fmt: skip
    c = _REGISTRATIONS.c
    table, key = _REGISTRATIONS, c.registration_id
    fields = (c.person_id, c.agency_code, c.agency_name, c.ss_code, c.region_code)
    owner = (c.person_id,)

    def prepare(self, v: list[str], ctx: Context) -> Values:
        rid, idn, name, region, agency_code, agency_name, ss_code = v
        return (
            f.required(rid, "registration_id", f.ID_MAX),
            ctx.resident_id(idn),
            f.name(name),
            f.region(region),
            f.required(agency_code, "agency_code", f.ID_MAX),
            f.required(agency_name, "agency_name", _NAME_MAX),
            f.required(ss_code, "ss_code", f.ID_MAX),
        )

    def resolve(self, db: BulkCursor, rows: list[Row], ctx: Context) -> None:
        ctx.persons.resolve(db, rows, itemgetter(1, 2, 3))
        for r in rows:
            if not r.outcome:
                rec = r.rec
                r.values = (rec[0], r.ref, rec[4], rec[5], rec[6], rec[3])


class MedicalPayments(Kind):
    name = "medical-payments"
    columns = ("payment_id", "registration_id", "ticket_no", "item_name", "medical_amount",
               "ltc_amount", "period_start", "period_end", "payment_date", "channel")  # fmt: skip
    c = _MEDICAL.c
    table, key = _MEDICAL, c.payment_id
    fields = (c.registration_id, c.ticket_no, c.item_name, c.medical_amount_fen,
              c.ltc_amount_fen, c.period_start, c.period_end, c.payment_date, c.channel,
              c.insurance_year)  # fmt: skip
    owner = (c.registration_id,)
    guarded = (c.medical_amount_fen, c.ltc_amount_fen, c.period_start, c.period_end,
               c.insurance_year)  # fmt: skip
    active_sql = _active_application(_APPLICATIONS.c.medical_payment_id, c.payment_id)
    _known_sql = (
        f"SELECT {_REGISTRATIONS.c.registration_id.name} FROM {_REGISTRATIONS.name} WHERE {{where}}"
    )

    def prepare(self, v: list[str], ctx: Context) -> Values:
        pid, rid, ticket, item, medical, ltc, start, end, paid, channel = v
        start, end = ctx.period(start, end)
        year = years.insurance_year_of_period(date.fromisoformat(start), date.fromisoformat(end))
        limits = ctx.limits
        return (
            f.required(pid, "payment_id", f.ID_MAX),
            f.required(rid, "registration_id", f.ID_MAX),
            f.required(ticket, "ticket_no", f.ID_MAX),
            f.required(item, "item_name", _ITEM_MAX),
            f.at_most(f.fen(medical, "medical_amount"), limits.max_medical_fen, "medical_amount"),
            f.at_most(
                f.fen(ltc, "ltc_amount", positive=False, empty_is_zero=True),
                limits.max_ltc_fen,
                "ltc_amount",
            ),
            start,
            end,
            ctx.paid_on(paid, "payment_date"),
            f.required(channel, "channel", f.ID_MAX),
            year,
        )

    def resolve(self, db: BulkCursor, rows: list[Row], ctx: Context) -> None:
        wanted = {r.rec[1] for r in rows if not r.outcome}
        column = _REGISTRATIONS.c.registration_id.name
        known = {row[0] for row in db.select_in(self._known_sql, column, wanted)}
        for r in rows:
            if r.outcome:
                continue
            if r.rec[1] not in known:
                r.reject(
                    "medical_payment.unknown_registration",
                    "未找到该缴费的登记信息，请先导入医保登记信息（registration_id）",
                )
            else:
                r.values = r.rec


class UnitPayments(Kind):
    name = "unit-payments"
    columns = ("unit_payment_id", "unit_tax_id", "unit_name", "unit_ss_no", "region_code",
               "payment_type", "payment_year", "payment_month", "amount", "period_start",
               "period_end", "declaration_channel")  # fmt: skip
    c = _UNIT_PAYMENTS.c
    table, key = _UNIT_PAYMENTS, c.unit_payment_id
    fields = (c.unit_id, c.payment_type, c.payment_year, c.payment_month, c.amount_fen,
              c.period_start, c.period_end, c.declaration_channel)  # fmt: skip
    owner = (c.unit_id,)
    guarded = (c.payment_type, c.payment_year, c.payment_month, c.amount_fen, c.period_start,
               c.period_end)  # fmt: skip
    active_sql = (
        f"EXISTS (SELECT 1 FROM {_LINES.name} l JOIN {_APPLICATIONS.name} a "
        f"ON a.{_APPLICATIONS.c.unit_line_id.name} = l.{_LINES.c.line_id.name} "
        f"WHERE l.{_LINES.c.unit_payment_id.name} = t.{c.unit_payment_id.name} "
        f"AND a.{_APPLICATIONS.c.status.name} IN ({_ACTIVE_LIST}))"
    )
    extra_sql = f", {_lines_sum('t')}"

    def prepare(self, v: list[str], ctx: Context) -> Values:
        upid, tax_id, unit_name, ss_no, region, ptype, year, month, amount, start, end, channel = v
        if ptype not in _UNIT_TYPES:
            raise Invalid(
                "payment_type.unknown",
                "缴费类型应为 collective_subsidy、special_group_proxy 或 normal",
                "payment_type",
            )
        start, end = ctx.period(start, end)
        return (
            f.required(upid, "unit_payment_id", f.ID_MAX),
            f.tax_id(tax_id),
            f.no_control(f.required(unit_name, "unit_name", _NAME_MAX), "unit_name"),
            f.required(ss_no, "unit_ss_no", _SS_NO_MAX),
            f.region(region),
            ptype,
            ctx.year(year, "payment_year"),
            f.integer(month, "payment_month", f.MONTH_MIN, f.MONTH_MAX),
            f.at_most(f.fen(amount, "amount"), ctx.limits.max_unit_payment_fen, "amount"),
            start,
            end,
            f.required(channel, "declaration_channel", f.ID_MAX),
        )

    def resolve(self, db: BulkCursor, rows: list[Row], ctx: Context) -> None:
        ctx.units.resolve(db, rows, itemgetter(1, 2, 3, 4))
        for r in rows:
            if not r.outcome:
                rec = r.rec
                r.values = (rec[0], r.ref, *rec[5:])

    def check_change(self, row: Row, old: Values, ctx: Context) -> None:
        lines_sum = old[-1]
        if row.values[5] < lines_sum:
            raise Invalid(
                "unit_payment.amount_below_lines", "实缴金额小于已导入的人员明细金额合计", "amount"
            )


class UnitPaymentPersons(Kind):
    name = "unit-payment-persons"
    columns = ("unit_payment_id", "line_id", "id_number", "name", "ss_no", "amount")
    c = _LINES.c
    table, key = _LINES, c.line_id
    fields = (c.unit_payment_id, c.person_id, c.ss_no, c.amount_fen)
    owner = (c.unit_payment_id, c.person_id)
    guarded = (c.amount_fen,)
    active_sql = _active_application(_APPLICATIONS.c.unit_line_id, c.line_id)
    _payments_sql = (
        f"SELECT up.{_UNIT_PAYMENTS.c.unit_payment_id.name}, up.{_UNIT_PAYMENTS.c.amount_fen.name}, "
        f"{_lines_sum('up')}, u.{_UNITS.c.region_code.name} "
        f"FROM {_UNIT_PAYMENTS.name} up JOIN {_UNITS.name} u "
        f"ON u.{_UNITS.c.id.name} = up.{_UNIT_PAYMENTS.c.unit_id.name} WHERE {{where}}"
    )
    #: Unit payments in the database whose lines still sum to less than their amount.
    incomplete_sql = (
        f"SELECT COUNT(*) FROM {_UNIT_PAYMENTS.name} up "
        f"WHERE up.{_UNIT_PAYMENTS.c.amount_fen.name} > {_lines_sum('up')}"
    )

    def __init__(self) -> None:
        super().__init__()
        # unit_payment_id -> [amount, lines' sum so far]; per batch only.
        self.payments: dict[str, list[int]] = {}

    def prepare(self, v: list[str], ctx: Context) -> Values:
        upid, line_id, idn, name, ss_no, amount = v
        return (
            f.required(upid, "unit_payment_id", f.ID_MAX),
            f.required(line_id, "line_id", f.ID_MAX),
            ctx.resident_id(idn),
            f.name(name),
            f.required(ss_no, "ss_no", _SS_NO_MAX),
            f.at_most(f.fen(amount, "amount"), ctx.limits.max_unit_line_fen, "amount"),
        )

    def resolve(self, db: BulkCursor, rows: list[Row], ctx: Context) -> None:
        wanted = {r.rec[0] for r in rows if not r.outcome}
        self.payments = {}
        regions: dict[str, str] = {}
        column = f"up.{_UNIT_PAYMENTS.c.unit_payment_id.name}"
        for upid, amount, total, region in db.select_in(self._payments_sql, column, wanted):
            self.payments[upid] = [int(amount), int(total)]
            regions[upid] = region
        for r in rows:
            if not r.outcome and r.rec[0] not in self.payments:
                r.reject(
                    "unit_payment_person.unknown_payment",
                    "未找到该人员明细所属的单位缴费记录，请先导入单位缴费（unit_payment_id）",
                )
        # A villager's region is the village's: person lines carry no region of their own.
        ctx.persons.resolve(db, rows, lambda rec: (rec[2], rec[3], regions[rec[0]]))
        for r in rows:
            if not r.outcome:
                rec = r.rec
                r.values = (rec[1], rec[0], r.ref, rec[4], rec[5])

    def _add(self, upid: str, delta: int) -> None:
        payment = self.payments[upid]
        if payment[1] + delta > payment[0]:
            raise Invalid(
                "unit_payment.lines_exceed_amount",
                "人员明细金额合计将超过该单位缴费的实缴金额",
                "amount",
            )
        payment[1] += delta

    def check_new(self, row: Row, ctx: Context) -> None:
        self._add(row.values[1], row.values[4])

    def check_change(self, row: Row, old: Values, ctx: Context) -> None:
        self._add(row.values[1], row.values[4] - int(old[4]))


#: The kinds by name, in the order their files must be loaded (registrations before medical
#: payments, unit payments before their person lines).
class Units(Kind):
    """Each unit's 办税员 on record (issue 8): who may register the unit, with a code sent to
    this phone. The units come from the unit payments (they carry the social security number
    a unit needs), so a unit not yet known is refused, and its name must be the one on record.
    Loading the same file again changes nothing; a new handler replaces the old one."""

    name = "units"
    columns = ("unit_tax_id", "unit_name", "region_code", "handler_id_number", "handler_name",
               "handler_phone")  # fmt: skip
    c = _UNITS.c
    table, key = _UNITS, c.tax_id
    fields = (c["name"], c.region_code, c.handler_id_number, c.handler_name, c.handler_phone)
    owner = ()

    def prepare(self, v: list[str], ctx: Context) -> Values:
        tax_id, unit_name, region, handler_id, handler_name, handler_phone = v
        phone = identity.check_phone(handler_phone, field="handler_phone")
        if not _MOBILE.fullmatch(phone):
            raise Invalid(
                "handler_phone.not_mobile", "办税员手机号码应为11位手机号码", "handler_phone"
            )
        try:
            handler = ctx.resident_id(handler_id)
        except Invalid as exc:
            raise Invalid(exc.code, exc.message, "handler_id_number") from None
        return (
            f.tax_id(tax_id),
            f.required(unit_name, "unit_name", _NAME_MAX),
            f.region(region),
            handler,
            f.name(handler_name, field="handler_name"),
            phone,
        )

    def resolve(self, db: BulkCursor, rows: list[Row], ctx: Context) -> None:
        for r in rows:
            if not r.outcome:
                r.values = r.rec

    def check_new(self, row: Row, ctx: Context) -> None:
        raise Invalid(
            "unit.unknown",
            "未找到该单位，请先导入该单位的缴费信息（unit-payments）",
            "unit_tax_id",
        )

    def check_change(self, row: Row, old: Values, ctx: Context) -> None:
        if str(old[1]).strip() != row.values[1]:
            raise Invalid("unit.name_mismatch", "单位名称与该税号已有的单位名称不一致", "unit_name")


KINDS: dict[str, type[Kind]] = {
    k.name: k
    for k in (
        PensionPayments,
        MedicalRegistrations,
        MedicalPayments,
        UnitPayments,
        UnitPaymentPersons,
        Units,
    )
}
