"""No ID, phone or card number reaches a log line."""

from __future__ import annotations

import logging

from sirefund import logsafe

ID = "420703195803120232"
PHONE = "13800001234"
CARD = "6228480402564890018"


def test_scrub_masks_ids_phones_and_card_numbers_but_keeps_short_numbers():
    line = logsafe.scrub(f"id={ID} phone={PHONE} card={CARD} year=2026 status=409")
    for secret in (ID, PHONE, CARD):
        assert secret not in line
    assert "year=2026" in line and "status=409" in line


def test_access_log_drops_the_query_string():
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/api/v1/unit/payments/U1/persons?id_number={ID}", "1.1", 200),
        None,
    )
    logsafe.AccessLogWithoutQuery().filter(record)
    assert ID not in record.getMessage()
    assert "/api/v1/unit/payments/U1/persons" in record.getMessage()


def test_tracebacks_are_scrubbed_before_a_handler_prints_them():
    try:
        raise ValueError(f"bad card {CARD}")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "sirefund", logging.ERROR, __file__, 1, "failed for %s", (PHONE,), sys.exc_info()
        )
    logsafe.ScrubDigits().filter(record)
    text = logging.Formatter().format(record)
    assert CARD not in text and PHONE not in text
    assert "ValueError" in text


def test_database_errors_do_not_carry_bound_parameters(tmp_path):
    from sqlalchemy import text as sql
    from sqlalchemy.exc import IntegrityError

    from sirefund.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(sql("CREATE TABLE t (v TEXT UNIQUE)"))
        conn.execute(sql("INSERT INTO t VALUES (:v)"), {"v": ID})
    try:
        with engine.begin() as conn:
            conn.execute(sql("INSERT INTO t VALUES (:v)"), {"v": ID})
    except IntegrityError as exc:
        assert ID not in str(exc)
    else:
        raise AssertionError("the duplicate insert should have failed")
    engine.dispose()


def test_scrubbed_access_records_still_format_with_uvicorns_access_formatter():
    from uvicorn.logging import AccessFormatter

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/api/v1/pension/payments/{ID}", "1.1", 200),
        None,
    )
    logsafe.AccessLogWithoutQuery().filter(record)
    logsafe.ScrubDigits().filter(record)
    line = AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s').format(record)
    assert ID not in line and "200" in line
