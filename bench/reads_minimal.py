"""The floor for bench/reads.py: a minimal FastAPI app running the same SELECTs as sirefund's
"my payments of this year" reads on the raw driver (psycopg / sqlite3), one connection per
server thread, no authentication, no middleware, no ORM.

    BENCH_DATABASE_URL=postgresql://… .venv/bin/python -m uvicorn reads_minimal:app --app-dir bench

* GET /pension?person_id=&year= — sirefund's own pension statement
  (services.queries._pension_sql: the payments with their active, else latest, application);
* GET /medical?person_id=&year= — the person's registration, its payments of the insurance
  year and their applications, in one statement;
* GET /healthz — {"status": "ok"}.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Any

import psycopg
from fastapi import FastAPI

from sirefund.services.queries import _pension_sql

URL = os.environ.get("BENCH_DATABASE_URL", "")
SQLITE = URL.startswith("sqlite:///")
PLACEHOLDER = "?" if SQLITE else "%s"
PENSION_SQL = _pension_sql(PLACEHOLDER, True, "all")
MEDICAL_SQL = (
    "SELECT mp.payment_id, mp.registration_id, mp.ticket_no, mp.item_name, "
    "mp.medical_amount_fen, mp.ltc_amount_fen, mp.period_start, mp.period_end, "
    "mp.payment_date, a.id, a.status "
    "FROM medical_registrations r "
    "JOIN medical_payments mp ON mp.registration_id = r.registration_id "
    "LEFT OUTER JOIN applications a ON a.medical_payment_id = mp.payment_id "
    f"WHERE r.person_id = {PLACEHOLDER} AND mp.insurance_year = {PLACEHOLDER} "
    "ORDER BY mp.period_start, mp.payment_date, mp.payment_id, a.id"
)

app = FastAPI()
_local = threading.local()


def _connection() -> Any:
    conn = getattr(_local, "conn", None)
    if conn is None:
        if SQLITE:
            conn = sqlite3.connect(URL.removeprefix("sqlite:///"), check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
        else:
            conn = psycopg.connect(URL.replace("postgresql+psycopg://", "postgresql://"))
            conn.autocommit = True
        _local.conn = conn
    return conn


def _rows(sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
    cur = _connection().cursor()
    try:
        cur.execute(sql, params)
        return list(cur.fetchall())
    finally:
        cur.close()


@app.get("/pension")
def pension(person_id: int, year: int) -> list[dict[str, Any]]:
    return [
        {
            "payment_id": r[0],
            "amount": f"{r[2] // 100}.{r[2] % 100:02d}",
            "period_start": str(r[3]),
            "period_end": str(r[4]),
            "payment_year": r[5],
            "payment_date": str(r[6]),
            "channel": r[7],
            "arrival_status": r[8],
            "application_id": r[9],
            "application_status": r[10],
        }
        for r in _rows(PENSION_SQL, (person_id, year))
    ]


@app.get("/medical")
def medical(person_id: int, year: int) -> list[dict[str, Any]]:
    return [
        {
            "payment_id": r[0],
            "registration_id": r[1],
            "ticket_no": r[2],
            "item_name": r[3],
            "medical_amount": f"{r[4] // 100}.{r[4] % 100:02d}",
            "ltc_amount": f"{(r[5] or 0) // 100}.{(r[5] or 0) % 100:02d}",
            "period_start": str(r[6]),
            "period_end": str(r[7]),
            "payment_date": str(r[8]),
            "application_id": r[9],
            "application_status": r[10],
        }
        for r in _rows(MEDICAL_SQL, (person_id, year))
    ]


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
