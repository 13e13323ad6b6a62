"""Loading the five import files of docs/operations.md ("Import files"): `sirefund import`.

:func:`import_file` reads one UTF-8 CSV file in a single streaming pass and keeps memory
constant whatever the file's size: rows are validated in Python and written in batches of
``batch_size`` rows, one transaction per batch (a crash keeps the batches already loaded, and
loading again is harmless because ids are keys). Per batch the database sees a constant number
of statements: one ``IN`` look-up of the batch's keys, one of its persons (units) not yet
cached, an insert of the new persons with ids chosen by the loader (so they need no reading
back), one bulk insert of the new rows (multi-row INSERTs on SQLite, COPY on PostgreSQL), and
one executemany of the changed ones. Person and unit ids are remembered in a bounded cache,
so a person paying many times is looked up once. bench/import_and_query.py measures it against
a raw bulk load (bench/RESULTS.md).

The file
--------
A header row, then data rows. Columns may come in any order; extra columns are ignored; a
missing required column (or a header named twice, or an empty file) fails the whole file with
:class:`~sirefund.domain.errors.Invalid` before anything is loaded.

Rows
----
Each row is validated with the domain's rules (resident ID check digit and birth date, names,
yuan amounts with at most two decimals, real ``YYYY-MM-DD`` dates, period start not after its
end, the enumerations). A bad row is written to ``FILE.rejected.csv`` beside the input -- its
original columns plus ``line`` (its line number in the input), ``code`` and ``reason`` (in
Chinese) -- and the good rows load regardless. A run without rejects removes a stale
``FILE.rejected.csv`` of an earlier run, so the file on disk always belongs to the last run.

Keys and re-imports
-------------------
Ids in the files are keys. A row whose key is new is *loaded*; identical to what is stored,
*unchanged*; different, *updated* -- data from HRSS and the medical security bureau moves on
(an arrival status becomes ``arrived``, a channel is corrected) and the latest file is the
truth. Two kinds of change are refused instead:

* moving a record to another owner (person, registration, unit, unit payment):
  ``import.owner_changed``; a key names one payment of one payer for good;
* changing what an active refund application copied (amount, period, year) while such an
  application exists: ``payment.has_application``. Arrival status, channel and payment date
  may still change.

Within one batch a key given twice is loaded once; a second copy with other content is
rejected (``import.duplicate_key``). Across batches the later row updates the earlier one.

Cross-file rules
----------------
* Persons are created from pension, registration and person-line rows (keyed by ID number;
  region from the row, for person lines the region of the unit). A row naming a known ID
  number with another name is rejected (``person.name_mismatch``). Units likewise by tax ID
  (``unit.name_mismatch``).
* A medical payment needs its registration (``medical_payment.unknown_registration``): load
  registrations first. Its insurance year is computed from its period
  (:func:`~sirefund.domain.years.insurance_year_of_period`).
* A person line needs its unit payment (``unit_payment_person.unknown_payment``).
* A unit payment's amount equals the sum of its person lines once both files are in. Lines
  arrive one by one, so the rule enforced while loading is: a line is rejected when adding it
  (or changing its amount) would make the lines of its payment sum to more than the payment's
  amount (``unit_payment.lines_exceed_amount``); a unit payment whose new amount is below its
  lines' sum is rejected (``unit_payment.amount_below_lines``). After a person-lines file the
  summary reports how many unit payments in the database are still *incomplete* (lines short
  of the amount), which is what remains to be fixed by loading the missing lines.
"""

from __future__ import annotations

import csv
import gc
import io
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from tqdm import tqdm

from .clock import SystemClock
from .domain import identity, money, years
from .domain.errors import DomainError, Invalid
from .domain.rules import ArrivalStatus, UnitPaymentType
from .domain.workflow import ACTIVE

__all__ = ["KINDS", "ImportSummary", "import_file"]

_ACTIVE_LIST = ", ".join(f"'{s.value}'" for s in ACTIVE)
_ARRIVAL = frozenset(s.value for s in ArrivalStatus)
_UNIT_TYPES = frozenset(s.value for s in UnitPaymentType)
#: Tries of one batch that collides with concurrent importers before the import fails.
_ATTEMPTS = 5
#: Bound of the person / unit id caches (entries, about 200 bytes each).
CACHE_LIMIT = 200_000


# --------------------------------------------------------------------------------------------
# Summary
# --------------------------------------------------------------------------------------------


