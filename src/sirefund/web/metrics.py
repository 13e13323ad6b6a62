"""GET /metrics in the Prometheus text format (prometheus-client), GET /readyz.

Two kinds of figures:
- per process, kept in memory: requests and their latency per route template (fed by
  web/request_id.py). With `sirefund serve --workers N` the processes share them through
  prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR, set by runtime.py), so one
  scrape sees all N.
- from the database, at scrape time (services/observability.py): the outbox backlog and its
  oldest message's age per agency, the last window's dispatch attempts and error ratio per
  agency, applications per status, reconciliation differences once that exists.

Who may read it (it tells how busy the service is and how the agencies answer): with
SIREFUND_METRICS_TOKEN set, whoever sends `Authorization: Bearer <token>`; without, only a
client on this machine (loopback) whose request did not pass through a proxy (no
X-Forwarded-For / Forwarded header) — so a reverse proxy on the same host does not publish
it by accident. Anyone else gets 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
from collections.abc import Iterator
from functools import cache

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import INF
from sqlalchemy.orm import Session, sessionmaker

from .. import migrate
from ..clock import Clock, as_utc
from ..config import Settings
from ..domain.dispatch import AttemptOutcome
from ..services import observability
from .errors import error_body

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, INF)

#: This process's request metrics (not the global default registry: tests build many apps).
LOCAL = CollectorRegistry(auto_describe=True)
REQUESTS = Counter(
    "sirefund_http_requests",
    "HTTP requests answered, per method, route template and status",
    ["method", "route", "status"],
    registry=LOCAL,
)
LATENCY = Histogram(
    "sirefund_http_request_duration_seconds",
    "Time to answer an HTTP request, per method and route template",
    ["method", "route"],
    buckets=_BUCKETS,
    registry=LOCAL,
)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


class DatabaseCollector(Collector):
    """The database's figures, read at each scrape in one short read-only session."""

    def __init__(self, factory: sessionmaker[Session], settings: Settings, clock: Clock) -> None:
        self.factory = factory
        self.settings = settings
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = as_utc(self.clock.now())
        window = self.settings.metrics_window_seconds
        up = GaugeMetricFamily(
            "sirefund_database_up", "Whether the database answered this scrape's queries"
        )
        try:
            with self.factory() as session:
                backlog = observability.outbox_backlog(session)
                attempts = observability.recent_attempts(
                    session, since=observability.since(now, window)
                )
                statuses = observability.applications_by_status(session)
                differences = observability.reconciliation_differences(session)
                session.rollback()
        except Exception:
            # The request figures are still worth serving; the database's are missing.
            log.warning("metrics: the database did not answer", exc_info=True)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        messages = GaugeMetricFamily(
            "sirefund_outbox_backlog_messages",
            "Outbox messages not yet delivered (pending, sending, unknown), per agency",
            labels=["agency"],
        )
        oldest = GaugeMetricFamily(
            "sirefund_outbox_oldest_message_age_seconds",
            "Age of the oldest undelivered outbox message, per agency",
            labels=["agency"],
        )
        for b in backlog:
            messages.add_metric([b.agency], b.messages)
            oldest.add_metric([b.agency], max(0.0, (now - b.oldest_created_at).total_seconds()))
        yield messages
        yield oldest
        tried = GaugeMetricFamily(
            "sirefund_agency_attempts_recent",
            f"Dispatch attempts in the last {window:.0f}s, per agency and outcome",
            labels=["agency", "outcome"],
        )
        ratio = GaugeMetricFamily(
            "sirefund_agency_error_ratio",
            f"Share of the last {window:.0f}s's dispatch attempts that did not succeed",
            labels=["agency"],
        )
        totals: dict[str, list[int]] = {}
        for a in attempts:
            tried.add_metric([a.agency, a.outcome.value], a.attempts)
            errors_total = totals.setdefault(a.agency, [0, 0])
            errors_total[1] += a.attempts
            if a.outcome != AttemptOutcome.OK:
                errors_total[0] += a.attempts
        for agency, (errors, total) in sorted(totals.items()):
            ratio.add_metric([agency], errors / total if total else 0.0)
        yield tried
        yield ratio
        apps = GaugeMetricFamily(
            "sirefund_applications", "Applications per status", labels=["status"]
        )
        for s in statuses:
            apps.add_metric([s.status], s.applications)
        yield apps
        if differences is not None:
            yield GaugeMetricFamily(
                "sirefund_reconciliation_differences",
                "Open reconciliation differences",
                value=differences,
            )


def _process_registry() -> CollectorRegistry:
    """This process's request metrics, or all processes' in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return LOCAL


_LOOPBACK_PROXY_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def may_read_metrics(request: Request, settings: Settings) -> bool:
    if settings.metrics_token:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {settings.metrics_token}".encode())
    if any(h in request.headers for h in _LOOPBACK_PROXY_HEADERS):
        return False
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cache
def _head_revision() -> str | None:
    return migrate.head_revision()


def install(app: FastAPI) -> None:
    """Add /metrics and /readyz to `app` (its state holds settings, session_factory, clock)."""
    settings: Settings = app.state.settings
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(app.state.session_factory, settings, app.state.clock))

    @app.get("/metrics", include_in_schema=False)
    def _metrics(request: Request) -> Response:
        if not may_read_metrics(request, settings):
            return JSONResponse(
                error_body("metrics.forbidden", "无权访问监控指标"), status_code=403
            )
        body = generate_latest(_process_registry()) + generate_latest(database)
        return Response(body, media_type=CONTENT_TYPE)

    @app.get("/readyz", include_in_schema=False)
    def _ready() -> JSONResponse:
        failed: dict[str, str] = {}
        try:
            with app.state.session_factory() as session:
                result = observability.readiness(
                    session,
                    at=app.state.clock.now(),
                    expected_revision=_head_revision(),
                    worker_max_age_seconds=settings.ready_worker_max_age_seconds,
                    backlog_max=settings.ready_outbox_backlog_max,
                )
                session.rollback()
        except Exception as exc:  # noqa: BLE001 - any failure to ask means "not ready"
            failed["database"] = type(exc).__name__
            return JSONResponse({"status": "unavailable", "failed": failed}, status_code=503)
        for check in result.checks:
            if not check.ok:
                failed[check.name] = check.detail
        body = {
            "status": "ready" if result.ready else "unavailable",
            "checks": {c.name: c.detail for c in result.checks},
            "failed": failed,
        }
        return JSONResponse(body, status_code=200 if result.ready else 503)
