"""One module per outside system, each behind a small Protocol; the simulators in simulator/."""

from __future__ import annotations

from typing import Any

import httpx

from .bank import BankClient
from .base import AgencyError, AgencyResult, AgencyTimeout
from .hrss import HrssClient
from .medical_security import MedicalSecurityClient

__all__ = ["AgencyError", "AgencyResult", "AgencyTimeout", "build_adapters", "submit"]

# Which method of an agency's adapter sends a new request.
_SUBMIT = {
    "hrss": "submit_refund",
    "medical_security": "submit_verification",
    "bank": "submit_payout",
}


def submit(
    adapter: Any, agency: str, request_id: str, payload: dict[str, Any], *, attempt: int
) -> AgencyResult:
    return getattr(adapter, _SUBMIT[agency])(request_id, payload, attempt=attempt)


def build_adapters(
    settings: Any,
    *,
    base_url: str | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Any = None,
) -> dict[str, Any]:
    """HTTP adapters for every agency at `base_url` (default settings.agency_url). `clock`
    stamps the signatures (default: the system clock, which is what the agencies compare to)."""
    url = base_url or settings.agency_url
    if not url:
        raise ValueError(
            "SIREFUND_AGENCY_URL is not set: the worker does not know where the agencies are"
        )
    secret = settings.resolved_callback_secret()
    timeout = settings.agency_timeout_seconds
    adapters: dict[str, Any] = {}
    for cls in (HrssClient, MedicalSecurityClient, BankClient):
        client = None
        if transport is not None:
            client = httpx.Client(
                base_url=url.rstrip("/"), timeout=httpx.Timeout(timeout), transport=transport
            )
        adapters[cls.name] = cls(
            url, secret=secret, timeout_seconds=timeout, client=client, clock=clock
        )
    return adapters