@dataclass
class ImportSummary:
    """What one file did: rows loaded (new), updated (key known, content changed), unchanged
    (identical to what is stored) and rejected (written to ``rejected_path``)."""

    kind: str
    loaded: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    #: ``FILE.rejected.csv`` when rows were rejected, else None.
    rejected_path: Path | None = None
    #: After a person-lines file: unit payments whose lines still sum to less than their amount.
    incomplete: int | None = None

    @property
    def total(self) -> int:
        return self.loaded + self.updated + self.unchanged + self.rejected

    def line(self) -> str:
        text = (
            f"{self.kind}: loaded {self.loaded}, updated {self.updated}, "
            f"unchanged {self.unchanged}, rejected {self.rejected}"
        )
        if self.rejected and self.rejected_path is not None:
            text += f" (see {self.rejected_path})"
        if self.incomplete:
            text += (
                f"; warning: {self.incomplete} unit payments are incomplete "
                "(their person lines sum to less than their amount)"
            )
        return text


# --------------------------------------------------------------------------------------------
# Field validation (pure; the cached ones are hot: dates and amounts repeat a lot)
# --------------------------------------------------------------------------------------------


def _required(value: str, field: str, max_len: int) -> str:
    if not value:
        raise Invalid("import.required", "不能为空", field)
    if len(value) > max_len:
        raise Invalid("import.too_long", f"不能超过{max_len}个字符", field)
    return value


@lru_cache(maxsize=16384)
def _iso_date_or_none(text: str) -> str | None:
    # Strictly YYYY-MM-DD: date.fromisoformat would also take 20230101 or week dates.
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    y, m, d = text[0:4], text[5:7], text[8:10]
    if not (
        y.isascii() and y.isdigit() and m.isdigit() and m.isascii() and d.isascii() and d.isdigit()
    ):
        return None
    try:
        date(int(y), int(m), int(d))
    except ValueError:  # 2023-02-30
        return None
    return text


def _date(value: str, field: str) -> str:
    """A real calendar date written YYYY-MM-DD, returned as that text (ISO text sorts)."""
    text = _iso_date_or_none(value)
    if text is None:
        raise Invalid("date.invalid", "日期不存在或格式不是 YYYY-MM-DD", field)
    return text


@lru_cache(maxsize=16384)
def _fen_or_error(text: str) -> int | Invalid:
    try:
        return money.parse_yuan(text)
    except Invalid as exc:
        return exc.with_traceback(None)  # kept for its code and message only


def _fen(value: str, field: str, *, positive: bool = True, empty_is_zero: bool = False) -> int:
    if not value and empty_is_zero:
        return 0
    fen = _fen_or_error(value)
    if isinstance(fen, Invalid):
        raise Invalid(fen.code, fen.message, field)
    if positive and fen <= 0:
        raise Invalid("amount.not_positive", "金额必须大于0", field)
    if fen < 0:
        raise Invalid("amount.negative", "金额不能为负数", field)
    return fen


def _int(value: str, field: str, low: int, high: int) -> int:
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise Invalid("import.number", f"应为{low}至{high}之间的整数", field)
    return int(value)


