"""The floor for bench/apply_cancel.py: a minimal FastAPI app doing the same writes as a
pension 申请退费 and its 撤销 on the raw driver (psycopg), one connection per server thread
(the thread pool is the connection pool), no authentication, no middleware, no ORM.

    BENCH_DATABASE_URL=postgresql://… .venv/bin/python -m uvicorn apply_cancel_minimal:app \
        --app-dir bench

The writes are sirefund's, statement for statement (checked against the statements
sirefund sends for one apply and one cancel), so the ratio compares the cost of the code,
not of less work:

* POST /apply?person_id=&payment_id=&account=&phone= — one transaction: the county's 文书号
  counter (the same upsert, its row locked until commit), the INSERT of the application
  (from the payment and the person, pending_review; the statistics summary's triggers fire
  as they do under sirefund, same database), its first event, the applicant's notice (its
  SMS pending), and the audit row appended to the hash chain (the tip locked FOR UPDATE
  last, the row hashed with sirefund's own digest, the tip moved; a checkpoint every 1,000
  rows); answers {"id": …};
* POST /cancel/{id}?person_id= — the conditional UPDATE to cancelled, its event and its
  audit row (no notice: sirefund sends none for the applicant's own 撤销);
* GET /healthz — {"status": "ok"}.

``BENCH_MINIMAL_LEAN=1`` keeps only the application and event rows (the baseline used before
2026-11-30, which wrote neither the 文书号 counter, the notice nor the audit chain).
What the floor does not do, and sirefund does: authenticate the bearer token (one SELECT),
the submission's checks and 风险提示 reads (SELECTs only: the bench's payers raise no flag),
and the response's ORM reads.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi import FastAPI, HTTPException

from sirefund.domain.audit import CHECKPOINT_EVERY, canonical_details, row_digest
from sirefund.domain.documents import document_no

URL = os.environ.get("BENCH_DATABASE_URL", "").replace("postgresql+psycopg://", "postgresql://")
LEAN = os.environ.get("BENCH_MINIMAL_LEAN") == "1"
CHINA = ZoneInfo("Asia/Shanghai")

COUNTER_SQL = (
    "INSERT INTO document_counters (year, region_code, last_sequence) "
    "SELECT %s, region_code, 1 FROM persons WHERE id = %s "
    "ON CONFLICT (year, region_code) DO UPDATE "
    "SET last_sequence = document_counters.last_sequence + 1 "
    "RETURNING region_code, last_sequence"
)
APPLY_SQL = (
    "INSERT INTO applications (kind, document_no, status, channel, created_at, updated_at, "
    "version, person_id, region_code, pension_payment_id, amount_fen, payment_year, "
    "period_start, period_end, bank_account_type, bank_account_no, bank_account_name, "
    "bank_category, contact_name, contact_phone) "
    "SELECT 'pension', %s, 'pending_review', 'web', %s, %s, 1, s.id, s.region_code, "
    "p.payment_id, p.amount_fen, p.payment_year, p.period_start, p.period_end, 'bank_card', "
    "%s, s.name, '103', s.name, %s FROM pension_payments p JOIN persons s ON s.id = p.person_id "
    "WHERE p.payment_id = %s AND s.id = %s RETURNING id"
)
CANCEL_SQL = (
    "UPDATE applications SET status = 'cancelled', updated_at = %s, version = version + 1 "
    "WHERE id = %s AND status = 'pending_review' RETURNING id"
)
EVENT_SQL = (
    "INSERT INTO application_events (application_id, at, actor_kind, actor_id, from_status, "
    "to_status, reason) VALUES (%s, %s, 'person', %s, %s, %s, %s)"
)
NOTICE_SQL = (
    "INSERT INTO notifications (recipient_kind, recipient_id, application_id, title, body, "
    "created_at, sms_state, sms_attempts, sms_next_at) "
    "VALUES ('person', %s, %s, '退费申请已受理', %s, %s, 'pending', 0, %s)"
)
TIP_SQL = "SELECT last_id, last_hash FROM audit_chain_head WHERE id = 1 FOR UPDATE"
AUDIT_SQL = (
    "INSERT INTO audit_log (id, at, actor_kind, actor_id, action, application_id, person_id, "
    "address, details, prev_hash, row_hash) "
    "VALUES (%s, %s, 'person', %s, 'application.transition', %s, %s, %s, %s, %s, %s)"
)
CHECKPOINT_SQL = (
    "INSERT INTO audit_checkpoints (at, audit_id, row_hash, reason) VALUES (%s, %s, %s, 'periodic')"
)
MOVE_TIP_SQL = "UPDATE audit_chain_head SET last_id = %s, last_hash = %s WHERE id = 1"

app = FastAPI()
_local = threading.local()


def _connection() -> Any:
    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = psycopg.connect(URL)
    return conn


def _audit(conn: Any, at: datetime, person_id: int, app_id: int, move: dict[str, Any]) -> None:
    """sirefund's audit row of a transition, chained at the end of the transaction."""
    details = canonical_details(move)
    last_id, last_hash = conn.execute(TIP_SQL).fetchone()
    row_id = last_id + 1
    digest = row_digest(
        at=at,
        actor_kind="person",
        actor_id=str(person_id),
        action="application.transition",
        application_id=app_id,
        person_id=person_id,
        unit_id=None,
        officer_id=None,
        address="127.0.0.1",
        details=details,
        prev_hash=last_hash,
    )
    conn.execute(
        AUDIT_SQL,
        (row_id, at, str(person_id), app_id, person_id, "127.0.0.1", details, last_hash, digest),
    )
    if row_id % CHECKPOINT_EVERY == 0:
        conn.execute(CHECKPOINT_SQL, (at, row_id, digest))
    conn.execute(MOVE_TIP_SQL, (row_id, digest))


