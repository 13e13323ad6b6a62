"""/metrics, /readyz, /healthz, the request id and the JSON access lines (issue 12, part 5)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from sirefund import logconfig, migrate
from sirefund.models import DispatchAttempt, OutboxMessage
from sirefund.services import observability
from sirefund.web.app import create_app
from tests import factories as f
from tests.integration import approvals
from tests.web.officer_helpers import pension_app

ID = "420703195803120232"
PHONE = "13800001234"
CARD = "6228480402564890018"
LOOPBACK = ("127.0.0.1", 50000)
TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture
def local(app) -> Iterator[TestClient]:
    """A client on this machine (loopback), as Prometheus on the same host would be."""
    with TestClient(app, raise_server_exceptions=False, client=LOOPBACK) as c:
        yield c


def samples(body: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def value(body: str, name: str, **labels: str) -> float | None:
    return samples(body).get((name, tuple(sorted(labels.items()))))


def test_healthz_is_a_liveness_that_answers_without_the_database(settings, engine, clock):
    broken = create_app(settings.model_copy(), engine=engine, clock=clock)
    engine.dispose()
    broken.state.session_factory = None  # anything touching the database would now fail
    with TestClient(broken) as c:
        assert c.get("/healthz").json() == {"status": "ok"}


# --------------------------------------------------------------------------- who reads /metrics


def test_metrics_are_refused_to_a_client_that_is_not_on_this_machine(client):
    resp = client.get("/metrics")  # TestClient's address is not loopback
    assert resp.status_code == 403
    assert resp.json()["error"]["code"] == "metrics.forbidden"


def test_metrics_are_refused_through_a_proxy_even_from_loopback(local):
    assert local.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    assert local.get("/metrics", headers={"Forwarded": "for=203.0.113.9"}).status_code == 403


def test_metrics_are_served_in_the_prometheus_format_to_loopback(local):
    resp = local.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE sirefund_http_request_duration_seconds histogram" in resp.text


def test_with_a_token_only_its_bearer_reads_metrics_wherever_they_are(settings, engine, clock):
    app = create_app(
        settings.model_copy(update={"metrics_token": TOKEN}), engine=engine, clock=clock
    )
    with TestClient(app, client=LOOPBACK) as local, TestClient(app) as remote:
        assert local.get("/metrics").status_code == 403
        assert remote.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        ok = remote.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200


def test_a_placeholder_metrics_token_is_refused_at_start_up(settings):
    with pytest.raises(ValueError, match="placeholder"):
        type(settings)(**{**settings.model_dump(), "metrics_token": "changeme"})


# --------------------------------------------------------------------------- request metrics


def test_requests_are_counted_per_route_template_never_per_raw_path(local):
    before = local.get("/metrics").text
    key = {"method": "GET", "route": "/api/v1/officer/applications/{application_id}"}
    was = value(before, "sirefund_http_requests_total", **key, status="401") or 0.0
    assert local.get("/api/v1/officer/applications/987654").status_code == 401
    assert local.get(f"/nothing/here/{ID}").status_code == 404

    after = local.get("/metrics").text
    assert value(after, "sirefund_http_requests_total", **key, status="401") == was + 1
    assert (value(after, "sirefund_http_request_duration_seconds_count", **key) or 0) >= 1
    assert value(
        after, "sirefund_http_requests_total", method="GET", route="unmatched", status="404"
    )
    assert "987654" not in after and ID not in after


# --------------------------------------------------------------------------- database figures


def test_metrics_show_the_outbox_backlog_and_its_oldest_age_per_agency(
    local, session_factory, clock
):
    approvals.approved_applications(session_factory, n=2, at=clock.now())
    approvals.approved_applications(session_factory, n=1, kind="medical", at=clock.now())
    clock.advance(seconds=120)
    body = local.get("/metrics").text
    assert value(body, "sirefund_outbox_backlog_messages", agency="hrss") == 2
    assert value(body, "sirefund_outbox_backlog_messages", agency="medical_security") == 1
    assert value(body, "sirefund_outbox_oldest_message_age_seconds", agency="hrss") == 120
    assert value(body, "sirefund_applications", status="approved") == 3


def test_metrics_show_each_agencys_recent_attempts_and_error_ratio(local, session_factory, clock):
    [app_id] = approvals.approved_applications(session_factory, n=1, at=clock.now())
    with session_factory() as s, s.begin():
        msg = s.query(OutboxMessage).filter_by(application_id=app_id).one()
        for minutes, outcome in ((1, "retry"), (2, "retry"), (3, "ok"), (60, "permanent")):
            s.add(
                DispatchAttempt(
                    message_id=msg.id, at=clock.now() - timedelta(minutes=minutes), outcome=outcome
                )
            )
    body = local.get("/metrics").text  # the window is the last 15 minutes
    assert value(body, "sirefund_agency_attempts_recent", agency="hrss", outcome="retry") == 2
    assert value(body, "sirefund_agency_attempts_recent", agency="hrss", outcome="ok") == 1
    assert (
        value(body, "sirefund_agency_attempts_recent", agency="hrss", outcome="permanent") is None
    )
    assert value(body, "sirefund_agency_error_ratio", agency="hrss") == pytest.approx(2 / 3)


def test_reconciliation_differences_are_those_of_the_newest_day_reconciled(
    local, session_factory, clock
):
    from datetime import date

    from sirefund.models import ReconciliationRun

    assert "sirefund_reconciliation_differences" not in local.get("/metrics").text
    with session_factory() as s, s.begin():
        for day, count in ((date(2026, 11, 27), 4), (date(2026, 11, 26), 9)):
            s.add(
                ReconciliationRun(
                    day=day, ran_at=clock.now(), ran_by="cli", discrepancy_count=count
                )
            )
    assert value(local.get("/metrics").text, "sirefund_reconciliation_differences") == 4
    with session_factory() as s, s.begin():
        # The same day reconciled again after the differences were cleared up.
        s.add(
            ReconciliationRun(
                day=date(2026, 11, 27), ran_at=clock.now(), ran_by="cli", discrepancy_count=0
            )
        )
    assert value(local.get("/metrics").text, "sirefund_reconciliation_differences") == 0


# --------------------------------------------------------------------------- readiness


def _beat(session_factory, at, worker_id="w1"):
    with session_factory() as s, s.begin():
        observability.beat(s, worker_id=worker_id, at=at)


def test_ready_when_the_schema_is_at_head_a_worker_beats_and_the_outbox_is_short(
    client, session_factory, clock
):
    _beat(session_factory, clock.now() - timedelta(seconds=30))
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ready" and resp.json()["failed"] == {}


def test_not_ready_without_a_fresh_worker_heartbeat(client, session_factory, clock):
    assert client.get("/readyz").json()["failed"] == {"worker": "no worker heartbeat"}
    _beat(session_factory, clock.now() - timedelta(seconds=61))
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert list(resp.json()["failed"]) == ["worker"]


def test_the_worker_check_is_skipped_when_no_worker_is_expected(settings, engine, clock):
    app = create_app(
        settings.model_copy(update={"ready_worker_max_age_seconds": 0}), engine=engine, clock=clock
    )
    with TestClient(app) as c:
        assert c.get("/readyz").status_code == 200


def test_not_ready_when_the_outbox_backlog_passes_its_threshold(
    settings, engine, clock, session_factory
):
    app = create_app(
        settings.model_copy(update={"ready_outbox_backlog_max": 1}), engine=engine, clock=clock
    )
    _beat(session_factory, clock.now())
    approvals.approved_applications(session_factory, n=2, at=clock.now())
    with TestClient(app) as c:
        resp = c.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["failed"] == {"outbox": "2 undelivered (max 1)"}


def test_not_ready_when_the_schema_is_not_the_codes(client, session_factory, clock, engine):
    _beat(session_factory, clock.now())
    head = migrate.head_revision()
    # alembic_version outlives the per-test TRUNCATE on PostgreSQL: put it back after.
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    try:
        resp = client.get("/readyz")
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert resp.status_code == 503
    assert list(resp.json()["failed"]) == ["migrations"]


def test_not_ready_when_the_database_does_not_answer(settings, clock):
    from sirefund.db import make_engine

    gone = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    app = create_app(settings, engine=gone, clock=clock)
    with TestClient(app) as c:
        resp = c.get("/readyz")
    assert resp.status_code == 503
    assert list(resp.json()["failed"]) == ["database"]
    gone.dispose()


# --------------------------------------------------------------------------- request id, logs


def test_a_plain_request_id_from_the_client_is_echoed(client):
    resp = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a9c2e-0001"})
    assert resp.headers["X-Request-ID"] == "lb-7f3a9c2e-0001"


@pytest.mark.parametrize(
    "sent", [None, "", "short", f"id-{ID}", f"tel{PHONE}", "has space x1", "x" * 65]
)
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_new_one(client, sent):
    headers = {} if sent is None else {"X-Request-ID": sent}
    given = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    assert given != sent and len(given) == 32
    assert client.get("/healthz").headers["X-Request-ID"] != given


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the JSON handler writes, from every sirefund logger."""
    stream = io.StringIO()
    handler = logconfig.handler(stream)
    logger = logging.getLogger("sirefund")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(old_level)