@lru_cache(maxsize=1024)
def _year_or_none(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and 1900 <= int(text) <= 2100 else None


def _region(value: str, field: str = "region_code") -> str:
    if len(value) != 6 or not (value.isascii() and value.isdigit()):
        raise Invalid("region.format", "行政区划代码应为6位数字", field)
    return value


def _period(start: str, end: str) -> tuple[str, str]:
    s, e = _date(start, "period_start"), _date(end, "period_end")
    if s > e:
        raise Invalid("period.invalid", "费款所属期起不能晚于费款所属期止", "period_start")
    return s, e


def _tax_id(value: str) -> str:
    # 统一社会信用代码 (18) or an older 15-20 character tax registration number.
    text = value.upper()
    if not (15 <= len(text) <= 20 and text.isascii() and text.isalnum()):
        raise Invalid("unit.tax_id_format", "单位税号应为15至20位字母或数字", "unit_tax_id")
    return text


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
#: Rows per block of COPY text sent to PostgreSQL.
_COPY_BLOCK_ROWS = 500
#: Rows per multi-row INSERT on SQLite (x columns stays far below its 32766 variables).
_ROWS_PER_INSERT = 100


def _copy_line(row: tuple, width: int) -> str:
    """One line of PostgreSQL's COPY text format."""
    line = "\t".join(map(str, row))
    if line.count("\t") != width - 1 or "\\" in line or "\n" in line or "\r" in line:
        # Rare: a value holds a tab, newline or backslash, which COPY needs escaped.
        line = "\t".join([str(v).translate(_COPY_ESCAPES) for v in row])
    return line + "\n"


# --------------------------------------------------------------------------------------------
# Database access at the driver level (one statement per batch, both backends)
# --------------------------------------------------------------------------------------------


class _Db:
    """The few statement shapes the loader needs, for SQLite and PostgreSQL.

    Driver level on purpose: the ORM costs microseconds per row, and the loader writes
    millions of rows. Values are already validated Python ints and ISO date strings, which
    both drivers store as the ORM would (SQLite keeps dates as 'YYYY-MM-DD' text).
    """

    _IN_CHUNK = 10_000  # below SQLite's 32766 bound variables

    def __init__(self, conn: Connection) -> None:
        self.pg = conn.dialect.name == "postgresql"
        self.ph = "%s" if self.pg else "?"
        # The DBAPI cursor of the connection that holds the batch's transaction.
        self.cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]

    def close(self) -> None:
        self.cur.close()

    def select_in(self, sql: str, column: str, values: Iterable[str]) -> list[tuple]:
        """Run ``sql`` with ``{where}`` replaced by ``column IN values``."""
        values = list(values)
        if not values:
            return []
        if self.pg:
            # %b: arrays in binary format; the text format quotes each element in Python.
            self.cur.execute(sql.format(where=f"{column} = ANY(%b)"), (values,))
            return self.cur.fetchall()
        out: list[tuple] = []
        for i in range(0, len(values), self._IN_CHUNK):
            chunk = values[i : i + self._IN_CHUNK]
            where = f"{column} IN ({','.join('?' * len(chunk))})"
            self.cur.execute(sql.format(where=where), chunk)
            out.extend(self.cur.fetchall())
        return out

    def scalar(self, sql: str) -> int:
        self.cur.execute(sql)
        row = self.cur.fetchone()
        return int(row[0] or 0) if row else 0

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
        """Insert rows known to be new (checked in this transaction).

        Values are ints and strings, never None (every column the loader writes is required).
        """
        if not rows:
            return
        cols = ", ".join(columns)
        if self.pg:
            # COPY is PostgreSQL's bulk path, fed blocks of text lines: formatting them here
            # costs less than the driver's per-row write_row, and the server works through a
            # block while the next is formatted. A concurrent importer inserting the same key
            # makes it fail with a unique violation; the batch is redone.
            width = len(columns)
            with self.cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for i in range(0, len(rows), _COPY_BLOCK_ROWS):
                    block = rows[i : i + _COPY_BLOCK_ROWS]
                    copy.write("".join([_copy_line(row, width) for row in block]))
            return
        # Many rows per INSERT: SQLite then steps once per statement instead of once per row.
        one = "(" + ", ".join("?" * len(columns)) + ")"
        full = len(rows) - len(rows) % _ROWS_PER_INSERT
        if full:
            values = ", ".join([one] * _ROWS_PER_INSERT)
            self.cur.executemany(
                f"INSERT INTO {table} ({cols}) VALUES {values}",
                [
                    list(chain.from_iterable(rows[i : i + _ROWS_PER_INSERT]))
                    for i in range(0, full, _ROWS_PER_INSERT)
                ],
            )
        if full < len(rows):
            self.cur.executemany(f"INSERT INTO {table} ({cols}) VALUES {one}", rows[full:])

    def insert_owners(self, table: str, columns: Sequence[str], rows: list[tuple]) -> list[int]:
        """Insert new persons or units (looked up as absent in this transaction) and return
        their ids in row order, chosen here so that they need not be read back.

        PostgreSQL draws them from the table's sequence in one statement; a concurrent
        importer creating the same person makes the insert fail with a unique violation, and
        the batch is redone.
        """
        if not rows:
            return []
        if self.pg:
            self.cur.execute(
                f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                "FROM generate_series(1, %s)",
                (len(rows),),
            )
            ids = [r[0] for r in self.cur.fetchall()]
        else:
            # The batch's transaction holds SQLite's only write lock (BEGIN IMMEDIATE), so the
            # ids after the largest are ours to take.
            self.cur.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}")
            first = self.cur.fetchone()[0] + 1
            ids = list(range(first, first + len(rows)))
        self.insert(table, ("id", *columns), [(i, *row) for i, row in zip(ids, rows, strict=True)])
        return ids

    def update(self, table: str, key: str, columns: Sequence[str], rows: list[tuple]) -> None:
        """Each row is (values of ``columns``..., key)."""
        if not rows:
            return
        sets = ", ".join(f"{c} = {self.ph}" for c in columns)
        self.cur.executemany(f"UPDATE {table} SET {sets} WHERE {key} = {self.ph}", rows)


# --------------------------------------------------------------------------------------------
# Rows and outcomes
# --------------------------------------------------------------------------------------------

LOADED, UPDATED, UNCHANGED, REJECTED = "loaded", "updated", "unchanged", "rejected"


class _Row:
    """One data row on its way through a batch."""

    __slots__ = ("code", "line", "outcome", "raw", "reason", "rec", "ref", "values")

    def __init__(self, line: int, raw: list[str]) -> None:
        self.line = line
        self.raw = raw
        self.rec: tuple | None = None  # validated file values, None when the row is bad
        self.values: tuple = ()  # the table row (key first), once references are resolved
        self.outcome = ""
        self.code = ""
        self.reason = ""
        self.ref = None  # a resolved reference (person id, unit payment id...)

    def reject(self, code: str, reason: str) -> None:
        self.outcome, self.code, self.reason = REJECTED, code, reason

    def reject_error(self, exc: DomainError) -> None:
        reason = exc.message if not exc.field else f"{exc.message}（{exc.field}）"
        self.reject(exc.code, reason)

    def reset(self) -> None:
        """Forget what a rolled-back attempt decided; keep the validation verdict."""
        if self.rec is not None:
            self.outcome = self.code = self.reason = ""
            self.values, self.ref = (), None


