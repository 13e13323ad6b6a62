"""The bank / treasury (银行 / 国库): pays refunds out to the applicant's account (退付)."""

from __future__ import annotations

from typing import Any, Protocol

from .base import AgencyResult, HttpAgency


class Bank(Protocol):
    name: str

    def submit_payout(
        self, request_id: str, payload: dict[str, Any], *, attempt: int = 1
    ) -> AgencyResult:
        """Order a payout; answers the booking (paid / failed / received)."""
        ...

    def query(self, request_id: str) -> AgencyResult | None: ...

    def close(self) -> None: ...


class BankClient(HttpAgency):
    name = "bank"
    path = "bank/payouts"

    def submit_payout(
        self, request_id: str, payload: dict[str, Any], *, attempt: int = 1
    ) -> AgencyResult:
        return self._submit(request_id, payload, attempt=attempt)