def _lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_each_request_writes_one_json_access_line_with_its_id_route_status_and_duration(
    client, log_lines
):
    client.get(
        f"/api/v1/officer/applications/{ID}?phone={PHONE}",
        headers={"X-Request-ID": "trace-0a1b2c3d"},
    )
    [line] = [x for x in _lines(log_lines) if x["logger"] == "sirefund.access"]
    assert line["request_id"] == "trace-0a1b2c3d"
    assert line["route"] == "/api/v1/officer/applications/{application_id}"
    assert line["status"] == 401
    assert isinstance(line["duration_ms"], float)
    assert {"time", "level", "logger", "message"} <= set(line)
    assert ID not in log_lines.getvalue() and PHONE not in log_lines.getvalue()


def test_log_lines_carry_the_request_id_and_no_id_phone_or_card_number(app, log_lines):
    @app.get("/_test/oops")
    def _oops() -> dict[str, str]:
        logging.getLogger("sirefund.test").warning(
            "lookup for %s, phone %s, card %s", ID, PHONE, CARD
        )
        raise RuntimeError(f"card {CARD} of {ID} refused")

    with TestClient(app, raise_server_exceptions=False) as c:
        resp = c.get("/_test/oops", headers={"X-Request-ID": "trace-9a8b7c6d"})
    assert resp.status_code == 500
    text_out = log_lines.getvalue()
    for secret in (ID, PHONE, CARD):
        assert secret not in text_out
    warning = next(x for x in _lines(log_lines) if x["logger"] == "sirefund.test")
    assert warning["request_id"] == "trace-9a8b7c6d"
    assert warning["level"] == "WARNING"
    assert "42**************32" in str(warning["message"])


def test_metrics_still_serve_the_request_figures_when_the_database_is_down(settings, clock):
    from sirefund.db import make_engine

    gone = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    app = create_app(settings, engine=gone, clock=clock)
    with TestClient(app, client=LOOPBACK) as c:
        body = c.get("/metrics").text
    assert value(body, "sirefund_database_up") == 0
    assert "sirefund_http_requests_total" in body
    gone.dispose()


def test_an_approval_stores_its_request_id_with_the_outbox_message_it_writes(
    client, login, session_factory
):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s)
        app_id = pension_app(s, at=datetime(2026, 3, 6, 10, 0, tzinfo=UTC)).id
    resp = client.post(
        f"/api/v1/officer/applications/{app_id}/approve",
        headers={**login("officer", officer.id), "X-Request-ID": "approve-5e1f0c"},
    )
    assert resp.status_code == 200
    with session_factory() as s:
        msg = s.query(OutboxMessage).filter_by(application_id=app_id).one()
    assert msg.origin_request_id == "approve-5e1f0c"
