"""What every import kind shares: rows on their way through a batch, the persons and units
rows name (created and cached by natural key), and :class:`Kind`, whose :meth:`Kind.apply`
sorts a batch's rows into loaded, updated, unchanged and rejected and writes them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, ClassVar

from sqlalchemy import Column, Date, Table

from ..domain import identity
from ..domain.errors import DomainError, Invalid
from . import fields as f
from .bulk import BulkCursor, Values

LOADED, UPDATED, UNCHANGED, REJECTED = "loaded", "updated", "unchanged", "rejected"
#: A later copy of a key within one batch, decided once the first copy is.
_DUPLICATE = "dup"
#: Bound of the person / unit id caches (entries, about 200 bytes each).
CACHE_LIMIT = 200_000


class Row:
    """One data row on its way through a batch."""

    __slots__ = ("code", "line", "outcome", "raw", "reason", "rec", "ref", "values")

    def __init__(self, line: int, raw: list[str]) -> None:
        self.line = line
        self.raw = raw
        #: The validated file values, in the kind's column order; empty when the row is bad.
        self.rec: Values = ()
        #: The table row (key first), once references are resolved.
        self.values: Values = ()
        self.outcome = ""
        self.code = ""
        self.reason = ""
        #: The id of the person or unit the row names, once resolved.
        self.ref: int | None = None

    def reject(self, code: str, reason: str) -> None:
        self.outcome, self.code, self.reason = REJECTED, code, reason

    def reject_error(self, exc: DomainError) -> None:
        reason = exc.message if not exc.field else f"{exc.message}（{exc.field}）"
        self.reject(exc.code, reason)

    def reset(self) -> None:
        """Forget what a rolled-back attempt decided; keep the validation verdict."""
        if self.rec:
            self.outcome = self.code = self.reason = ""
            self.values, self.ref = (), None


class Owners:
    """id_number -> (id, name) for persons, tax_id -> (id, name) for units.

    Bounded: emptied when it outgrows :data:`CACHE_LIMIT` (a person's rows usually come
    together, so the next batch refills what it needs). Forgotten after a rolled-back batch,
    whose new ids no longer exist.
    """

    def __init__(self, table: Table, columns: tuple[Column[Any], ...], mismatch: Invalid) -> None:
        """``columns``: what a row gives of a new owner, its natural key first."""
        self.table, self.columns, self.mismatch = table, columns, mismatch
        key = columns[0].name
        self._fetch_sql = (
            f"SELECT {table.c.id.name}, {key}, {table.c['name'].name} FROM {table.name} "
            "WHERE {where}"
        )
        self.cache: dict[str, tuple[int, str]] = {}

    def forget(self) -> None:
        self.cache.clear()

    def _fetch(self, db: BulkCursor, keys: Iterable[str]) -> None:
        for id_, key, name in db.select_in(self._fetch_sql, self.columns[0].name, keys):
            self.cache[key] = (id_, name)

    def resolve(
        self, db: BulkCursor, rows: list[Row], describe: Callable[[Values], Values]
    ) -> None:
        """Set ``row.ref`` to the owner's id for every pending row, creating missing owners.

        ``describe(row.rec)`` gives the owner's columns (key, name, ...) as the row has them;
        the first row of a batch to name a new owner decides its name and region.
        """
        described = [(r, describe(r.rec)) for r in rows if not r.outcome]
        missing = {d[0] for _r, d in described if d[0] not in self.cache}
        if missing:
            self._fetch(db, missing)
            new: dict[str, Values] = {}
            for _r, d in described:
                if d[0] not in self.cache and d[0] not in new:
                    new[d[0]] = d
            if new:
                described_new = list(new.values())
                ids = db.insert_owners(self.table, self.columns, described_new)
                for id_, d in zip(ids, described_new, strict=True):
                    self.cache[d[0]] = (id_, d[1])
        for r, d in described:
            id_, name = self.cache[d[0]]
            if name != d[1]:
                r.reject_error(self.mismatch)
            else:
                r.ref = id_
        if len(self.cache) > CACHE_LIMIT:
            # Start afresh rather than evict one by one: popping the oldest entries of a dict
            # one at a time scans ever more deleted slots, quadratic over a long file.
            self.cache.clear()


class Context:
    """What one import run remembers across batches: persons, units and valid ID numbers."""

    def __init__(
        self, today: date, persons: Owners, units: Owners, limits: f.ImportLimits | None = None
    ) -> None:
        self.today = today
        self.persons = persons
        self.units = units
        self.limits = limits or f.ImportLimits()
        # Bounds of the dates, as ISO texts (they compare like the dates).
        self.earliest = self.limits.earliest_date.isoformat()
        self.today_iso = today.isoformat()
        self.latest_period_end = date(today.year + 1, 12, 31).isoformat()
        self._valid_ids: set[str] = set()

    def dates_plausible(self, start: str, end: str, paid: str) -> bool:
        """Cheap check of the hot path: a period and a payment date within the bounds."""
        return (
            self.earliest <= start
            and end <= self.latest_period_end
            and self.earliest <= paid <= self.today_iso
        )

    def period(self, start: str, end: str) -> tuple[str, str]:
        """A period (see fields.period) from the earliest date to the end of next year."""
        s, e = f.period(start, end)
        if s < self.earliest:
            raise Invalid(
                "date.too_early", f"日期早于{self.earliest}，不在合理范围内", "period_start"
            )
        if e > self.latest_period_end:
            raise Invalid(
                "period.too_late", f"费款所属期止晚于{self.latest_period_end}", "period_end"
            )
        return s, e

    def paid_on(self, value: str, field: str) -> str:
        """A payment date from the earliest date to today."""
        return f.in_range(f.iso_date(value, field), field, self.earliest, self.today_iso)

    def year(self, value: str, field: str) -> int:
        """A payment year from the earliest date's year to next year."""
        return f.integer(value, field, self.limits.earliest_date.year, self.today.year + 1)

    def forget(self) -> None:
        self.persons.forget()
        self.units.forget()

    def resident_id(self, value: str) -> str:
        # A person's rows usually come together: check each number once per run.
        if value in self._valid_ids:
            return value
        checked = identity.check_resident_id(value, today=self.today)
        if len(self._valid_ids) >= CACHE_LIMIT:
            self._valid_ids.clear()
        self._valid_ids.add(checked)
        return checked