# --------------------------------------------------------------------------------------------
# Owners: persons and units, created from rows and cached by their natural key
# --------------------------------------------------------------------------------------------


class _Owners:
    """id_number -> (id, name) for persons, tax_id -> (id, name) for units.

    Bounded: emptied when it outgrows :data:`CACHE_LIMIT` (a person's rows usually come
    together, so the next batch refills what it needs). Forgotten after a rolled-back batch,
    whose new ids no longer exist.
    """

    def __init__(self, table: str, key: str, columns: tuple[str, ...], mismatch: Invalid) -> None:
        self.table, self.key, self.columns, self.mismatch = table, key, columns, mismatch
        self.cache: dict[str, tuple[int, str]] = {}

    def forget(self) -> None:
        self.cache.clear()

    def _fetch(self, db: _Db, keys: Iterable[str]) -> None:
        for id_, key, name in db.select_in(
            f"SELECT id, {self.key}, name FROM {self.table} WHERE {{where}}", self.key, keys
        ):
            self.cache[key] = (id_, name)

    def resolve(self, db: _Db, rows: list[_Row], describe: Callable[[tuple], tuple]) -> None:
        """Set ``row.ref`` to the owner's id for every pending row, creating missing owners.

        ``describe(row.rec)`` gives the owner's columns (key, name, ...) as the row has them;
        the first row of a batch to name a new owner decides its name and region.
        """
        described = [(r, describe(r.rec)) for r in rows if not r.outcome]
        missing = {d[0] for _r, d in described if d[0] not in self.cache}
        if missing:
            self._fetch(db, missing)
            new: dict[str, tuple[str, ...]] = {}
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


class _Context:
    def __init__(self, today: date) -> None:
        self.today = today
        self.persons = _Owners(
            "persons",
            "id_number",
            ("id_number", "name", "region_code"),
            Invalid("person.name_mismatch", "姓名与该证件号码已有的姓名不一致", "name"),
        )
        self.units = _Owners(
            "units",
            "tax_id",
            ("tax_id", "name", "ss_no", "region_code"),
            Invalid("unit.name_mismatch", "单位名称与该税号已有的单位名称不一致", "unit_name"),
        )
        self._valid_ids: set[str] = set()

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


# --------------------------------------------------------------------------------------------
# Kinds
# --------------------------------------------------------------------------------------------


class _Kind:
    """One import file kind: its columns, how a row is validated and where it goes.

    ``fields`` are the table's columns after the key, in the order of ``row.values[1:]``;
    ``owner`` of them may never change, ``guarded`` may not change while an active application
    exists (``active_sql`` is the SQL truth value for that, over the table aliased ``t``).
    """

    name: str
    columns: tuple[str, ...]
    table: str
    key: str
    fields: tuple[str, ...]
    owner: tuple[str, ...]
    guarded: tuple[str, ...] = ()
    active_sql: str = "1 = 0"
    extra_sql: str = ""  # more columns to fetch with the existing rows, for check_change

    def prepare(self, v: list[str], ctx: _Context) -> tuple:
        raise NotImplementedError

    def resolve(self, db: _Db, rows: list[_Row], ctx: _Context) -> None:
        """Set ``row.values`` for every pending row (or reject it)."""
        raise NotImplementedError

    def check_new(self, row: _Row, ctx: _Context) -> None:
        """Raise a DomainError to refuse a new row."""

    def check_change(self, row: _Row, old: tuple, ctx: _Context) -> None:
        """Raise a DomainError to refuse a change; ``old`` is the stored row + extra columns."""

    def finish(self, engine: Engine, summary: ImportSummary) -> None:
        pass

    # -- the shared part ---------------------------------------------------------------------

    def apply(self, db: _Db, rows: list[_Row], ctx: _Context) -> None:
        self.resolve(db, rows, ctx)
        first: dict[str, _Row] = {}
        duplicates: list[tuple[_Row, _Row]] = []
        for r in rows:
            if not r.outcome:
                prev = first.get(r.values[0])
                if prev is None:
                    first[r.values[0]] = r
                else:
                    duplicates.append((r, prev))
                    r.outcome = "dup"
        n = 1 + len(self.fields)
        date_positions = [i for i, c in enumerate((self.key, *self.fields)) if c in _DATE_COLUMNS]
        owner_positions = [1 + self.fields.index(c) for c in self.owner]
        guarded_positions = [1 + self.fields.index(c) for c in self.guarded]
        select = (
            f"SELECT t.{self.key}, {', '.join('t.' + f for f in self.fields)}, "
            f"CASE WHEN {self.active_sql} THEN 1 ELSE 0 END{self.extra_sql} "
            f"FROM {self.table} t WHERE {{where}}"
        )
        existing = {row[0]: row for row in db.select_in(select, f"t.{self.key}", first)}
        inserts: list[tuple] = []
        updates: list[tuple] = []
        for key, r in first.items():
            old = existing.get(key)
            try:
                if old is None:
                    self.check_new(r, ctx)
                    inserts.append(r.values)
                    r.outcome = LOADED
                    continue
                stored = list(old[:n])
                for i in date_positions:
                    stored[i] = str(stored[i])
                if tuple(stored) == r.values:
                    r.outcome = UNCHANGED
                    continue
                if any(stored[i] != r.values[i] for i in owner_positions):
                    raise Invalid(
                        "import.owner_changed",
                        "该编号已存在，且属于另一缴费人或记录，不能更改",
                        self.key,
                    )
                if old[n] and any(stored[i] != r.values[i] for i in guarded_positions):
                    raise Invalid(
                        "payment.has_application",
                        "该缴费已有在办或已完成的退费申请，不能修改金额或所属期",
                        self.key,
                    )
                self.check_change(r, old, ctx)
                updates.append((*r.values[1:], key))
                r.outcome = UPDATED
            except DomainError as exc:
                r.reject_error(exc)
        for r, prev in duplicates:
            if r.values != prev.values:
                r.reject("import.duplicate_key", f"编号在同一批数据中重复且内容不同（{self.key}）")
            elif prev.outcome == REJECTED:
                r.reject(prev.code, prev.reason)
            else:
                r.outcome = UNCHANGED
        db.insert(self.table, (self.key, *self.fields), inserts)
        db.update(self.table, self.key, self.fields, updates)