@app.post("/apply")
def apply(person_id: int, payment_id: str, account: str, phone: str) -> dict[str, int]:
    conn = _connection()
    at = datetime.now(UTC)
    year = at.astimezone(CHINA).year
    with conn.transaction():
        if LEAN:
            number = f"LEAN-{person_id}-{at.timestamp()}"
        else:
            region, sequence = conn.execute(COUNTER_SQL, (year, person_id)).fetchone()
            number = document_no(year=year, region_code=region, sequence=sequence)
        row = conn.execute(
            APPLY_SQL, (number, at, at, account, phone, payment_id, person_id)
        ).fetchone()
        if row is None:
            raise HTTPException(404)
        reason = "提交退费申请"
        conn.execute(EVENT_SQL, (row[0], at, str(person_id), None, "pending_review", reason))
        if not LEAN:
            body = (
                f"您的养老保险退费申请（文书号{number}）已提交，税务机关将于{year}年1月1日前"
                "（30个工作日内）完成审核。审核结果将通过站内消息和短信通知您。"
            )
            conn.execute(NOTICE_SQL, (person_id, row[0], body, at, at))
            move = {"from": None, "to": "pending_review", "reason": reason}
            _audit(conn, at, person_id, row[0], move)
    return {"id": row[0]}


@app.post("/cancel/{application_id}")
def cancel(application_id: int, person_id: int) -> dict[str, int]:
    conn = _connection()
    at = datetime.now(UTC)
    reason = "缴费人撤销退费申请"
    with conn.transaction():
        row = conn.execute(CANCEL_SQL, (at, application_id)).fetchone()
        if row is None:
            raise HTTPException(409)
        conn.execute(
            EVENT_SQL,
            (application_id, at, str(person_id), "pending_review", "cancelled", reason),
        )
        if not LEAN:
            move = {"from": "pending_review", "to": "cancelled", "reason": reason}
            _audit(conn, at, person_id, application_id, move)
    return {"id": application_id}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}