class Kind:
    """One import file kind: its columns, how a row is validated and where it goes.

    ``columns`` are the file's (CSV header names). ``table``, ``key`` and ``fields`` come from
    the model the rows load into: ``fields`` are the table's columns after the key, in the
    order of ``row.values[1:]``; ``owner`` of them may never change, ``guarded`` may not
    change while an active application exists (``active_sql`` is the SQL truth value for
    that, over the table aliased ``t``).
    """

    name: ClassVar[str]
    columns: ClassVar[tuple[str, ...]]
    table: ClassVar[Table]
    key: ClassVar[Column[Any]]
    fields: ClassVar[tuple[Column[Any], ...]]
    owner: ClassVar[tuple[Column[Any], ...]]
    guarded: ClassVar[tuple[Column[Any], ...]] = ()
    active_sql: ClassVar[str] = "1 = 0"
    #: More columns to fetch with the existing rows, for check_change.
    extra_sql: ClassVar[str] = ""
    #: SQL counting the records left incomplete after a file of this kind, if it can tell.
    incomplete_sql: ClassVar[str | None] = None

    def __init__(self) -> None:
        field_names = [c.name for c in self.fields]
        # Positions in row.values (key first).
        self._width = 1 + len(self.fields)
        self._dates = [
            i for i, c in enumerate((self.key, *self.fields)) if isinstance(c.type, Date)
        ]
        self._owner = [1 + field_names.index(c.name) for c in self.owner]
        self._guarded = [1 + field_names.index(c.name) for c in self.guarded]
        self._select = (
            f"SELECT t.{self.key.name}, {', '.join('t.' + f for f in field_names)}, "
            f"CASE WHEN {self.active_sql} THEN 1 ELSE 0 END{self.extra_sql} "
            f"FROM {self.table.name} t WHERE {{where}}"
        )

    def prepare(self, v: list[str], ctx: Context) -> Values:
        """The validated values of one row's ``columns`` (raise a DomainError if bad)."""
        raise NotImplementedError

    def resolve(self, db: BulkCursor, rows: list[Row], ctx: Context) -> None:
        """Set ``row.values`` for every pending row (or reject it)."""
        raise NotImplementedError

    def check_new(self, row: Row, ctx: Context) -> None:
        """Raise a DomainError to refuse a new row."""

    def check_change(self, row: Row, old: Values, ctx: Context) -> None:
        """Raise a DomainError to refuse a change; ``old`` is the stored row + extra columns."""

    def apply(self, db: BulkCursor, rows: list[Row], ctx: Context) -> None:
        """Load the batch's valid rows: insert the new keys, update the changed ones."""
        self.resolve(db, rows, ctx)
        first: dict[str, Row] = {}
        duplicates: list[tuple[Row, Row]] = []
        for r in rows:
            if not r.outcome:
                prev = first.get(r.values[0])
                if prev is None:
                    first[r.values[0]] = r
                else:
                    duplicates.append((r, prev))
                    r.outcome = _DUPLICATE
        existing = {row[0]: row for row in db.select_in(self._select, f"t.{self.key.name}", first)}
        inserts: list[Values] = []
        updates: list[Values] = []
        for key, r in first.items():
            old = existing.get(key)
            try:
                if old is None:
                    self.check_new(r, ctx)
                    inserts.append(r.values)
                    r.outcome = LOADED
                elif self._changed(r, old, ctx):
                    updates.append((*r.values[1:], key))
                    r.outcome = UPDATED
                else:
                    r.outcome = UNCHANGED
            except DomainError as exc:
                r.reject_error(exc)
        self._settle_duplicates(duplicates)
        db.insert(self.table, (self.key, *self.fields), inserts)
        db.update(self.table, self.key, self.fields, updates)

    def _settle_duplicates(self, duplicates: list[tuple[Row, Row]]) -> None:
        """A later copy of a key in the batch shares its first copy's fate when identical."""
        for r, prev in duplicates:
            if r.values != prev.values:
                r.reject(
                    "import.duplicate_key", f"编号在同一批数据中重复且内容不同（{self.key.name}）"
                )
            elif prev.outcome == REJECTED:
                r.reject(prev.code, prev.reason)
            else:
                r.outcome = UNCHANGED

    def _changed(self, r: Row, old: Values, ctx: Context) -> bool:
        """Whether the row changes the stored ``old``; raise when that change is refused."""
        stored = list(old[: self._width])
        for i in self._dates:
            stored[i] = str(stored[i])  # PostgreSQL returns dates, the row holds ISO text
        if tuple(stored) == r.values:
            return False
        if any(stored[i] != r.values[i] for i in self._owner):
            raise Invalid(
                "import.owner_changed",
                "该编号已存在，且属于另一缴费人或记录，不能更改",
                self.key.name,
            )
        if old[self._width] and any(stored[i] != r.values[i] for i in self._guarded):
            raise Invalid(
                "payment.has_application",
                "该缴费已有在办或已完成的退费申请，不能修改金额或所属期",
                self.key.name,
            )
        self.check_change(r, old, ctx)
        return True
