"""Handing out 文书号 (domain.md "Document numbers"): one per application, on submission.

The next number of a (year, region) comes from one upsert on its ``document_counters`` row,
run in the submitting transaction: ``INSERT ... ON CONFLICT DO UPDATE SET last_sequence =
last_sequence + 1 RETURNING last_sequence`` (PostgreSQL and SQLite ≥ 3.35 alike). On
PostgreSQL the row lock it takes is held until the submission commits or rolls back, so
concurrent submissions of one region queue there and each reads the number the previous one
committed; SQLite serialises writers anyway (BEGIN IMMEDIATE). A rolled-back submission rolls
its increment back with it, so numbers have no holes from failures, and the unique
constraint on ``applications.document_no`` refuses any number given twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, select
from sqlalchemy.dialects import postgresql, sqlite

from ..clock import CHINA_TZ, as_utc
from ..domain import documents
from ..models import DocumentCounter


def submission_year(at: datetime) -> int:
    """The year of a submission at instant ``at``, in China time (a submission at
    2026-12-31T17:00Z is one of 2027)."""
    return as_utc(at).astimezone(CHINA_TZ).year


def next_document_no(connection: Connection, *, region_code: str, at: datetime) -> str:
    """The next 文书号 of ``region_code`` in the year of ``at``; its counter row stays locked
    (PostgreSQL) until the caller's transaction ends."""
    year = submission_year(at)
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(DocumentCounter)
        .values(year=year, region_code=region_code, last_sequence=1)
        .on_conflict_do_update(
            index_elements=[DocumentCounter.year, DocumentCounter.region_code],
            set_={"last_sequence": DocumentCounter.last_sequence + 1},
        )
        .returning(DocumentCounter.last_sequence)
    )
    sequence = connection.execute(statement).scalar_one()
    return documents.document_no(year=year, region_code=region_code, sequence=sequence)


def lock_counters(connection: Connection, *, region_codes: Iterable[str], at: datetime) -> None:
    """Take the counter rows of several regions in one order before a submission that numbers
    applications of more than one region (a unit's batch): two such batches that met the
    same regions in different orders would otherwise each hold a row the other waits for."""
    if connection.dialect.name != "postgresql":
        return  # SQLite: the writer holds the whole database already
    year = submission_year(at)
    for region_code in sorted(set(region_codes)):
        # A new row starts at 0: the lock alone hands out no number.
        connection.execute(
            postgresql.insert(DocumentCounter)
            .values(year=year, region_code=region_code, last_sequence=0)
            .on_conflict_do_nothing()
        )
        connection.execute(
            select(DocumentCounter.last_sequence)
            .where(DocumentCounter.year == year, DocumentCounter.region_code == region_code)
            .with_for_update()
        )
