"""Simulators of HRSS, the medical security bureau and the bank, speaking the protocol of
agencies/base.py: `sirefund simulate-agencies`, or mounted under /_agencies by
`sirefund serve --simulate-agencies`, and run by the tests on a real port.

They keep their own state (in memory, behind a lock, for the life of the process; a test can
hand the same `SimulatorState` to a restarted server), book each request id once — the same
request id twice is the same booking — answer queries, and send signed callbacks to our
/api/v1/callbacks/{agency} from a background thread, retrying while we are unreachable.
By default everything succeeds: HRSS accepts, medical security verifies (核验通过) and the
bank pays after a short delay.

Tests script faults with `Script.add(...)` or `POST /_sim/script`; each rule applies to the
next `times` matching requests (None: until cleared):

    reject                  answer 422: a permanent refusal, nothing booked
    error                   answer `status_code` (500): nothing booked
    hang                    book, then answer only after `seconds` (past the caller's timeout)
    drop                    book, then drop the answer: `mode` "close" breaks the connection
                            mid-response, "503" claims to be unavailable
    decline                 book with a negative decision (HRSS rejected, 核验不通过, bank failed)
    no_callback             book, send no callback (only a query finds the result)
    duplicate_callbacks     send the result callback `count` times
    out_of_order_callbacks  send the final result first, then the earlier "received"

The bank also keeps accounts (accounts.py, `POST /_sim/accounts`): a payout to a known account
whose holder is not the payee, or to a closed or frozen one, is booked as failed with the
bank's reason (户名与账号不符 / 账户已销户 / 账户冻结); an unknown account number is paid.

Test-only endpoints: GET /_sim/bookings, GET /_sim/requests, GET /_sim/callbacks,
POST|DELETE /_sim/script, GET|POST /_sim/accounts. Daily statements (对账文件) and the faults a
test scripts into them: statements.py.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

import anyio
import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ...clock import CHINA_TZ, Clock, SystemClock
from ...config import Settings
from ...domain.agencies import POSITIVE, RECEIVED, Agency
from ...signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers, verify
from ..base import ATTEMPT_HEADER, PATHS
from .accounts import AccountRegistry
from .control import error_response
from .realname import RealNameState, add_death_routes, add_realname_routes
from .statements import StatementFaults, add_statement_routes, booked_payee

log = logging.getLogger("sirefund.simulator")

NEGATIVE = {Agency.HRSS: "rejected", Agency.MEDICAL_SECURITY: "failed", Agency.BANK: "failed"}
DECLINE_REASONS = {
    Agency.HRSS: "参保信息与缴费记录不符",
    Agency.MEDICAL_SECURITY: "参保人已参加职工医保",
    Agency.BANK: "账户已销户",
}
PREFIX = {Agency.HRSS: "HRSS", Agency.MEDICAL_SECURITY: "YB", Agency.BANK: "BANK"}
ACTIONS = frozenset(
    {
        "reject",
        "error",
        "hang",
        "drop",
        "decline",
        "no_callback",
        "duplicate_callbacks",
        "out_of_order_callbacks",
    }
)
DEFAULT_DELAYS = {
    Agency.HRSS.value: 0.0,
    Agency.MEDICAL_SECURITY.value: 0.0,
    Agency.BANK.value: 0.05,
}
# The answer `reject` and `error` give unless the rule names another.
REJECT_STATUS = HTTPStatus.UNPROCESSABLE_ENTITY
ERROR_STATUS = HTTPStatus.INTERNAL_SERVER_ERROR
# A callback answered with a server error is tried again; anything else was received.
_CALLBACK_RETRY_FROM = HTTPStatus.INTERNAL_SERVER_ERROR
_SCRIPT_ERROR_MAX_CHARS = 200


# --------------------------------------------------------------------------- script


@dataclass
class Rule:
    action: str
    agency: str = "*"
    op: str = "submit"  # submit | query | *
    times: int | None = 1
    status_code: int | None = None
    seconds: float = 0.0
    mode: str = "close"
    count: int = 2
    reason: str | None = None
    application_id: int | None = None
    used: int = 0

    def matches(self, agency: str, op: str, application_id: int | None) -> bool:
        return (
            self.agency in ("*", agency)
            and self.op in ("*", op)
            and (self.application_id is None or self.application_id == application_id)
            and (self.times is None or self.used < self.times)
        )


class Script:
    """What the simulators do besides succeeding. Thread-safe; tests change it while the
    server runs."""

    def __init__(
        self,
        rules: list[Rule] | None = None,
        *,
        delays: dict[str, float] | None = None,
        callbacks: bool = True,
    ) -> None:
        self._lock = threading.Lock()
        self.rules: list[Rule] = list(rules or [])
        self.delays = {**DEFAULT_DELAYS, **(delays or {})}
        self.callbacks = callbacks

    def add(self, action: str, **kwargs: Any) -> Rule:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        rule = Rule(action=action, **kwargs)
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def set_delay(self, agency: str, seconds: float) -> None:
        with self._lock:
            self.delays[agency] = seconds

    def take(self, agency: str, op: str, application_id: int | None) -> Rule | None:
        """The first rule for this request, used up by one."""
        with self._lock:
            for rule in self.rules:
                if rule.matches(agency, op, application_id):
                    rule.used += 1
                    return rule
        return None

    def update(self, data: dict[str, Any]) -> None:
        """From POST /_sim/script: {"rules": [...], "delays": {...}, "callbacks": bool,
        "replace": bool}."""
        rules = [Rule(**{k: v for k, v in r.items() if k != "used"}) for r in data.get("rules", [])]
        for rule in rules:
            if rule.action not in ACTIONS:
                raise ValueError(f"unknown action {rule.action!r}")
        with self._lock:
            if data.get("replace", False):
                self.rules.clear()
            self.rules.extend(rules)
            self.delays.update({k: float(v) for k, v in (data.get("delays") or {}).items()})
            if "callbacks" in data:
                self.callbacks = bool(data["callbacks"])

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rules": [asdict(r) for r in self.rules],
                "delays": dict(self.delays),
                "callbacks": self.callbacks,
            }


# --------------------------------------------------------------------------- state


@dataclass
class Booking:
    agency: Agency
    request_id: str
    booking_id: str
    application_id: int | None
    amount_fen: int | None
    created_at: datetime
    decide_at: float  # time.monotonic() when the decision is made
    final_status: str
    reason: str | None
    decided_at: datetime
    # What the daily statement shows (statements.py): whom it pays, into which account.
    payee: str | None = None
    account_no: str | None = None

    def status(self, now: float | None = None) -> str:
        return self.final_status if (now or time.monotonic()) >= self.decide_at else RECEIVED

    def wire(self, status: str | None = None) -> dict[str, Any]:
        status = status or self.status()
        final = status != RECEIVED
        return {
            "request_id": self.request_id,
            "booking_id": self.booking_id,
            "status": status,
            "reason": self.reason if final else None,
            "decided_at": self.decided_at.isoformat() if final else None,
            "paid_on": self.decided_at.astimezone(CHINA_TZ).date().isoformat()
            if final and status == POSITIVE[Agency.BANK]
            else None,
        }

    def view(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "request_id": self.request_id,
            "booking_id": self.booking_id,
            "application_id": self.application_id,
            "amount_fen": self.amount_fen,
            "status": self.status(),
            "created_at": self.created_at.isoformat(),
        }


class CallbackSender:
    """Delivers callbacks in the background, in due order, retrying while we are down."""

    def __init__(self, url: str, secret: str, clock: Clock, *, max_tries: int = 40) -> None:
        self.url = url.rstrip("/")
        self._secret = secret
        self._clock = clock
        self._max_tries = max_tries
        self._heap: list[tuple[float, int, str, dict[str, Any], int]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._busy = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=5.0)
        self.delivered: list[dict[str, Any]] = []

    def schedule(self, agency: str, payload: dict[str, Any], *, due: float) -> None:
        with self._cond:
            heapq.heappush(self._heap, (due, next(self._seq), agency, payload, 0))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="simulator-callbacks", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._heap) + self._busy

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._client.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout=wait)
                if self._closed:
                    return
                _, seq, agency, payload, tries = heapq.heappop(self._heap)
                self._busy += 1
            try:
                done = self._post(agency, payload)
            finally:
                with self._cond:
                    self._busy -= 1
                    if not done and tries + 1 < self._max_tries:
                        backoff = min(0.05 * 2**tries, 2.0)
                        heapq.heappush(
                            self._heap,
                            (time.monotonic() + backoff, seq, agency, payload, tries + 1),
                        )

    def _post(self, agency: str, payload: dict[str, Any]) -> bool:
        body = json.dumps({**payload, "agency": agency}, ensure_ascii=False).encode()
        headers = signed_headers(self._secret, body, at=self._clock.now())
        headers["Content-Type"] = "application/json"
        try:
            response = self._client.post(f"{self.url}/{agency}", content=body, headers=headers)
        except httpx.HTTPError:
            return False  # we are down: try again later
        record = {
            "agency": agency,
            "request_id": payload["request_id"],
            "status": payload["status"],
            "http_status": response.status_code,
        }
        with self._cond:
            self.delivered.append(record)
        if response.status_code >= _CALLBACK_RETRY_FROM:
            return False
        if response.status_code != HTTPStatus.OK:
            log.warning(
                "callback %s %s refused: HTTP %s", agency, payload["status"], response.status_code
            )
        return True


class SimulatorState:
    """Bookings, the log of requests received, the script and the callback sender."""

    def __init__(
        self,
        *,
        secret: str,
        callback_url: str | None = None,
        script: Script | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.secret = secret
        self.clock: Clock = clock or SystemClock()
        self.script = script or Script()
        self.sender = CallbackSender(callback_url, secret, self.clock) if callback_url else None
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.bookings: dict[tuple[str, str], Booking] = {}
        self.requests: list[dict[str, Any]] = []
        self.accounts = AccountRegistry()
        self.statement_faults = StatementFaults()

    def log_request(
        self,
        agency: Agency,
        op: str,
        request_id: str,
        attempt: str | None,
        application_id: int | None,
    ) -> None:
        with self._lock:
            self.requests.append(
                {
                    "agency": agency,
                    "op": op,
                    "request_id": request_id,
                    "attempt": int(attempt) if attempt and attempt.isdigit() else None,
                    "application_id": application_id,
                    "at": self.clock.now().isoformat(),
                }
            )

    def book(self, agency: Agency, body: dict[str, Any], rule: Rule | None) -> Booking:
        """The booking for this request id: made on first sight, the same one ever after."""
        request_id = body["request_id"]
        with self._lock:
            existing = self.bookings.get((agency, request_id))
            if existing is not None:
                return existing
            delay = float(self.script.delays.get(agency, 0.0))
            declined = rule is not None and rule.action == "decline"
            refusal = self.accounts.refusal(body) if agency == Agency.BANK else None
            now = self.clock.now()
            booking = Booking(
                agency=agency,
                request_id=request_id,
                booking_id=f"{PREFIX[agency]}{next(self._seq):08d}",
                application_id=_int(body.get("application_id")),
                amount_fen=_int(body.get("amount_fen")),
                created_at=now,
                decide_at=time.monotonic() + delay,
                final_status=NEGATIVE[agency] if declined or refusal else POSITIVE[agency],
                reason=((rule.reason if rule else None) or DECLINE_REASONS[agency])
                if declined
                else refusal,
                decided_at=now + timedelta(seconds=delay),
                **booked_payee(body),
            )
            self.bookings[(agency, request_id)] = booking
        self._schedule_callbacks(booking, rule)
        return booking

    def _schedule_callbacks(self, booking: Booking, rule: Rule | None) -> None:
        if self.sender is None or not self.script.callbacks:
            return
        action = rule.action if rule else None
        if action == "no_callback":
            return
        final = booking.wire(booking.final_status)
        due = booking.decide_at
        if action == "out_of_order_callbacks":
            sequence = [final, booking.wire(RECEIVED)]
        elif action == "duplicate_callbacks":
            sequence = [final] * max(1, rule.count if rule else 2)
        else:
            sequence = [final]
        for i, payload in enumerate(sequence):
            self.sender.schedule(booking.agency, payload, due=due + i * 0.001)

    def find(self, agency: Agency, request_id: str) -> Booking | None:
        with self._lock:
            return self.bookings.get((agency, request_id))

    def bookings_of(self, agency: Agency) -> list[Booking]:
        with self._lock:
            return [b for (a, _), b in self.bookings.items() if a == agency]

    def booking_views(self, agency: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            items = list(self.bookings.values())
        return [b.view() for b in items if agency is None or b.agency == agency]

    def request_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.requests)

    def close(self) -> None:
        if self.sender is not None:
            self.sender.close()


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- app


class _DroppedResponse(Response):
    """Starts a response and breaks off mid-body: the caller cannot tell what happened."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"request_id": ', "more_body": True})
        # Returning without finishing the body makes the server close the connection.