_DATE_COLUMNS = frozenset({"period_start", "period_end", "payment_date"})


class _PensionPayments(_Kind):
    name = "pension-payments"
    columns = ("payment_id", "id_number", "name", "region_code", "amount", "period_start",
               "period_end", "payment_year", "payment_date", "channel", "arrival_status")  # fmt: skip
    table, key = "pension_payments", "payment_id"
    fields = ("person_id", "amount_fen", "period_start", "period_end", "payment_year",
              "payment_date", "channel", "arrival_status")  # fmt: skip
    owner = ("person_id",)
    guarded = ("amount_fen", "period_start", "period_end", "payment_year")
    active_sql = (
        "EXISTS (SELECT 1 FROM applications a WHERE a.pension_payment_id = t.payment_id "
        f"AND a.status IN ({_ACTIVE_LIST}))"
    )

    def prepare(self, v: list[str], ctx: _Context) -> tuple:
        pid, idn, name, region, amount, start, end, year, paid, channel, status = v
        # The hot path of the largest file: cheap checks inline, and only when one fails the
        # descriptive validator runs to raise its error.
        fen = _fen_or_error(amount)
        if not (
            status in _ARRIVAL
            and 0 < len(pid) <= 40
            and 0 < len(channel) <= 40
            and _iso_date_or_none(start)
            and _iso_date_or_none(end)
            and start <= end
            and _iso_date_or_none(paid)
            and type(fen) is int
            and fen > 0
            and len(region) == 6
            and region.isdigit()
            and region.isascii()
            and _year_or_none(year)
        ):
            if status not in _ARRIVAL:
                raise Invalid(
                    "arrival_status.unknown",
                    "到账状态应为 arrived、not_arrived 或 abnormal",
                    "arrival_status",
                )
            _required(pid, "payment_id", 40)
            _period(start, end)
            _date(paid, "payment_date")
            _fen(amount, "amount")
            _region(region)
            _int(year, "payment_year", 1900, 2100)
            _required(channel, "channel", 40)
        return (
            pid,
            ctx.resident_id(idn),
            identity.check_name(name),
            region,
            fen,
            start,
            end,
            int(year),
            paid,
            channel,
            status,
        )

    def resolve(self, db: _Db, rows: list[_Row], ctx: _Context) -> None:
        ctx.persons.resolve(db, rows, itemgetter(1, 2, 3))
        for r in rows:
            if not r.outcome:
                rec = r.rec
                r.values = (rec[0], r.ref, rec[4], rec[5], rec[6], rec[7], rec[8], rec[9], rec[10])


