"""Load generated files straight into PostgreSQL with COPY (``sirefund generate --load``).

For benchmarks and capacity measurements at province scale (10M payments and more), where
`sirefund import` (validation and re-import bookkeeping of each row, about 23,000 rows/s here)
would take most of an hour. The files :func:`sirefund.generate.generate` writes are valid by
construction, so they are sent to the server as they are: each file is streamed in 1 MiB
blocks through ``COPY ... FROM STDIN (FORMAT csv)`` into a temporary table, and one
``INSERT ... SELECT`` per table converts it (yuan to fen, ID numbers to person ids) inside the
server. Persons (identities.csv), pension payments, medical registrations and medical
payments are loaded; units and their payments are left to `sirefund import` (a few % of the
rows). Into an empty database: a row already there makes the load fail (primary keys), and
nothing of that load is kept (one transaction).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from .generate import FILES, IDENTITIES_FILE

_BLOCK = 1 << 20

#: (file, staging columns, INSERT ... SELECT from the staging table `s`).
_STEPS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        IDENTITIES_FILE[0],
        IDENTITIES_FILE[1],
        "INSERT INTO persons (id_number, name, region_code, created_at)"
        " SELECT s.id_number, s.name, left(s.id_number, 6), now() FROM s",
    ),
    (
        FILES["pension-payments"][0],
        FILES["pension-payments"][1],
        "INSERT INTO pension_payments (payment_id, person_id, amount_fen, period_start,"
        " period_end, payment_year, payment_date, channel, arrival_status)"
        " SELECT s.payment_id, p.id, (s.amount::numeric * 100)::bigint, s.period_start::date,"
        " s.period_end::date, s.payment_year::int, s.payment_date::date, s.channel,"
        " s.arrival_status FROM s JOIN persons p ON p.id_number = s.id_number",
    ),
    (
        FILES["medical-registrations"][0],
        FILES["medical-registrations"][1],
        "INSERT INTO medical_registrations (registration_id, person_id, agency_code,"
        " agency_name, ss_code, region_code)"
        " SELECT s.registration_id, p.id, s.agency_code, s.agency_name, s.ss_code,"
        " s.region_code FROM s JOIN persons p ON p.id_number = s.id_number",
    ),
    (
        FILES["medical-payments"][0],
        FILES["medical-payments"][1],
        "INSERT INTO medical_payments (payment_id, registration_id, ticket_no, item_name,"
        " medical_amount_fen, ltc_amount_fen, period_start, period_end, payment_date, channel,"
        " insurance_year)"
        " SELECT s.payment_id, s.registration_id, s.ticket_no, s.item_name,"
        " (s.medical_amount::numeric * 100)::bigint,"
        " (coalesce(nullif(s.ltc_amount, ''), '0')::numeric * 100)::bigint,"
        " s.period_start::date, s.period_end::date, s.payment_date::date, s.channel,"
        " extract(year from s.period_start::date)::int FROM s",
    ),
)


def load(engine: Engine, directory: Path) -> dict[str, tuple[int, float]]:
    """COPY the generated files of `directory` into the (empty) PostgreSQL database of
    `engine`. Returns, per table, (rows, seconds)."""
    if engine.dialect.name != "postgresql":
        raise ValueError("generate --load needs PostgreSQL (COPY); use sirefund import")
    done: dict[str, tuple[int, float]] = {}
    raw = engine.raw_connection()
    try:
        cur: Any = raw.cursor()  # psycopg's cursor: copy()
        for name, columns, insert in _STEPS:
            started = time.perf_counter()
            cols = ", ".join(columns)
            cur.execute("DROP TABLE IF EXISTS s")
            cur.execute(f"CREATE TEMP TABLE s ({', '.join(c + ' text' for c in columns)})")
            with (
                (directory / name).open("rb") as fh,
                cur.copy(f"COPY s ({cols}) FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
            ):
                while block := fh.read(_BLOCK):
                    copy.write(block)
            cur.execute(insert)
            table = insert.split()[2]
            done[table] = (cur.rowcount, time.perf_counter() - started)
        cur.execute("DROP TABLE s")
        raw.commit()
    except BaseException:
        raw.rollback()
        raise
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(
            "ANALYZE persons, pension_payments, medical_registrations, medical_payments"
        )
    return done
