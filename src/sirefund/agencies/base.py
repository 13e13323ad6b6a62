"""The adapter every agency is reached through: signed JSON over HTTP with timeouts, and the
errors that say whether a retry can help. HRSS, medical security and the bank speak the same
protocol at different paths, so one class serves all three (`HttpAgency(agency, ...)`).

The wire protocol (spoken by the simulators in agencies/simulator/ as well):

    POST {base}/{path}            body: the request, with "request_id"   -> 200 booking
    GET  {base}/{path}/{request_id}                                       -> 200 booking | 404
    GET  {base}/{agency}/statements?date=YYYY-MM-DD       -> 200 {"rows": [statement line]}
    booking: {"request_id", "booking_id", "status", "reason", "decided_at", "paid_on"}

Every request and every callback is signed (signing.py). An agency must treat a request id
it has already seen as the same request: it answers with the booking it made the first
time. That is what makes resending after a transient error safe.

The agencies, their statuses and the result they report are domain concepts
(domain/agencies.py); this package is only how we talk to them.
"""

from __future__ import annotations

import json
from datetime import date
from http import HTTPStatus
from typing import Any, Protocol

import httpx

from ..clock import Clock, SystemClock
from ..domain.agencies import STATUSES, Agency, AgencyResult
from ..domain.reconciliation import StatementRow
from ..signing import signed_headers

ATTEMPT_HEADER = "X-Sirefund-Attempt"

# Where each agency takes requests, under the agencies' base URL.
PATHS = {
    Agency.HRSS: "hrss/refunds",
    Agency.MEDICAL_SECURITY: "medical-security/verifications",
    Agency.BANK: "bank/payouts",
}

# Where each agency serves its daily statement (对账文件): GET ...?date=YYYY-MM-DD.
STATEMENT_PATHS = {
    Agency.HRSS: "hrss/statements",
    Agency.MEDICAL_SECURITY: "medical-security/statements",
    Agency.BANK: "bank/statements",
}

# Answers that say "not now": nothing was booked, and a later try may pass.
_RETRYABLE = frozenset(
    {HTTPStatus.REQUEST_TIMEOUT, HTTPStatus.TOO_EARLY, HTTPStatus.TOO_MANY_REQUESTS}
)
_ERROR_CODE_MAX_CHARS = 60
_STATUS_SHOWN_CHARS = 20


class AgencyError(Exception):
    """The agency did not take the request. `permanent` says whether sending it again can
    help: a refused request (4xx) stays refused; an outage (5xx, no connection) may pass."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class AgencyTimeout(Exception):
    """The request left us but no answer came back (read timeout, connection dropped after
    sending). The agency may or may not have booked it: this is not a failure, the outcome is
    unknown, and it is settled by querying the same request id, never by a new request."""


class AgencyAdapter(Protocol):
    """What the worker needs of an agency: send a request, ask about one, let go."""

    @property
    def agency(self) -> Agency: ...

    def submit(self, request_id: str, payload: dict[str, Any], *, attempt: int = 1) -> AgencyResult:
        """Send a request; answers the booking (its status may still be "received")."""
        ...

    def query(self, request_id: str) -> AgencyResult | None:
        """The agency's booking for `request_id`, or None if it never received it."""
        ...

    def fetch_statement(self, day: date) -> list[StatementRow]:
        """The agency's statement (对账文件) of `day`: every booking it made that day."""
        ...

    def close(self) -> None: ...


class HttpAgency:
    """An agency over signed JSON and httpx, raising the errors above."""

    def __init__(
        self,
        agency: Agency,
        base_url: str,
        *,
        secret: str,
        timeout_seconds: float,
        clock: Clock | None = None,
    ) -> None:
        self._agency = agency
        self._path = PATHS[agency]
        self._secret = secret
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout_seconds)
        )
        # Signatures carry real time: the agency compares them with its own clock.
        self._clock: Clock = clock or SystemClock()

    @property
    def agency(self) -> Agency:
        return self._agency

    def close(self) -> None:
        self._client.close()

    def submit(self, request_id: str, payload: dict[str, Any], *, attempt: int = 1) -> AgencyResult:
        body = {**payload, "request_id": request_id}
        return self._result(self._send("POST", f"/{self._path}", body=body, attempt=attempt))

    def query(self, request_id: str) -> AgencyResult | None:
        response = self._send("GET", f"/{self._path}/{request_id}", body=None, attempt=None)
        if response.status_code == HTTPStatus.NOT_FOUND:
            return None
        return self._result(response)

    def fetch_statement(self, day: date) -> list[StatementRow]:
        path = f"/{STATEMENT_PATHS[self._agency]}?date={day.isoformat()}"
        try:
            response = self._send("GET", path, body=None, attempt=None)
        except AgencyTimeout as exc:
            # Asking again is harmless: a statement is only read.
            raise AgencyError(str(exc), permanent=False) from None
        if response.status_code == HTTPStatus.NOT_FOUND:
            raise AgencyError(f"{self._agency.value} 无此日期的对账文件", permanent=True)
        try:
            data = response.json()
            return [StatementRow.from_wire(row) for row in data["rows"]]
        except (ValueError, KeyError, TypeError):
            raise AgencyError(f"{self._agency.value} 对账文件无法解析", permanent=False) from None

    # -- plumbing

    def _send(
        self, method: str, url: str, *, body: dict[str, Any] | None, attempt: int | None
    ) -> httpx.Response:
        """The 2xx answer (or a GET's 404: the agency never received that request id)."""
        name = self._agency.value
        content = (
            b""
            if body is None
            else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        )
        headers = signed_headers(self._secret, content, at=self._clock.now())
        headers["Content-Type"] = "application/json"
        if attempt is not None:
            headers[ATTEMPT_HEADER] = str(attempt)
        try:
            response = self._client.request(method, url, content=content, headers=headers)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing left us: safe to try again later.
            raise AgencyError(f"{name} 无法连接（{type(exc).__name__}）", permanent=False) from None
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            raise AgencyTimeout(f"{name} 无应答（{type(exc).__name__}）") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            # The connection broke after (part of) the request went out.
            raise AgencyTimeout(f"{name} 连接中断（{type(exc).__name__}）") from None
        except httpx.UnsupportedProtocol as exc:
            raise AgencyError(
                f"{name} 地址配置错误（{type(exc).__name__}）", permanent=True
            ) from None
        except httpx.TransportError as exc:
            # Anything else on the wire: we cannot tell whether it arrived.
            raise AgencyTimeout(f"{name} 传输错误（{type(exc).__name__}）") from None
        status = response.status_code
        if response.is_success or (method == "GET" and status == HTTPStatus.NOT_FOUND):
            return response
        detail = _error_code(response)
        retryable = status in _RETRYABLE or status >= HTTPStatus.INTERNAL_SERVER_ERROR
        raise AgencyError(f"{name} HTTP {status}{detail}", permanent=not retryable)

    def _result(self, response: httpx.Response) -> AgencyResult:
        name = self._agency.value
        try:
            result = AgencyResult.from_wire(response.json())
        except ValueError:
            # The agency answered 2xx but we cannot read it: whether it booked is unknown.
            raise AgencyTimeout(f"{name} 应答无法解析") from None
        if result.status not in STATUSES[self._agency]:
            raise AgencyTimeout(f"{name} 未知状态 {result.status[:_STATUS_SHOWN_CHARS]}")
        return result


def _error_code(response: httpx.Response) -> str:
    """The agency's error code, if it sent one (never the whole body: it may echo PII)."""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f" {str(code)[:_ERROR_CODE_MAX_CHARS]}"
