"""HRSS (人社, social security agency): receives approved pension and unit refunds."""

from __future__ import annotations

from typing import Any, Protocol

from .base import AgencyResult, HttpAgency


class Hrss(Protocol):
    name: str

    def submit_refund(
        self, request_id: str, payload: dict[str, Any], *, attempt: int = 1
    ) -> AgencyResult:
        """Hand over a refund; answers the booking (accepted / rejected / received)."""
        ...

    def query(self, request_id: str) -> AgencyResult | None: ...

    def close(self) -> None: ...


class HrssClient(HttpAgency):
    name = "hrss"
    path = "hrss/refunds"

    def submit_refund(
        self, request_id: str, payload: dict[str, Any], *, attempt: int = 1
    ) -> AgencyResult:
        return self._submit(request_id, payload, attempt=attempt)
