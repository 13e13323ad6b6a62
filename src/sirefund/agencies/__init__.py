"""How we reach the outside systems (HRSS, medical security, the bank): one HTTP adapter
class parametrised by agency (base.py), and the simulators (simulator/)."""

from __future__ import annotations

from ..clock import Clock
from ..config import Settings
from ..domain.agencies import Agency
from .base import AgencyAdapter, AgencyError, AgencyTimeout, HttpAgency
from .deaths import HttpDeathRegistry, build_death_registry
from .realname import HttpIdentityCheck, HttpSmsGateway, build_realname_adapters

__all__ = [
    "AgencyAdapter",
    "AgencyError",
    "AgencyTimeout",
    "HttpAgency",
    "HttpDeathRegistry",
    "HttpIdentityCheck",
    "HttpSmsGateway",
    "build_adapters",
    "build_death_registry",
    "build_realname_adapters",
]


def build_adapters(
    settings: Settings,
    *,
    clock: Clock | None = None,
) -> dict[Agency, AgencyAdapter]:
    """HTTP adapters for every agency at settings.agency_url. `clock` stamps the signatures
    (default: the system clock, which is what the agencies compare to)."""
    url = settings.agency_url
    if not url:
        raise ValueError(
            "SIREFUND_AGENCY_URL is not set: the worker does not know where the agencies are"
        )
    secret = settings.resolved_callback_secret()
    timeout = settings.agency_timeout_seconds
    return {
        agency: HttpAgency(agency, url, secret=secret, timeout_seconds=timeout, clock=clock)
        for agency in Agency
    }
