"""The floor for bench/apply_cancel.py: a minimal FastAPI app doing the same writes as a
pension 申请退费 and its 撤销 on the raw driver (psycopg), one connection per server thread
(the thread pool is the connection pool), no authentication, no middleware, no ORM.

    BENCH_DATABASE_URL=postgresql://… .venv/bin/python -m uvicorn apply_cancel_minimal:app \
        --app-dir bench

* POST /apply?person_id=&payment_id= — INSERT of the application (from the payment and the
  person, pending_review) and of its first event, one transaction; answers {"id": …};
* POST /cancel/{id} — the conditional UPDATE to cancelled and its event, one transaction;
* GET /healthz — {"status": "ok"}.

The statistics summary's triggers fire here as they do under sirefund (same database).
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any

import psycopg
from fastapi import FastAPI, HTTPException

URL = os.environ.get("BENCH_DATABASE_URL", "").replace("postgresql+psycopg://", "postgresql://")

APPLY_SQL = (
    "INSERT INTO applications (kind, document_no, status, channel, created_at, updated_at, "
    "version, person_id, region_code, pension_payment_id, amount_fen, payment_year, "
    "period_start, period_end, bank_account_type, bank_account_no, bank_account_name, "
    "bank_category, contact_name, contact_phone) "
    "SELECT 'pension', %s, 'pending_review', 'web', now(), now(), 1, s.id, s.region_code, "
    "p.payment_id, p.amount_fen, p.payment_year, p.period_start, p.period_end, 'bank_card', "
    "%s, s.name, '103', s.name, %s FROM pension_payments p JOIN persons s ON s.id = p.person_id "
    "WHERE p.payment_id = %s AND s.id = %s RETURNING id"
)
CANCEL_SQL = (
    "UPDATE applications SET status = 'cancelled', updated_at = now(), version = version + 1 "
    "WHERE id = %s AND status = 'pending_review' RETURNING id"
)
EVENT_SQL = (
    "INSERT INTO application_events (application_id, at, actor_kind, actor_id, from_status, "
    "to_status, reason) VALUES (%s, now(), 'person', %s, %s, %s, %s)"
)

app = FastAPI()
_local = threading.local()


def _connection() -> Any:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = psycopg.connect(URL)
    return conn


@app.post("/apply")
def apply(person_id: int, payment_id: str, account: str, phone: str) -> dict[str, int]:
    conn = _connection()
    with conn.transaction():
        row = conn.execute(
            APPLY_SQL, (uuid.uuid4().hex[:20], account, phone, payment_id, person_id)
        ).fetchone()
        if row is None:
            raise HTTPException(404)
        conn.execute(EVENT_SQL, (row[0], str(person_id), None, "pending_review", "提交退费申请"))
    return {"id": row[0]}


@app.post("/cancel/{application_id}")
def cancel(application_id: int, person_id: int) -> dict[str, int]:
    conn = _connection()
    with conn.transaction():
        row = conn.execute(CANCEL_SQL, (application_id,)).fetchone()
        if row is None:
            raise HTTPException(409)
        conn.execute(
            EVENT_SQL,
            (application_id, str(person_id), "pending_review", "cancelled", "缴费人撤销退费申请"),
        )
    return {"id": application_id}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
