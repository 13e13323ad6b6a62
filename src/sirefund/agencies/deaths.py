"""The death registry of HRSS / the medical security bureau (死亡登记查询), which 继承人代办
asks synchronously when an heir claims (services/heir_claims.py), signed JSON over HTTP like
the other agencies. It implements services.ports.DeathRegistry.

    POST {SIREFUND_AGENCY_URL}/hrss/deaths/checks {id_number, name, death_date}
        -> 200 {"confirmed": bool, "mismatch": null | "not_found" | "name" | "death_date"}

It never logs the ID number.
"""

from __future__ import annotations

from datetime import date

from ..clock import Clock
from ..config import Settings
from ..domain.errors import Unavailable
from ..domain.heirs import DeathConfirmation, Mismatch
from .realname import _SignedJson

DEATHS_PATH = "/hrss/deaths/checks"


def registry_unavailable() -> Unavailable:
    return Unavailable("death_registry.unavailable", "人社部门死亡登记查询暂不可用，请稍后再试")


class HttpDeathRegistry(_SignedJson):
    """services.ports.DeathRegistry over HTTP."""

    def confirm_death(self, *, id_number: str, name: str, death_date: date) -> DeathConfirmation:
        unavailable = registry_unavailable()
        response = self._post(
            DEATHS_PATH,
            {"id_number": id_number, "name": name, "death_date": death_date.isoformat()},
            unavailable=unavailable,
        )
        try:
            data = response.json()
            confirmed = data["confirmed"] is True
            mismatch = None if confirmed else Mismatch(data.get("mismatch") or "not_found")
        except (ValueError, KeyError, TypeError):
            raise unavailable from None
        return DeathConfirmation(confirmed=confirmed, mismatch=mismatch)


def build_death_registry(
    settings: Settings, *, clock: Clock | None = None
) -> HttpDeathRegistry | None:
    """The death registry at the agencies' base (SIREFUND_AGENCY_URL); None when not
    configured (claims then wait in pending_verification until it answers)."""
    if not settings.agency_url:
        return None
    return HttpDeathRegistry(
        settings.agency_url,
        secret=settings.resolved_callback_secret(),
        timeout_seconds=settings.agency_timeout_seconds,
        clock=clock,
    )