class _MedicalRegistrations(_Kind):
    name = "medical-registrations"
    columns = ("registration_id", "id_number", "name", "region_code", "agency_code",
               "agency_name", "ss_code")  # fmt: skip
    table, key = "medical_registrations", "registration_id"
    fields = ("person_id", "agency_code", "agency_name", "ss_code", "region_code")
    owner = ("person_id",)

    def prepare(self, v: list[str], ctx: _Context) -> tuple:
        rid, idn, name, region, agency_code, agency_name, ss_code = v
        return (
            _required(rid, "registration_id", 40),
            ctx.resident_id(idn),
            identity.check_name(name),
            _region(region),
            _required(agency_code, "agency_code", 40),
            _required(agency_name, "agency_name", 100),
            _required(ss_code, "ss_code", 40),
        )

    def resolve(self, db: _Db, rows: list[_Row], ctx: _Context) -> None:
        ctx.persons.resolve(db, rows, itemgetter(1, 2, 3))
        for r in rows:
            if not r.outcome:
                rec = r.rec
                r.values = (rec[0], r.ref, rec[4], rec[5], rec[6], rec[3])


class _MedicalPayments(_Kind):
    name = "medical-payments"
    columns = ("payment_id", "registration_id", "ticket_no", "item_name", "medical_amount",
               "ltc_amount", "period_start", "period_end", "payment_date", "channel")  # fmt: skip
    table, key = "medical_payments", "payment_id"
    fields = ("registration_id", "ticket_no", "item_name", "medical_amount_fen",
              "ltc_amount_fen", "period_start", "period_end", "payment_date", "channel",
              "insurance_year")  # fmt: skip
    owner = ("registration_id",)
    guarded = (
        "medical_amount_fen",
        "ltc_amount_fen",
        "period_start",
        "period_end",
        "insurance_year",
    )
    active_sql = (
        "EXISTS (SELECT 1 FROM applications a WHERE a.medical_payment_id = t.payment_id "
        f"AND a.status IN ({_ACTIVE_LIST}))"
    )

    def prepare(self, v: list[str], ctx: _Context) -> tuple:
        pid, rid, ticket, item, medical, ltc, start, end, paid, channel = v
        start, end = _period(start, end)
        year = years.insurance_year_of_period(date.fromisoformat(start), date.fromisoformat(end))
        return (
            _required(pid, "payment_id", 40),
            _required(rid, "registration_id", 40),
            _required(ticket, "ticket_no", 40),
            _required(item, "item_name", 60),
            _fen(medical, "medical_amount"),
            _fen(ltc, "ltc_amount", positive=False, empty_is_zero=True),
            start,
            end,
            _date(paid, "payment_date"),
            _required(channel, "channel", 40),
            year,
        )

    def resolve(self, db: _Db, rows: list[_Row], ctx: _Context) -> None:
        wanted = {r.rec[1] for r in rows if not r.outcome}
        known = {
            row[0]
            for row in db.select_in(
                "SELECT registration_id FROM medical_registrations WHERE {where}",
                "registration_id",
                wanted,
            )
        }
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


class _UnitPayments(_Kind):
    name = "unit-payments"
    columns = ("unit_payment_id", "unit_tax_id", "unit_name", "unit_ss_no", "region_code",
               "payment_type", "payment_year", "payment_month", "amount", "period_start",
               "period_end", "declaration_channel")  # fmt: skip
    table, key = "unit_payments", "unit_payment_id"
    fields = ("unit_id", "payment_type", "payment_year", "payment_month", "amount_fen",
              "period_start", "period_end", "declaration_channel")  # fmt: skip
    owner = ("unit_id",)
    guarded = (
        "payment_type",
        "payment_year",
        "payment_month",
        "amount_fen",
        "period_start",
        "period_end",
    )
    active_sql = (
        "EXISTS (SELECT 1 FROM unit_payment_persons l JOIN applications a ON a.unit_line_id = l.line_id "
        f"WHERE l.unit_payment_id = t.unit_payment_id AND a.status IN ({_ACTIVE_LIST}))"
    )
    extra_sql = (
        ", (SELECT COALESCE(SUM(l.amount_fen), 0) FROM unit_payment_persons l "
        "WHERE l.unit_payment_id = t.unit_payment_id)"
    )

    def prepare(self, v: list[str], ctx: _Context) -> tuple:
        upid, tax_id, unit_name, ss_no, region, ptype, year, month, amount, start, end, channel = v
        if ptype not in _UNIT_TYPES:
            raise Invalid(
                "payment_type.unknown",
                "缴费类型应为 collective_subsidy、special_group_proxy 或 normal",
                "payment_type",
            )
        start, end = _period(start, end)
        return (
            _required(upid, "unit_payment_id", 40),
            _tax_id(tax_id),
            _required(unit_name, "unit_name", 100),
            _required(ss_no, "unit_ss_no", 30),
            _region(region),
            ptype,
            _int(year, "payment_year", 1900, 2100),
            _int(month, "payment_month", 1, 12),
            _fen(amount, "amount"),
            start,
            end,
            _required(channel, "declaration_channel", 40),
        )

    def resolve(self, db: _Db, rows: list[_Row], ctx: _Context) -> None:
        ctx.units.resolve(db, rows, itemgetter(1, 2, 3, 4))
        for r in rows:
            if not r.outcome:
                rec = r.rec
                r.values = (rec[0], r.ref, *rec[5:])

    def check_change(self, row: _Row, old: tuple, ctx: _Context) -> None:
        lines_sum = old[-1]
        if row.values[5] < lines_sum:
            raise Invalid(
                "unit_payment.amount_below_lines", "实缴金额小于已导入的人员明细金额合计", "amount"
            )


