"""create_app(settings): the one FastAPI application serving the API and the pages."""

from __future__ import annotations

import importlib.resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from ..clock import SystemClock
from ..config import Settings
from ..db import make_engine, make_session_factory, read_only, statement_reads
from ..services.ports import DeathRegistry, IdentityCheck, SmsGateway
from . import errors, metrics
from .api import accounts as api_accounts
from .api import audit as api_audit
from .api import callbacks as api_callbacks
from .api import documents as api_documents
from .api import heir_claims as api_heir_claims
from .api import medical as api_medical
from .api import notifications as api_notifications
from .api import officer as api_officer
from .api import pension as api_pension
from .api import reconciliations as api_reconciliations
from .api import stats as api_stats
from .api import unit as api_unit
from .edge import EdgeMiddleware
from .pages import care as pages_care
from .pages import common as pages_common
from .pages import correction_pages as pages_correction
from .pages import etax as pages_etax
from .pages import guard
from .pages import heirs as pages_heirs
from .pages import messages as pages_messages
from .pages import mobile as pages_mobile
from .pages import officer as pages_officer
from .pages import officer_audit as pages_officer_audit
from .pages import officer_calendar as pages_officer_calendar
from .pages import officer_stats as pages_officer_stats

STATIC_DIR = Path(__file__).parent / "static"
# Swagger UI 5 (it reads OpenAPI 3.1, which FastAPI writes; the UI 4 of swagger-ui-bundle
# could not) as the fastapi-offline package ships it.
SWAGGER_UI_DIR = Path(str(importlib.resources.files("fastapi_offline") / "static"))
API_PREFIX = "/api/v1"
SWAGGER_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'self'"
)

OPENAPI_TAGS = [
    {"name": "accounts", "description": "注册、登录、会话"},
    {"name": "pension", "description": "城乡居民基本养老保险退费（个人）"},
    {"name": "unit", "description": "城乡居民基本养老保险退费（村组）"},
    {"name": "medical", "description": "城乡居民基本医疗保险退费、存款账户账号报告"},
    {"name": "heir-claims", "description": "继承人代办：参保人死亡后由继承人申请退费"},
    {"name": "officer", "description": "税务端：审核、发起退费、派发监控"},
    {"name": "callbacks", "description": "人社、医保、银行的签名回调"},
]


class SirefundApp(FastAPI):
    """FastAPI whose OpenAPI document describes our error format instead of FastAPI's."""

    def openapi(self) -> dict[str, Any]:
        """FastAPI documents 422 as its own HTTPValidationError; ours answer in the Error
        format (web/errors.py), so every 422 in the document is rewritten to say so."""
        if self.openapi_schema:
            return self.openapi_schema
        schema = super().openapi()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        if "Error" not in components:
            components["Error"] = errors.Error.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            for name, sub in components["Error"].pop("$defs", {}).items():
                components.setdefault(name, sub)
        error_ref = {"$ref": "#/components/schemas/Error"}
        for methods in schema.get("paths", {}).values():
            for operation in methods.values():
                responses = operation.get("responses", {})
                if "422" in responses:
                    responses["422"]["content"] = {"application/json": {"schema": error_ref}}
                    responses["422"].setdefault("description", "输入不正确")
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        self.openapi_schema = schema
        return schema


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Any = None,
    extra_state: dict[str, Any] | None = None,
    sms: SmsGateway | None = None,
    identity_check: IdentityCheck | None = None,
    death_registry: DeathRegistry | None = None,
) -> FastAPI:
    """The app. `sms` and `identity_check` are the outside services registration needs (the
    adapters of agencies/, injected by runtime.py; tests give theirs): without them, sending
    codes and registering answer 503. `death_registry` confirms heir claims (继承人代办);
    without it they stay pending_verification."""
    app = SirefundApp(
        title="sirefund 城乡居民社会保险费退费",
        version="1.0",
        description="湖北省电子税务局 城乡居民社会保险费退费 API（养老、村组、医疗）。"
        '金额为两位小数的元字符串，如 "350.00"；错误格式见 `Error`。',
        openapi_tags=OPENAPI_TAGS,
        # Served below from the fastapi-offline package (Swagger UI 5): pages use no CDN.
        docs_url=None,
        redoc_url=None,
    )
    engine = engine or make_engine(
        settings.database_url, echo=settings.echo_sql, pooler=settings.db_pooler
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.read_session_factory = make_session_factory(read_only(engine))
    app.state.statement_read_engine = statement_reads(engine)
    app.state.clock = clock or SystemClock()
    app.state.sms = sms
    app.state.identity_check = identity_check
    app.state.death_registry = death_registry
    for key, value in (extra_state or {}).items():
        setattr(app.state, key, value)

    errors.install(app)
    guard.install(
        app, applicant=pages_common.denied_response, officer=pages_officer.denied_response
    )

    # One pure-ASGI layer, outermost: the request id, the metrics and the access line cover
    # every answer, the security headers reach every answer (the body limit's 413 included),
    # and oversize bodies are refused before anything parses them, whatever Content-Length
    # says (chunked or understated bodies are counted as they arrive).
    app.add_middleware(EdgeMiddleware, settings=settings)

    # The probes first: a request is matched against the routes in order, and at the end of
    # some 150 routes /healthz spent most of its time in FastAPI's matching (issue 12:
    # /healthz at 0.43x a bare app).
    @app.get("/healthz", include_in_schema=False)
    async def _health() -> dict[str, str]:
        return {"status": "ok"}

    metrics.install(app)
    # The persons' payments reads, the hottest requests of a refund season, next.
    api_pension.add_hot_route(app.router, API_PREFIX)
    api_medical.add_hot_route(app.router, API_PREFIX)

    for module in (
        api_accounts,
        api_pension,
        api_unit,
        api_medical,
        api_documents,
        api_notifications,
        api_heir_claims,
        api_officer,
        api_reconciliations,
        api_audit,
        api_stats,
        api_callbacks,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    for module in (
        pages_care,
        pages_messages,
        pages_heirs,
        pages_correction,
        pages_etax,
        pages_mobile,
        pages_officer,
        pages_officer_calendar,
        pages_officer_audit,
        pages_officer_stats,
    ):
        app.include_router(module.router)

    app.mount("/static/swagger-ui", StaticFiles(directory=SWAGGER_UI_DIR), name="swagger-ui")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/docs", include_in_schema=False)
    async def _docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="sirefund API 文档",
            swagger_js_url="/static/swagger-ui/swagger-ui-bundle.js",
            swagger_css_url="/static/swagger-ui/swagger-ui.css",
            swagger_favicon_url="/static/swagger-ui/favicon.png",
        )
        # Swagger UI starts from an inline script and styles itself inline; still nothing
        # from another site.
        page.headers["Content-Security-Policy"] = SWAGGER_CSP
        return page

    @app.get("/", include_in_schema=False)
    async def _root() -> RedirectResponse:
        return RedirectResponse("/etax/", status_code=303)

    return app
