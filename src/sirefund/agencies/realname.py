"""The adapters registration calls synchronously: the SMS gateway (短信平台) and the real-name
check (公安/运营商 实名核验), both signed JSON over HTTP like the other agencies (base.py).
They implement the ports of services/ports.py; runtime.py hands them to the app.

    POST {SIREFUND_SMS_URL}/sms/messages         {phone, text, code}        -> 202
    POST {SIREFUND_IDENTITY_URL}/identity/checks {id_number, name, phone}   -> 200 {"match": bool}

Neither logs the phone, the ID number or the code.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..clock import Clock, SystemClock
from ..config import Settings
from ..domain.errors import Unavailable
from ..signing import signed_headers

SMS_PATH = "/sms/messages"
IDENTITY_PATH = "/identity/checks"


class _SignedJson:
    def __init__(
        self, base_url: str, *, secret: str, timeout_seconds: float, clock: Clock | None = None
    ) -> None:
        self._secret = secret
        self._clock: Clock = clock or SystemClock()
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout_seconds)
        )

    def close(self) -> None:
        self._client.close()

    def _post(self, path: str, body: dict[str, Any], *, unavailable: Unavailable) -> httpx.Response:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = signed_headers(self._secret, content, at=self._clock.now())
        headers["Content-Type"] = "application/json"
        try:
            response = self._client.post(path, content=content, headers=headers)
        except httpx.HTTPError:
            raise unavailable from None
        if not response.is_success:
            raise unavailable
        return response


class HttpSmsGateway(_SignedJson):
    """services.ports.SmsGateway over HTTP."""

    def send(self, *, phone: str, text: str, code: str) -> None:
        self._post(
            SMS_PATH,
            {"phone": phone, "text": text, "code": code},
            unavailable=Unavailable("sms.unavailable", "短信发送失败，请稍后再试", "phone"),
        )


class HttpIdentityCheck(_SignedJson):
    """services.ports.IdentityCheck over HTTP."""

    def phone_belongs_to(self, *, id_number: str, name: str, phone: str) -> bool:
        unavailable = Unavailable("identity.unavailable", "实名核验服务暂不可用，请稍后再试")
        response = self._post(
            IDENTITY_PATH,
            {"id_number": id_number, "name": name, "phone": phone},
            unavailable=unavailable,
        )
        try:
            match = response.json()["match"]
        except (ValueError, KeyError, TypeError):
            raise unavailable from None
        return match is True


def build_realname_adapters(
    settings: Settings, *, clock: Clock | None = None
) -> tuple[HttpSmsGateway | None, HttpIdentityCheck | None]:
    """The SMS gateway and the real-name check at SIREFUND_SMS_URL / SIREFUND_IDENTITY_URL
    (None where not configured: the app then answers 503 for codes and registration)."""
    secret = settings.resolved_callback_secret()
    timeout = settings.agency_timeout_seconds
    sms = (
        HttpSmsGateway(settings.sms_url, secret=secret, timeout_seconds=timeout, clock=clock)
        if settings.sms_url
        else None
    )
    check = (
        HttpIdentityCheck(
            settings.identity_url, secret=secret, timeout_seconds=timeout, clock=clock
        )
        if settings.identity_url
        else None
    )
    return sms, check