class _UnitPaymentPersons(_Kind):
    name = "unit-payment-persons"
    columns = ("unit_payment_id", "line_id", "id_number", "name", "ss_no", "amount")
    table, key = "unit_payment_persons", "line_id"
    fields = ("unit_payment_id", "person_id", "ss_no", "amount_fen")
    owner = ("unit_payment_id", "person_id")
    guarded = ("amount_fen",)
    active_sql = (
        "EXISTS (SELECT 1 FROM applications a WHERE a.unit_line_id = t.line_id "
        f"AND a.status IN ({_ACTIVE_LIST}))"
    )

    def __init__(self) -> None:
        # unit_payment_id -> [amount, lines' sum so far]; per batch only.
        self.payments: dict[str, list[int]] = {}

    def prepare(self, v: list[str], ctx: _Context) -> tuple:
        upid, line_id, idn, name, ss_no, amount = v
        return (
            _required(upid, "unit_payment_id", 40),
            _required(line_id, "line_id", 40),
            ctx.resident_id(idn),
            identity.check_name(name),
            _required(ss_no, "ss_no", 30),
            _fen(amount, "amount"),
        )

    def resolve(self, db: _Db, rows: list[_Row], ctx: _Context) -> None:
        wanted = {r.rec[0] for r in rows if not r.outcome}
        self.payments = {}
        regions: dict[str, str] = {}
        for upid, amount, total, region in db.select_in(
            "SELECT up.unit_payment_id, up.amount_fen, "
            "(SELECT COALESCE(SUM(l.amount_fen), 0) FROM unit_payment_persons l "
            " WHERE l.unit_payment_id = up.unit_payment_id), u.region_code "
            "FROM unit_payments up JOIN units u ON u.id = up.unit_id WHERE {where}",
            "up.unit_payment_id",
            wanted,
        ):
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

    def check_new(self, row: _Row, ctx: _Context) -> None:
        self._add(row.values[1], row.values[4])

    def check_change(self, row: _Row, old: tuple, ctx: _Context) -> None:
        self._add(row.values[1], row.values[4] - int(old[4]))

    def finish(self, engine: Engine, summary: ImportSummary) -> None:
        with engine.connect() as conn:
            db = _Db(conn)
            try:
                summary.incomplete = db.scalar(
                    "SELECT COUNT(*) FROM unit_payments up WHERE up.amount_fen > "
                    "(SELECT COALESCE(SUM(l.amount_fen), 0) FROM unit_payment_persons l "
                    " WHERE l.unit_payment_id = up.unit_payment_id)"
                )
            finally:
                db.close()


KINDS: dict[str, type[_Kind]] = {
    k.name: k
    for k in (
        _PensionPayments,
        _MedicalRegistrations,
        _MedicalPayments,
        _UnitPayments,
        _UnitPaymentPersons,
    )
}


# --------------------------------------------------------------------------------------------
# The file
# --------------------------------------------------------------------------------------------


class _CountingReader(io.RawIOBase):
    """Counts the bytes read, for a progress bar over a file read as text."""

    def __init__(self, raw: io.RawIOBase) -> None:
        self._raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        n = self._raw.readinto(buffer) or 0
        self.count += n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def rejected_path_for(path: Path) -> Path:
    """``pension.csv`` -> ``pension.rejected.csv`` beside it."""
    return path.with_name(f"{path.stem}.rejected.csv")


