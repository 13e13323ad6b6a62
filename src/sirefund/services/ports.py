"""Ports: the outside services a use case calls synchronously, as Protocols. The adapters live
in agencies/ (HTTP, with simulators); the app factory and the runtime inject them, so neither
services nor web import agencies. An adapter that cannot reach its service raises
domain.errors.Unavailable (503)."""

from __future__ import annotations

from datetime import date
from typing import Protocol

from ..domain.heirs import DeathConfirmation


class SmsGateway(Protocol):
    """The SMS gateway (短信平台): sends one text message to one phone."""

    def send(self, *, phone: str, text: str, code: str) -> None:
        """Send `text` (which contains `code`, the template's parameter) to `phone`."""
        ...


class IdentityCheck(Protocol):
    """The real-name check (公安/运营商 实名核验)."""

    def phone_belongs_to(self, *, id_number: str, name: str, phone: str) -> bool:
        """Whether the carrier's real-name record of `phone` is this ID number and name."""
        ...


class DeathRegistry(Protocol):
    """What HRSS / the medical security bureau know of deaths (死亡登记), for 继承人代办."""

    def confirm_death(self, *, id_number: str, name: str, death_date: date) -> DeathConfirmation:
        """Whether the registry holds this person's death, under this name, on this date."""
        ...
