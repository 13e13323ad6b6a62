"""The medical security bureau (医保部门): verifies approved medical refunds (核验)."""

from __future__ import annotations

from typing import Any, Protocol

from .base import AgencyResult, HttpAgency


class MedicalSecurity(Protocol):
    name: str

    def submit_verification(
        self, request_id: str, payload: dict[str, Any], *, attempt: int = 1
    ) -> AgencyResult:
        """Ask for verification; answers the booking (passed / failed / received)."""
        ...

    def query(self, request_id: str) -> AgencyResult | None: ...

    def close(self) -> None: ...


class MedicalSecurityClient(HttpAgency):
    name = "medical_security"
    path = "medical-security/verifications"

    def submit_verification(
        self, request_id: str, payload: dict[str, Any], *, attempt: int = 1
    ) -> AgencyResult:
        return self._submit(request_id, payload, attempt=attempt)
