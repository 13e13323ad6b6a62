"""How every sirefund process logs: one JSON object per line on standard error.

Each line has `time` (UTC, ISO 8601), `level`, `logger`, `message`, `request_id` (the HTTP
request being served, or the one that wrote the outbox message the worker is sending; null
outside both) and `pid`; access lines (logger `sirefund.access`, web/request_id.py) add
`method`, `route` (the route's template, never the raw path: no ids in it), `status` and
`duration_ms`. Personal data stays out the way logsafe.py describes: the digit-run scrubber
sits on the handler, so it sees every record, ours and the libraries'.

`SIREFUND_LOG_FORMAT=text` gives the old human-readable lines (same filters) for a terminal.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Literal, TextIO

from pythonjsonlogger.json import JsonFormatter

from . import logsafe, request_context

LogFormat = Literal["json", "text"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_JSON_FIELDS = ["levelname", "name", "message"]
_RENAMED = {"levelname": "level", "name": "logger"}
#: uvicorn's coloured copy of a message: a second, unscrubbed rendering of the same text.
_DROPPED = ("color_message",)
_OURS = "_sirefund_handler"


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id and the process id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_context.current()
        record.pid = os.getpid()
        for name in _DROPPED:
            record.__dict__.pop(name, None)
        return True


def json_formatter() -> logging.Formatter:
    return JsonFormatter(
        _JSON_FIELDS,
        rename_fields=_RENAMED,
        timestamp="time",
        json_ensure_ascii=False,
    )


def handler(stream: TextIO | None = None, *, log_format: LogFormat = "json") -> logging.Handler:
    """A stream handler with our formatter and filters (tests attach one to a StringIO)."""
    h = logging.StreamHandler(stream if stream is not None else sys.stderr)
    h.setFormatter(json_formatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    h.addFilter(RequestIdFilter())
    h.addFilter(logsafe.ScrubDigits())
    return h


def configure(log_format: str | None = None, *, level: int = logging.INFO) -> None:
    """Replace the root handlers with ours; uvicorn's loggers propagate to them (serve passes
    `log_config=None` to uvicorn, so it installs no handler of its own)."""
    chosen: LogFormat = "text" if (log_format or "json").lower() == "text" else "json"
    root = logging.getLogger()
    # Ours are replaced (configure may run twice in one process); others' are left alone
    # (pytest's capture, an embedding application's).
    for old in list(root.handlers):
        if getattr(old, _OURS, False):
            root.removeHandler(old)
    ours = handler(log_format=chosen)
    setattr(ours, _OURS, True)
    root.addHandler(ours)
    root.setLevel(level)
    # uvicorn.access is left as uvicorn set it: `serve` switches it off (raw paths).
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logsafe.install()
