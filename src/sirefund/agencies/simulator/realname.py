"""Simulators of the SMS gateway and the real-name check (agencies/realname.py's protocol).

The SMS simulator sends nothing: it keeps every message, newest first, for the tests and the
demo's operator (`GET /_sim/sms?phone=`, and the demo page /_agencies/_sim/sms/page). The
identity simulator answers from its own registry of {id_number, name, phone}: loaded from a
CSV file (`sirefund generate` writes identities.csv; SIREFUND_SIM_IDENTITIES_FILE) and added
to by `POST /_sim/identities`. A phone belongs to a person when the registry has exactly that
ID number, name and phone.

The death registry of HRSS / medical security (agencies/deaths.py's protocol) answers from
`POST /_sim/deaths` `[{id_number, death_date, name?}]` and from the identities file's
optional `death_date` column: a death is confirmed when the ID number is registered dead on
exactly that date under that name (the entry's, else the identity registry's).
"""

from __future__ import annotations

import csv
import html
import json
import threading
from dataclasses import asdict, dataclass
from datetime import date
from http import HTTPStatus
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ...clock import Clock
from ...signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify
from ..deaths import DEATHS_PATH
from ..realname import IDENTITY_PATH, SMS_PATH
from .control import error_response, json_list

#: Messages kept (the oldest are dropped beyond).
MAX_MESSAGES = 10_000


@dataclass(frozen=True)
class SentMessage:
    phone: str
    text: str
    code: str
    sent_at: str


