"""What every agency adapter shares: the errors that say whether a retry can help, the
result an agency reports, and signed JSON over HTTP with timeouts.

The wire protocol (spoken by the simulators in agencies/simulator/ as well):

    POST {base}/{path}            body: the request, with "request_id"   -> 200 booking
    GET  {base}/{path}/{request_id}                                       -> 200 booking | 404
    booking: {"request_id", "booking_id", "status", "reason", "decided_at", "paid_on"}

Every request and every callback is signed (signing.py). An agency must treat a request id
it has already seen as the same request: it answers with the booking it made the first
time. That is what makes resending after a transient error safe.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import httpx

from ..clock import SystemClock
from ..signing import signed_headers

ATTEMPT_HEADER = "X-Sirefund-Attempt"

# Statuses each agency reports. "received" means booked but not decided yet.
STATUSES = {
    "hrss": ("received", "accepted", "rejected"),
    "medical_security": ("received", "passed", "failed"),
    "bank": ("received", "paid", "failed"),
}
FINAL_STATUSES = {agency: frozenset(s[1:]) for agency, s in STATUSES.items()}
AGENCY_LABELS = {"hrss": "人社", "medical_security": "医保", "bank": "银行"}


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


@dataclass(frozen=True)
class AgencyResult:
    """What an agency says about one request id."""

    request_id: str
    status: str
    booking_id: str | None = None
    reason: str | None = None
    decided_at: datetime | None = None
    paid_on: date | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> AgencyResult:
        """Parse an answer or a callback body; ValueError if it is not one."""
        if not isinstance(data, dict):
            raise ValueError("not an object")  # noqa: TRY004 - callers catch ValueError for any bad body
        request_id, status = data.get("request_id"), data.get("status")
        if not isinstance(request_id, str) or not request_id or not isinstance(status, str):
            raise ValueError("request_id and status are required")
        decided_at = data.get("decided_at")
        paid_on = data.get("paid_on")
        reason = data.get("reason")
        return cls(
            request_id=request_id,
            status=status,
            booking_id=str(data["booking_id"]) if data.get("booking_id") is not None else None,
            reason=str(reason)[:200] if reason is not None else None,
            decided_at=datetime.fromisoformat(decided_at) if decided_at else None,
            paid_on=date.fromisoformat(paid_on) if paid_on else None,
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "booking_id": self.booking_id,
            "status": self.status,
            "reason": self.reason,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "paid_on": self.paid_on.isoformat() if self.paid_on else None,
        }


class Agency(Protocol):
    """The part every adapter has: asking about a request already sent."""

    name: str

    def query(self, request_id: str) -> AgencyResult | None:
        """The agency's booking for `request_id`, or None if it never received it."""
        ...

    def close(self) -> None: ...


class HttpAgency:
    """Signed JSON over httpx, with the errors above. Subclasses name the paths."""

    name = ""
    path = ""

    def __init__(
        self,
        base_url: str,
        *,
        secret: str,
        timeout_seconds: float,
        client: httpx.Client | None = None,
        clock: Any = None,
    ) -> None:
        self._secret = secret
        self._owns_client = client is None
        self._client = client or httpx.Client(
            base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout_seconds)
        )
        # Signatures carry real time: the agency compares them with its own clock.
        self._clock = clock or SystemClock()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def _submit(self, request_id: str, payload: dict[str, Any], *, attempt: int) -> AgencyResult:
        body = {**payload, "request_id": request_id}
        response = self._send("POST", f"/{self.path}", body=body, attempt=attempt)
        return self._result(response)

    def query(self, request_id: str) -> AgencyResult | None:
        response = self._send("GET", f"/{self.path}/{request_id}", body=None, attempt=None)
        if response is None:
            return None
        return self._result(response)

    # -- plumbing

    def _send(
        self, method: str, url: str, *, body: dict | None, attempt: int | None
    ) -> httpx.Response | None:
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
            raise AgencyError(
                f"{self.name} 无法连接（{type(exc).__name__}）", permanent=False
            ) from None
        except (httpx.ReadTimeout, httpx.WriteTimeout) as exc:
            raise AgencyTimeout(f"{self.name} 无应答（{type(exc).__name__}）") from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            # The connection broke after (part of) the request went out.
            raise AgencyTimeout(f"{self.name} 连接中断（{type(exc).__name__}）") from None
        except httpx.UnsupportedProtocol as exc:
            raise AgencyError(
                f"{self.name} 地址配置错误（{type(exc).__name__}）", permanent=True
            ) from None
        except httpx.TransportError as exc:
            # Anything else on the wire: we cannot tell whether it arrived.
            raise AgencyTimeout(f"{self.name} 传输错误（{type(exc).__name__}）") from None
        status = response.status_code
        if method == "GET" and status == 404:
            return None
        if 200 <= status < 300:
            return response
        detail = _error_code(response)
        if status in (408, 425, 429) or status >= 500:
            raise AgencyError(f"{self.name} HTTP {status}{detail}", permanent=False)
        raise AgencyError(f"{self.name} HTTP {status}{detail}", permanent=True)

    def _result(self, response: httpx.Response) -> AgencyResult:
        try:
            result = AgencyResult.from_wire(response.json())
        except ValueError:
            # The agency answered 2xx but we cannot read it: whether it booked is unknown.
            raise AgencyTimeout(f"{self.name} 应答无法解析") from None
        if result.status not in STATUSES[self.name]:
            raise AgencyTimeout(f"{self.name} 未知状态 {result.status[:20]}")
        return result


def _error_code(response: httpx.Response) -> str:
    """The agency's error code, if it sent one (never the whole body: it may echo PII)."""
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return ""
    return f" {str(code)[:60]}"
