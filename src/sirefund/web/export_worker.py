"""导出Excel without stalling the server: the workbook is built in another process and the
response streams it.

Building a workbook is pure Python (0.3-1 ms per row measured on a loaded machine: the
row's view, its labels, the cells, the XML). On a thread of the serving process a 100k-row
export holds the GIL for many seconds, and every other request waits for it at each of its
own GIL hand-offs (issue 12 measured concurrent reads falling to 0.2-0.3x, p99 past 1 s).
So the serving process hands the build to a helper process (one per serving process,
spawned on the first export and kept, at a lower CPU priority): it reads the rows in chunks
(review_queue.queue_rows), writes them with openpyxl's write-only mode into a temporary
file, and the response streams that file in 64 KiB chunks, then deletes it. The event loop
only awaits; memory stays flat whatever the size.

An in-memory SQLite database (tests) cannot be opened by another process: there the build
runs on a worker thread as before.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool

from ..db import make_engine, make_session_factory, read_only
from ..domain.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from ..services.accounts import Principal
from ..services.review_queue import QueueFilters
from . import officer_export

STREAM_CHUNK_BYTES = 64 * 1024
HELPER_NICENESS = 10  # added to the helper process's niceness (lower CPU priority)
PARENT_CHECK_SECONDS = 2.0
_ERRORS: dict[str, type[DomainError]] = {
    cls.__name__: cls for cls in (Invalid, Forbidden, NotFound, Conflict)
}

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()
# In the helper process: the engine of the last database URL it was given.
_child_engine: tuple[str, Engine] | None = None

# (error class name, code, message, field) of a refused export, or None when written.
Refusal = tuple[str, str, str, str | None] | None


def _helper() -> ProcessPoolExecutor:
    global _pool  # noqa: PLW0603 - one helper per serving process, made on first use
    with _pool_lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_helper,
            )
        return _pool


def _start_helper() -> None:
    """In the helper, once: yield the CPU to the serving processes (an export is a background
    job and the requests beside it should not wait for it: bench/export_stall.py measured
    /healthz p99 4.1x on PostgreSQL with the helper at the same priority), and exit when the
    serving process is gone (killed without its exit handlers, it would leave the helper
    waiting for work forever)."""
    if hasattr(os, "nice"):
        os.nice(HELPER_NICENESS)
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="export-helper-parent", daemon=True).start()


def _engine_for(url: str) -> Engine:
    global _child_engine  # noqa: PLW0603 - the helper's one engine
    if _child_engine is None or _child_engine[0] != url:
        if _child_engine is not None:
            _child_engine[1].dispose()
        _child_engine = (url, read_only(make_engine(url, pool_size=1, max_overflow=0)))
    return _child_engine[1]


def _write(
    engine: Engine, officer: Principal, filters: QueueFilters, today: date, path: str
) -> Refusal:
    """Write the workbook to ``path`` in one read-only transaction; a refusal (too many rows,
    an officer no longer active) is returned as plain values (a DomainError does not
    survive pickling)."""
    try:
        with (
            make_session_factory(engine)() as session,
            session.begin(),
            Path(path).open("wb") as out,
        ):
            officer_export.write_queue_xlsx(
                session, officer=officer, filters=filters, today=today, out=out
            )
    except DomainError as exc:
        return (type(exc).__name__, exc.code, exc.message, exc.field)
    return None


def _build_in_helper(
    url: str, officer: Principal, filters: QueueFilters, today: date, path: str
) -> Refusal:
    return _write(_engine_for(url), officer, filters, today, path)


def _shared_by_processes(engine: Engine) -> bool:
    database = engine.url.database or ""
    in_memory = database in {"", ":memory:"} or "mode=memory" in str(engine.url)
    return not (engine.dialect.name == "sqlite" and in_memory)


async def queue_xlsx_file(
    engine: Engine, *, officer: Principal, filters: QueueFilters, today: date
) -> Path:
    """The workbook of the filtered queue in a temporary file (the caller streams and
    deletes it: :func:`stream_and_delete`). Raises the refusal's DomainError."""
    handle, name = tempfile.mkstemp(prefix="sirefund-export-", suffix=".xlsx")
    os.close(handle)
    try:
        if _shared_by_processes(engine):
            url = engine.url.render_as_string(hide_password=False)
            future = _helper().submit(_build_in_helper, url, officer, filters, today, name)
            refusal = await asyncio.wrap_future(future)
        else:
            refusal = await run_in_threadpool(
                _write, read_only(engine), officer, filters, today, name
            )
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    if refusal is not None:
        Path(name).unlink(missing_ok=True)
        kind, code, message, field = refusal
        raise _ERRORS.get(kind, Invalid)(code, message, field)
    return Path(name)


def stream_and_delete(path: Path) -> Iterator[bytes]:
    """The file in STREAM_CHUNK_BYTES chunks; deleted once sent (or the client left)."""
    try:
        with path.open("rb") as f:
            while chunk := f.read(STREAM_CHUNK_BYTES):
                yield chunk
    finally:
        path.unlink(missing_ok=True)