class _Rejects:
    """Writes rejected rows as they come; the file is created at the first one."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self.header = header
        self._fh = None
        self._writer = None
        self.count = 0

    def write(self, row: _Row) -> None:
        if self._writer is None:
            self._fh = open(self.path, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._writer = csv.writer(self._fh)
            self._writer.writerow([*self.header, "line", "code", "reason"])
        n = len(self.header)
        raw = row.raw[:n] + [""] * (n - len(row.raw))
        self._writer.writerow([*raw, row.line, row.code, row.reason])
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        elif self.path.exists():
            self.path.unlink()  # a stale file of an earlier run would mislead


def _header_positions(kind: _Kind, header: list[str]) -> list[int]:
    names = [h.strip() for h in header]
    missing = [c for c in kind.columns if c not in names]
    if missing:
        raise Invalid("import.missing_columns", f"文件缺少必需的列: {', '.join(missing)}", "file")
    twice = sorted({c for c in kind.columns if names.count(c) > 1})
    if twice:
        raise Invalid("import.duplicate_columns", f"文件中列名重复: {', '.join(twice)}", "file")
    return [names.index(c) for c in kind.columns]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Run with Python's automatic cycle collector off, restoring it afterwards.

    A batch allocates tens of thousands of small objects; the automatic collector then runs
    thousands of times per file, its full passes scanning every object of the process. That
    was a quarter of the import's time (bench/RESULTS.md). The loader makes no reference
    cycles of its own, and each batch ends with a collection of the young generations, so
    memory stays bounded all the same.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def import_file(
    engine: Engine,
    kind: str,
    path: Path,
    *,
    progress: bool = False,
    batch_size: int = 5000,
    today: date | None = None,
) -> ImportSummary:
    """Load one import file of ``kind`` (see the module docstring) and return its counts.

    Raises :class:`Invalid` for a whole-file error (unknown kind, empty file, missing or
    repeated column, not UTF-8); rows loaded before a mid-file encoding error stay loaded.
    ``today`` (default: today in China) bounds the birth dates in ID numbers.
    """
    if kind not in KINDS:
        raise Invalid("import.kind", f"未知的导入类型: {kind}", "kind")
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    spec = KINDS[kind]()
    ctx = _Context(today or SystemClock().today())
    path = Path(path)
    summary = ImportSummary(kind=kind)
    with _collector_paused():
        _import(engine, spec, ctx, path, summary, progress=progress, batch_size=batch_size)
    if summary.rejected:
        summary.rejected_path = rejected_path_for(path)
    return summary


def _import(
    engine: Engine,
    spec: _Kind,
    ctx: _Context,
    path: Path,
    summary: ImportSummary,
    *,
    progress: bool,
    batch_size: int,
) -> None:
    size = path.stat().st_size
    counter = _CountingReader(open(path, "rb", buffering=0))  # noqa: SIM115
    # utf-8-sig: spreadsheets save a byte-order mark in front of the header.
    text = io.TextIOWrapper(io.BufferedReader(counter, 1 << 16), encoding="utf-8-sig", newline="")
    bar = tqdm(
        total=size,
        unit="B",
        unit_scale=True,
        desc=spec.name,
        file=sys.stderr,
        disable=not progress,
        leave=False,
    )
    try:
        reader = csv.reader(text)
        try:
            header = next(reader, None)
            if not header or not any(h.strip() for h in header):
                raise Invalid("import.empty", "文件为空或缺少表头", "file")
            pick = itemgetter(*_header_positions(spec, header))
            width = len(header)
            rejects = _Rejects(rejected_path_for(path), [h.strip() for h in header])
            try:
                batch: list[_Row] = []
                for raw in reader:
                    if not raw or (len(raw) == 1 and not raw[0].strip()):
                        continue  # blank line
                    row = _Row(reader.line_num, raw)
                    if len(raw) != width:
                        row.reject("import.columns", f"该行有{len(raw)}列，与表头的{width}列不一致")
                    else:
                        try:
                            row.rec = spec.prepare(list(map(str.strip, pick(raw))), ctx)
                        except DomainError as exc:
                            row.reject_error(exc)
                    batch.append(row)
                    if len(batch) >= batch_size:
                        _load_batch(engine, spec, batch, ctx, summary, rejects)
                        batch = []
                        gc.collect(0)  # see _collector_paused
                        bar.update(counter.count - bar.n)
                if batch:
                    _load_batch(engine, spec, batch, ctx, summary, rejects)
            finally:
                rejects.close()
        except UnicodeDecodeError as exc:
            raise Invalid("import.encoding", "文件不是UTF-8编码", "file") from exc
        except csv.Error as exc:
            raise Invalid(
                "import.csv", f"CSV格式错误（第{reader.line_num}行）: {exc}", "file"
            ) from exc
    finally:
        bar.update(counter.count - bar.n)
        bar.close()
        text.close()
    spec.finish(engine, summary)


def _load_batch(
    engine: Engine,
    spec: _Kind,
    batch: list[_Row],
    ctx: _Context,
    summary: ImportSummary,
    rejects: _Rejects,
) -> None:
    pending = [r for r in batch if r.rec is not None]
    # The loader talks to the driver directly, so its errors arrive unwrapped as well.
    integrity_errors = (IntegrityError, engine.dialect.loaded_dbapi.IntegrityError)
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with engine.begin() as conn:
                db = _Db(conn)
                try:
                    spec.apply(db, pending, ctx)
                finally:
                    db.close()
            break
        except integrity_errors:
            # Another importer inserted one of our keys (or persons) between our look-up and
            # our insert; our transaction is gone, so redo the batch against what is there now.
            ctx.forget()
            for r in pending:
                r.reset()
            if attempt == _ATTEMPTS:
                raise
    for r in batch:
        if r.outcome == LOADED:
            summary.loaded += 1
        elif r.outcome == UPDATED:
            summary.updated += 1
        elif r.outcome == UNCHANGED:
            summary.unchanged += 1
        else:
            summary.rejected += 1
            rejects.write(r)
