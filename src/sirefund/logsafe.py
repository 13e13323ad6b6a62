"""Keep personal data out of logs.

ID numbers, phones and card numbers can reach a log line three ways: a URL's query string
(`?id_number=...` on the unit person filter), a database error's bound parameters, and an
exception message. Query strings are cut from uvicorn's access log here; engines hide bound
parameters (db.make_engine); and a last filter masks any long digit run that still slips
through.
"""

from __future__ import annotations

import logging
import re

# 6+ digits, optionally ending in X (resident IDs), e.g. phones, IDs, card numbers.
_DIGIT_RUN = re.compile(r"(?<![\d*])(\d{2})\d{4,}(\d{2}|\d[Xx])(?!\d)")


def scrub(text: str) -> str:
    return _DIGIT_RUN.sub(lambda m: m.group(1) + "*" * (len(m.group(0)) - 4) + m.group(2), text)


#: Position of full_path in the arguments of a uvicorn.access record.
_PATH_ARG = 2


class AccessLogWithoutQuery(logging.Filter):
    """uvicorn.access records carry (client, method, full_path, http_version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > _PATH_ARG:
            full_path = args[_PATH_ARG]
            if isinstance(full_path, str):
                path = full_path.split("?", 1)[0]
                record.args = (*args[:_PATH_ARG], path, *args[_PATH_ARG + 1 :])
        return True


class ScrubDigits(logging.Filter):
    """Masks long digit runs in the message template, its arguments and any traceback.

    Arguments are scrubbed one by one, never collapsed into the message: formatters such as
    uvicorn's access formatter read `record.args` as a tuple.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = scrub(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(scrub(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: scrub(v) if isinstance(v, str) else v for k, v in record.args.items()}
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, scrubbed, instead of letting the handler print it raw.
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


def install() -> None:
    """Attach the filters to the root handlers and uvicorn's loggers."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, AccessLogWithoutQuery) for f in access.filters):
        access.addFilter(AccessLogWithoutQuery())
    scrubber = ScrubDigits()
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "sirefund"):
        logger = logging.getLogger(name)
        for handler in logger.handlers:
            if not any(isinstance(f, ScrubDigits) for f in handler.filters):
                handler.addFilter(scrubber)
