"""The simulators' daily statements (对账文件) and the faults a test scripts into them.

A statement lists what an agency booked on one day (China time): request id, booking id,
application id, payee, account, amount (fen and yuan), status and booking time. It is served
two ways, with the same content:

    GET {base}/{agency path}/statements?date=YYYY-MM-DD   signed, as the adapter fetches it
    GET /_sim/statements/{agency}?date=YYYY-MM-DD         unsigned, for tests and the operator

Faults make an agency's books disagree with ours, the way a real agency's can
(`POST /_sim/statements-faults` with a list, `DELETE` clears them; `StatementFaults.add`
in process). Each names an agency and an application:

    alter_amount    the line shows `amount_fen` instead of what was asked
    change_account  the line shows `account_no` instead of the account in the request
    drop            the booking is missing from the statement
    duplicate       the booking appears twice (a second booking with its own request id)
    add_unknown     an extra line for `application_id` (None: no application at all), of
                    `amount_fen` into `account_no`, that we never asked for
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from datetime import date
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from ...clock import CHINA_TZ
from ...domain.agencies import Agency
from ...domain.money import format_yuan
from ...signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from ..base import STATEMENT_PATHS
from .control import error_response, json_list

if TYPE_CHECKING:
    from . import Booking, SimulatorState

FAULTS = frozenset({"alter_amount", "change_account", "drop", "duplicate", "add_unknown"})


@dataclass
class Fault:
    fault: str
    agency: str
    application_id: int | None = None
    amount_fen: int | None = None
    account_no: str | None = None
    on: str | None = None  # add_unknown: the statement date (default: every date asked)


class StatementFaults:
    """Thread-safe list of faults; tests change it while the server runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: str, **kwargs: Any) -> Fault:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        item = Fault(fault=fault, **kwargs)
        Agency(item.agency)  # ValueError for an unknown agency
        with self._lock:
            self._faults.append(item)
        return item

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def all(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)


def booked_payee(body: dict[str, Any]) -> dict[str, str | None]:
    """Whom a request pays and into which account, as the agency books it: the bank's
    payout names an account; HRSS and medical security book the payer."""
    account = body.get("account")
    if isinstance(account, dict):
        no, name = account.get("no"), account.get("name")
        return {
            "payee": str(name) if name is not None else None,
            "account_no": str(no) if no else None,
        }
    payer = body.get("payer")
    name = payer.get("name") if isinstance(payer, dict) else None
    return {"payee": str(name) if name is not None else None, "account_no": None}


def _line(booking: Booking, *, request_id: str | None = None) -> dict[str, Any]:
    return {
        "request_id": request_id or booking.request_id,
        "booking_id": booking.booking_id,
        "application_id": booking.application_id,
        "payee": booking.payee,
        "account_no": booking.account_no,
        "amount_fen": booking.amount_fen,
        "amount": format_yuan(booking.amount_fen) if booking.amount_fen is not None else None,
        "status": booking.status(),
        "booked_at": booking.created_at.isoformat(),
    }


def statement(state: SimulatorState, agency: Agency, day: date) -> dict[str, Any]:
    """The agency's statement of `day`, with the scripted faults applied."""
    faults = [f for f in state.statement_faults.all() if f.agency == agency.value]
    rows: list[dict[str, Any]] = []
    bookings = state.bookings_of(agency)
    for booking in sorted(bookings, key=lambda b: b.booking_id):
        if booking.created_at.astimezone(CHINA_TZ).date() != day:
            continue
        mine = [f for f in faults if f.application_id == booking.application_id]
        if any(f.fault == "drop" for f in mine):
            continue
        line = _line(booking)
        for f in mine:
            if f.fault == "alter_amount" and f.amount_fen is not None:
                line["amount_fen"] = f.amount_fen
                line["amount"] = format_yuan(f.amount_fen)
            elif f.fault == "change_account":
                line["account_no"] = f.account_no
        rows.append(line)
        if any(f.fault == "duplicate" for f in mine):
            rows.append({**line, "request_id": f"{booking.request_id}-2"})
    for n, f in enumerate(x for x in faults if x.fault == "add_unknown"):
        if f.on is not None and f.on != day.isoformat():
            continue
        rows.append(
            {
                "request_id": f"unknown-{agency.value}-{n + 1}",
                "booking_id": f"X{n + 1:08d}",
                "application_id": f.application_id,
                "payee": None,
                "account_no": f.account_no,
                "amount_fen": f.amount_fen,
                "amount": format_yuan(f.amount_fen) if f.amount_fen is not None else None,
                "status": "received",
                "booked_at": state.clock.now().isoformat(),
            }
        )
    return {"agency": agency.value, "date": day.isoformat(), "rows": rows}


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def add_statement_routes(app: FastAPI, state: SimulatorState) -> None:
    def answer(agency: Agency, value: str | None) -> Response:
        day = _day(value)
        if day is None:
            return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "date.invalid", "对账日期不正确")
        return JSONResponse(statement(state, agency, day))

    def make_signed(agency: Agency) -> Any:
        async def signed_statement(request: Request, date: str | None = None) -> Response:
            verdict = verify(
                state.secret,
                timestamp=request.headers.get(TIMESTAMP_HEADER),
                signature=request.headers.get(SIGNATURE_HEADER),
                body=b"",
                at=state.clock.now(),
            )
            if not verdict.ok:
                return error_response(HTTPStatus.UNAUTHORIZED, "signature.invalid", "签名无效")
            return answer(agency, date)

        signed_statement.__name__ = f"statement_{agency}"
        return signed_statement

    for agency, path in STATEMENT_PATHS.items():
        app.add_api_route(f"/{path}", make_signed(agency), methods=["GET"])

    @app.get("/_sim/statements/{agency}")
    async def sim_statement(agency: str, date: str | None = None) -> Response:
        try:
            which = Agency(agency)
        except ValueError:
            return error_response(HTTPStatus.NOT_FOUND, "agency.unknown", "未知的机构")
        return answer(which, date)

    @app.get("/_sim/statements-faults")
    async def get_faults() -> dict[str, Any]:
        return {"items": [asdict(f) for f in state.statement_faults.all()]}

    @app.post("/_sim/statements-faults")
    async def add_faults(request: Request) -> Response:
        try:
            for item in await json_list(request, of="faults"):
                state.statement_faults.add(**item)
        except (ValueError, TypeError) as exc:
            return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "faults.invalid", str(exc)[:200])
        return JSONResponse({"items": [asdict(f) for f in state.statement_faults.all()]})

    @app.delete("/_sim/statements-faults")
    async def clear_faults() -> dict[str, Any]:
        state.statement_faults.clear()
        return {"items": []}