def _parse_request(body: bytes) -> dict[str, Any] | None:
    """A request body with a non-empty string request id, or None."""
    try:
        data = json.loads(body)
        request_id = data["request_id"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(data, dict) or not isinstance(request_id, str) or not request_id:
        return None
    return data


def _scripted_failure(rule: Rule | None) -> Response | None:
    """The answer a `reject` or `error` rule gives instead of booking, if that is the rule."""
    if rule is not None and rule.action == "reject":
        return error_response(
            rule.status_code or REJECT_STATUS, "agency.request_refused", rule.reason or "请求被拒绝"
        )
    if rule is not None and rule.action == "error":
        return error_response(rule.status_code or ERROR_STATUS, "agency.unavailable", "系统繁忙")
    return None


def create_simulator_app(
    settings: Settings,
    *,
    callback_url: str | None,
    script: Script | None = None,
    state: SimulatorState | None = None,
    clock: Clock | None = None,
    realname: RealNameState | None = None,
) -> FastAPI:
    """The three agencies in one app, with the SMS gateway and the real-name check
    (realname.py). Pass `state` (and `realname`) to keep what they know across a restart."""
    state = state or SimulatorState(
        secret=settings.resolved_callback_secret(),
        callback_url=callback_url,
        script=script,
        clock=clock,
    )
    app = FastAPI(title="sirefund agency simulators (人社 / 医保 / 银行)", version="1.0")
    app.state.simulator = state

    def _signed(request: Request, body: bytes) -> bool:
        verdict = verify(
            state.secret,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
            body=body,
            at=state.clock.now(),
        )
        return verdict.ok

    def make_submit(agency: Agency) -> Callable[[Request], Awaitable[Response]]:
        async def submit(request: Request) -> Response:
            body = await request.body()
            if not _signed(request, body):
                return error_response(HTTPStatus.UNAUTHORIZED, "signature.invalid", "签名无效")
            data = _parse_request(body)
            if data is None:
                return error_response(HTTPStatus.BAD_REQUEST, "request.malformed", "请求格式不正确")
            application_id = _int(data.get("application_id"))
            state.log_request(
                agency,
                "submit",
                data["request_id"],
                request.headers.get(ATTEMPT_HEADER),
                application_id,
            )
            rule = state.script.take(agency, "submit", application_id)
            failure = _scripted_failure(rule)
            if failure is not None:
                return failure
            booking = state.book(agency, data, rule)
            if rule is not None and rule.action == "hang":
                await anyio.sleep(rule.seconds)
            if rule is not None and rule.action == "drop":
                if rule.mode == "503":
                    return error_response(
                        HTTPStatus.SERVICE_UNAVAILABLE, "agency.unavailable", "系统繁忙"
                    )
                return _DroppedResponse()
            return JSONResponse(booking.wire())

        submit.__name__ = f"submit_{agency}"
        return submit

    def make_query(agency: Agency) -> Callable[[str, Request], Awaitable[Response]]:
        async def query(request_id: str, request: Request) -> Response:
            if not _signed(request, b""):
                return error_response(HTTPStatus.UNAUTHORIZED, "signature.invalid", "签名无效")
            booking = state.find(agency, request_id)
            state.log_request(
                agency, "query", request_id, None, booking.application_id if booking else None
            )
            rule = state.script.take(agency, "query", booking.application_id if booking else None)
            if rule is not None and rule.action == "error":
                return error_response(
                    rule.status_code or ERROR_STATUS, "agency.unavailable", "系统繁忙"
                )
            if rule is not None and rule.action == "hang":
                await anyio.sleep(rule.seconds)
            if booking is None:
                return error_response(HTTPStatus.NOT_FOUND, "request.not_found", "无此请求")
            return JSONResponse(booking.wire())

        query.__name__ = f"query_{agency}"
        return query

    for agency, path in PATHS.items():
        app.add_api_route(f"/{path}", make_submit(agency), methods=["POST"])
        app.add_api_route(f"/{path}/{{request_id}}", make_query(agency), methods=["GET"])
    _add_control_routes(app, state)
    if realname is None:
        realname = RealNameState()
        if settings.sim_identities_file is not None:
            realname.load_identities(settings.sim_identities_file)
    app.state.realname = realname
    add_realname_routes(app, realname, secret=state.secret, clock=state.clock)
    add_death_routes(app, realname, secret=state.secret, clock=state.clock)
    add_statement_routes(app, state)
    return app


def _add_control_routes(app: FastAPI, state: SimulatorState) -> None:
    """The test-only /_sim endpoints: what was booked, asked and called back; the script."""

    @app.get("/_sim/bookings")
    async def bookings(agency: str | None = None) -> dict[str, Any]:
        return {"items": state.booking_views(agency)}

    @app.get("/_sim/requests")
    async def requests() -> dict[str, Any]:
        return {"items": state.request_log()}

    @app.get("/_sim/callbacks")
    async def callbacks() -> dict[str, Any]:
        sender = state.sender
        return {
            "items": list(sender.delivered) if sender else [],
            "pending": sender.pending() if sender else 0,
        }

    @app.get("/_sim/script")
    async def get_script() -> dict[str, Any]:
        return state.script.to_dict()

    @app.post("/_sim/script")
    async def set_script(request: Request) -> Response:
        try:
            state.script.update(json.loads(await request.body()))
        except (ValueError, TypeError) as exc:
            return error_response(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "script.invalid",
                str(exc)[:_SCRIPT_ERROR_MAX_CHARS],
            )
        return JSONResponse(state.script.to_dict())

    @app.delete("/_sim/script")
    async def clear_script() -> dict[str, Any]:
        state.script.clear()
        return state.script.to_dict()

    @app.get("/_sim/accounts")
    async def list_accounts() -> dict[str, Any]:
        return {"items": [a.model_dump() for a in state.accounts.all()]}

    @app.post("/_sim/accounts")
    async def add_accounts(request: Request) -> Response:
        """[{account_no, holder_name, holder_id, state: open|closed|frozen}]: added or
        replaced."""
        try:
            added = state.accounts.register(json.loads(await request.body()))
        except ValueError as exc:
            return error_response(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "accounts.invalid",
                str(exc)[:_SCRIPT_ERROR_MAX_CHARS],
            )
        return JSONResponse({"items": [a.model_dump() for a in added]})

    @app.get("/_sim/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}


__all__ = [
    "Booking",
    "RealNameState",
    "Rule",
    "Script",
    "SimulatorState",
    "create_simulator_app",
]
