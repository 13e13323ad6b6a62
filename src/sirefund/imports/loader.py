"""Reading one import file in a streaming pass: the header, rows in batches of constant size,
rejected rows to ``FILE.rejected.csv``, and the summary of what the file did."""

from __future__ import annotations

import csv
import gc
import io
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from tqdm import tqdm

from ..clock import SystemClock
from ..db import OWNER_ONLY
from ..domain.audit import AuditAction
from ..domain.errors import DomainError, Invalid
from ..services import audit
from .batch import LOADED, UNCHANGED, UPDATED, Context, Kind, Row
from .bulk import BulkCursor
from .fields import ImportLimits
from .kinds import KINDS, new_context

if TYPE_CHECKING:  # the type csv.reader returns is named only in the stubs
    from _csv import Reader as CsvReader

#: Tries of one batch that collides with concurrent importers before the import fails.
_ATTEMPTS = 5
#: Bytes read from the file at a time.
_READ_BUFFER = 1 << 16
#: What no field of a sound file holds: a NUL byte, a line break (inside quotes: the mark of
#: a quote left open, which swallows the lines after it), or bytes that are not UTF-8 (kept
#: by the decoder as lone surrogates, so that the error names its line).
_SUSPICIOUS = re.compile("[\x00\r\n\udc80-\udcff]")
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


class ImportInterrupted(Invalid):
    """A fatal error part-way through a file (not UTF-8, a NUL byte, broken quoting).

    The batches before it are committed and stay; ``summary`` counts them. Loading is
    idempotent by key, so running the same import again, once the file is fixed, continues
    where this one stopped: the rows already loaded come out unchanged.
    """

    def __init__(self, code: str, problem: str, line: int, summary: ImportSummary) -> None:
        committed = summary.loaded + summary.updated + summary.unchanged
        message = (
            f"第{line}行：{problem}。导入已中止：此前已处理{summary.total}行，"
            f"其中{committed}行已提交入库、{summary.rejected}行被拒绝；"
            "修正该行后再次运行同一命令即可从中断处继续（已导入的行不会重复导入）"
        )
        super().__init__(code, message, "file")
        self.line = line
        self.summary = summary


class _Fatal(Exception):
    """Raised by the row reader at a row that ends the file's reading."""

    def __init__(self, code: str, problem: str, line: int) -> None:
        super().__init__(code)
        self.code, self.problem, self.line = code, problem, line


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


def rejected_path_for(path: Path) -> Path:
    """``pension.csv`` -> ``pension.rejected.csv`` beside it."""
    return path.with_name(f"{path.stem}.rejected.csv")


class _Rejects:
    """Writes rejected rows as they come; the file is created at the first one."""

    def __init__(self, path: Path, header: list[str]) -> None:
        self.path = path
        self.header = header
        self._fh: TextIO | None = None
        self._writerow: Callable[[Iterable[Any]], object] | None = None

    def write(self, row: Row) -> None:
        if self._writerow is None:
            # The rows hold ID numbers and names: owner only, a stale file's mode included.
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_ONLY)
            os.fchmod(fd, OWNER_ONLY)
            self._fh = open(fd, "w", encoding="utf-8", newline="")  # noqa: SIM115
            self._writerow = csv.writer(self._fh).writerow
            self._writerow([*self.header, "line", "code", "reason"])
        n = len(self.header)
        raw = row.raw[:n] + [""] * (n - len(row.raw))
        self._writerow([*raw, row.line, row.code, row.reason])

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        elif self.path.exists():
            self.path.unlink()  # a stale file of an earlier run would mislead


def _header_positions(kind: Kind, header: list[str]) -> list[int]:
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
    limits: ImportLimits | None = None,
) -> ImportSummary:
    """Load one import file of ``kind`` (see the package docstring) and return its counts.

    Raises :class:`Invalid` for a whole-file error (unknown kind, empty file, missing or
    repeated column, a header that is not UTF-8), and :class:`ImportInterrupted` for a fatal
    error part-way through (not UTF-8, a NUL byte, broken quoting): the rows before it stay
    loaded. ``today`` (default: today in China) bounds the birth dates in ID numbers and the
    payment dates; ``limits`` the amounts and dates (default: ImportLimits()).
    """
    if kind not in KINDS:
        raise Invalid("import.kind", f"未知的导入类型: {kind}", "kind")
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    spec = KINDS[kind]()
    ctx = new_context(today or SystemClock().today(), limits)
    path = Path(path)
    summary = ImportSummary(kind=kind)
    try:
        with _collector_paused():
            _import(engine, spec, ctx, path, summary, progress=progress, batch_size=batch_size)
    except DomainError as exc:
        _audit_run(engine, path, summary, refused=exc.code)
        raise
    if summary.rejected:
        summary.rejected_path = rejected_path_for(path)
    _audit_run(engine, path, summary, refused=None)
    return summary


def _audit_run(engine: Engine, path: Path, summary: ImportSummary, *, refused: str | None) -> None:
    """One audit row per run, in a transaction of its own: the kind, the file's name and the
    counts (or the whole-file error), never a row's content."""
    with Session(engine) as session, session.begin():
        audit.record(
            session,
            actor=audit.Actor.system("import"),
            action=AuditAction.IMPORT_RUN,
            at=SystemClock().now(),
            details={
                "kind": summary.kind,
                "file": path.name,
                "loaded": summary.loaded,
                "updated": summary.updated,
                "unchanged": summary.unchanged,
                "rejected": summary.rejected,
                "refused": refused,
            },
        )