class RealNameState:
    """What the SMS simulator sent and whom the identity simulator knows. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.messages: list[SentMessage] = []
        # id_number -> (name, phone)
        self.identities: dict[str, tuple[str, str]] = {}
        # id_number -> (death date, name registered with the death or None)
        self.deaths: dict[str, tuple[date, str | None]] = {}

    def record(self, message: SentMessage) -> None:
        with self._lock:
            self.messages.append(message)
            del self.messages[:-MAX_MESSAGES]

    def sent(self, phone: str | None = None) -> list[dict[str, str]]:
        with self._lock:
            items = [m for m in reversed(self.messages) if phone is None or m.phone == phone]
        return [asdict(m) for m in items]

    def add_identity(self, *, id_number: str, name: str, phone: str) -> None:
        with self._lock:
            self.identities[id_number.strip().upper()] = (name.strip(), phone.strip())

    def matches(self, *, id_number: str, name: str, phone: str) -> bool:
        with self._lock:
            known = self.identities.get(id_number.strip().upper())
        return known == (name.strip(), phone.strip())

    def add_death(self, *, id_number: str, death_date: date, name: str | None = None) -> None:
        with self._lock:
            key = id_number.strip().upper()
            self.deaths[key] = (death_date, name.strip() if name else None)

    def death_mismatch(self, *, id_number: str, name: str, death_date: date) -> str | None:
        """None when the death is confirmed, else what did not match (not_found, name,
        death_date: domain.heirs.Mismatch values)."""
        key = id_number.strip().upper()
        with self._lock:
            death = self.deaths.get(key)
            identity = self.identities.get(key)
        if death is None:
            return "not_found"
        registered_name = death[1] or (identity[0] if identity else None)
        if registered_name != name.strip():
            return "name"
        if death[0] != death_date:
            return "death_date"
        return None

    def load_identities(self, path: Path) -> int:
        """Add the rows of a CSV file with columns id_number, name, phone; their count."""
        count = 0
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                self.add_identity(id_number=row["id_number"], name=row["name"], phone=row["phone"])
                if row.get("death_date"):
                    self.add_death(
                        id_number=row["id_number"],
                        death_date=date.fromisoformat(row["death_date"]),
                        name=row["name"],
                    )
                count += 1
        return count


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value.strip() else None


async def signed_json(request: Request, *, secret: str, clock: Clock) -> dict[str, Any] | None:
    """The request's JSON object when its signature is good (``{}`` for a body that is not
    one), None for a bad or stale signature."""
    body = await request.body()
    verdict = verify(
        secret,
        timestamp=request.headers.get(TIMESTAMP_HEADER),
        signature=request.headers.get(SIGNATURE_HEADER),
        body=body,
        at=clock.now(),
    )
    if not verdict.ok:
        return None
    try:
        data = json.loads(body)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def add_realname_routes(app: FastAPI, state: RealNameState, *, secret: str, clock: Clock) -> None:
    """The SMS gateway, the real-name check and their /_sim control endpoints."""

    async def _signed_json(request: Request) -> dict[str, Any] | None:
        return await signed_json(request, secret=secret, clock=clock)

    @app.post(SMS_PATH)
    async def send_sms(request: Request) -> Response:
        data = await _signed_json(request)
        if data is None:
            return error_response(HTTPStatus.UNAUTHORIZED, "signature.invalid", "签名无效")
        phone, text = _text(data, "phone"), _text(data, "text")
        if phone is None or text is None:
            return error_response(HTTPStatus.BAD_REQUEST, "request.malformed", "请求格式不正确")
        state.record(
            SentMessage(
                phone=phone,
                text=text,
                code=_text(data, "code") or "",
                sent_at=clock.now().isoformat(),
            )
        )
        return JSONResponse({"status": "sent"}, status_code=HTTPStatus.ACCEPTED)

    @app.post(IDENTITY_PATH)
    async def check_identity(request: Request) -> Response:
        data = await _signed_json(request)
        if data is None:
            return error_response(HTTPStatus.UNAUTHORIZED, "signature.invalid", "签名无效")
        id_number, name, phone = (_text(data, k) for k in ("id_number", "name", "phone"))
        if id_number is None or name is None or phone is None:
            return error_response(HTTPStatus.BAD_REQUEST, "request.malformed", "请求格式不正确")
        return JSONResponse({"match": state.matches(id_number=id_number, name=name, phone=phone)})

    @app.get("/_sim/sms")
    async def sent_messages(phone: str | None = None) -> list[dict[str, str]]:
        return state.sent(phone)

    @app.get("/_sim/sms/page", response_class=HTMLResponse)
    async def sent_messages_page() -> HTMLResponse:
        rows = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(m[k])}</td>" for k in ("sent_at", "phone", "code", "text"))
            + "</tr>"
            for m in state.sent()[:200]
        )
        page = (
            '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            '<meta http-equiv="refresh" content="5"><title>短信模拟器：已发送的验证码</title></head>'
            "<body><h1>短信模拟器：已发送的短信（演示用，每5秒刷新）</h1>"
            '<table border="1" cellpadding="4"><tr><th>发送时间</th><th>手机号码</th>'
            f"<th>验证码</th><th>短信内容</th></tr>{rows}</table></body></html>"
        )
        return HTMLResponse(page)

    @app.post("/_sim/identities")
    async def add_identities(request: Request) -> Response:
        try:
            for item in await json_list(request, of="identities"):
                state.add_identity(
                    id_number=str(item["id_number"]),
                    name=str(item["name"]),
                    phone=str(item["phone"]),
                )
        except (ValueError, TypeError, KeyError):
            return error_response(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "identities.invalid",
                "应为 [{id_number, name, phone}] 列表",
            )
        return JSONResponse({"count": len(state.identities)})


def add_death_routes(app: FastAPI, state: RealNameState, *, secret: str, clock: Clock) -> None:
    """The death registry (死亡登记查询) and its /_sim/deaths control endpoint."""

    @app.post(DEATHS_PATH)
    async def check_death(request: Request) -> Response:
        data = await signed_json(request, secret=secret, clock=clock)
        if data is None:
            return error_response(HTTPStatus.UNAUTHORIZED, "signature.invalid", "签名无效")
        try:
            id_number, name = str(data["id_number"]), str(data["name"])
            death_date = date.fromisoformat(str(data["death_date"]))
        except (ValueError, TypeError, KeyError):
            return error_response(HTTPStatus.BAD_REQUEST, "request.malformed", "请求格式不正确")
        mismatch = state.death_mismatch(id_number=id_number, name=name, death_date=death_date)
        return JSONResponse({"confirmed": mismatch is None, "mismatch": mismatch})

    @app.post("/_sim/deaths")
    async def add_deaths(request: Request) -> Response:
        try:
            for item in await json_list(request, of="deaths"):
                name = item.get("name")
                state.add_death(
                    id_number=str(item["id_number"]),
                    death_date=date.fromisoformat(str(item["death_date"])),
                    name=str(name) if name else None,
                )
        except (ValueError, TypeError, KeyError, AttributeError):
            return error_response(
                HTTPStatus.UNPROCESSABLE_ENTITY,
                "deaths.invalid",
                "应为 [{id_number, death_date, name?}] 列表",
            )
        return JSONResponse({"count": len(state.deaths)})