def _import(
    engine: Engine,
    spec: Kind,
    ctx: Context,
    path: Path,
    summary: ImportSummary,
    *,
    progress: bool,
    batch_size: int,
) -> None:
    size = path.stat().st_size
    raw_file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed through `text`
    # utf-8-sig: spreadsheets save a byte-order mark in front of the header. Bytes that are
    # not UTF-8 become lone surrogates, found row by row (_batches) so the error names its line.
    text = io.TextIOWrapper(
        io.BufferedReader(raw_file, _READ_BUFFER),
        encoding="utf-8-sig",
        errors="surrogateescape",
        newline="",
    )
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
        # strict: a quote left open up to the end of the file, or text after a closing
        # quote, is an error rather than a guess.
        reader = csv.reader(text, strict=True)
        try:
            header = next(reader, None)
            if not header or not any(h.strip() for h in header):
                raise Invalid("import.empty", "文件为空或缺少表头", "file")
            if any(_SUSPICIOUS.search(h) for h in header):
                raise Invalid("import.encoding", "表头不是UTF-8编码的CSV文本", "file")
            positions = _header_positions(spec, header)
            rejects = _Rejects(rejected_path_for(path), [h.strip() for h in header])
            try:
                pick = itemgetter(*positions)
                for batch in _batches(reader, len(header), pick, spec, ctx, batch_size):
                    _load_batch(engine, spec, batch, ctx, summary, rejects)
                    # Free the rows now (the generator holds the list too), so that the
                    # collection of the young generation (see _collector_paused) finds them
                    # gone instead of scanning and promoting them.
                    batch.clear()
                    gc.collect(0)
                    # The bytes read so far (the raw file's position) drive the bar.
                    bar.update(raw_file.tell() - bar.n)
            finally:
                rejects.close()
        except csv.Error as exc:  # in the header
            raise Invalid(
                "import.csv", f"CSV格式错误（第{reader.line_num}行）: {exc}", "file"
            ) from exc
        except _Fatal as exc:
            if summary.rejected:
                summary.rejected_path = rejected_path_for(path)
            raise ImportInterrupted(exc.code, exc.problem, exc.line, summary) from None
    finally:
        bar.update(raw_file.tell() - bar.n)
        bar.close()
        text.close()
    if spec.incomplete_sql is not None:
        with engine.connect() as conn:
            db = BulkCursor(conn)
            try:
                summary.incomplete = db.scalar(spec.incomplete_sql)
            finally:
                db.close()


def _odd_row(row: Row, first_line: int) -> _Fatal | None:
    """A row with something of _SUSPICIOUS: the fatal error it is, or None when the row is
    only rejected (a line break in a field)."""
    joined = "\x1f".join(row.raw)
    if "\x00" in joined:
        return _Fatal("import.nul", "含有NUL字节（文件可能不是CSV文本或已损坏）", row.line)
    if _NOT_UTF8.search(joined):
        return _Fatal("import.encoding", "含有非UTF-8编码的字节，请将文件另存为UTF-8", row.line)
    # A line break inside a field: a quote left open swallowed the lines after it.
    row.reject(
        "import.line_break",
        f"第{first_line}至{row.line}行被合并成了一行：某个字段中的引号未闭合"
        "（或字段内含换行），这些行都未导入，请修正后重新导入",
    )
    return None


def _batches(
    reader: CsvReader,
    width: int,
    pick: Callable[[list[str]], tuple[str, ...]],
    spec: Kind,
    ctx: Context,
    size: int,
) -> Iterator[list[Row]]:
    """The file's data rows in lists of ``size`` (the last one shorter), each validated
    (``row.rec``) or rejected; blank lines skipped.

    At a fatal row (see _SUSPICIOUS, and the csv module's errors) the rows before it are
    yielded as a last batch, to be loaded, and then :class:`_Fatal` is raised.
    """
    batch: list[Row] = []
    fatal: _Fatal | None = None
    last_line = reader.line_num
    while True:
        try:
            raw = next(reader, None)
        except csv.Error as exc:
            fatal = _Fatal(
                "import.csv",
                f"CSV格式错误（引号未闭合或引号后有多余字符：{exc}）",
                last_line + 1,
            )
            break
        if raw is None:
            break
        first_line, last_line = last_line + 1, reader.line_num
        if not raw or (len(raw) == 1 and not raw[0].strip()):
            continue  # blank line
        row = Row(last_line, raw)
        if _SUSPICIOUS.search("\x1f".join(raw)):
            fatal = _odd_row(row, first_line)
            if fatal is not None:
                break
        elif len(raw) != width:
            row.reject("import.columns", f"该行有{len(raw)}列，与表头的{width}列不一致")
        else:
            try:
                row.rec = spec.prepare(list(map(str.strip, pick(raw))), ctx)
            except DomainError as exc:
                row.reject_error(exc)
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
    if fatal is not None:
        raise fatal


def _load_batch(
    engine: Engine,
    spec: Kind,
    batch: list[Row],
    ctx: Context,
    summary: ImportSummary,
    rejects: _Rejects,
) -> None:
    pending = [r for r in batch if r.rec]
    # The loader talks to the driver directly, so its errors arrive unwrapped as well.
    integrity_errors = (IntegrityError, engine.dialect.loaded_dbapi.IntegrityError)
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with engine.begin() as conn:
                db = BulkCursor(conn)
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
