"""统计分析 (services/statistics.py) on both databases: every figure against counts the test
computes itself from what it created, the region an officer may see, and who may see it."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta

import chinese_calendar
import pytest
from sqlalchemy import update

from sirefund.clock import CHINA_TZ
from sirefund.domain.errors import Forbidden
from sirefund.models import Application
from sirefund.services import statistics
from sirefund.services.statistics import StatsFilters
from tests import factories as f
from tests.web.officer_helpers import pension_app

TODAY = date(2026, 6, 1)
REGIONS = ("420703", "420704", "420102")
STATUSES = (
    "pending_review",
    "rejected",
    "at_agency",
    "agency_rejected",
    "refunded",
    "refund_failed",
    "cancelled",
)


def _working_days(start: date, end: date) -> int:
    """Working days in (start, end], counted day by day with the package directly."""
    return sum(
        1
        for n in range(1, (end - start).days + 1)
        if chinese_calendar.is_workday(start + timedelta(days=n))
    )


def _nearest_rank(values: list[int], percent: int) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = -(-len(ordered) * percent // 100)
    return ordered[rank - 1]


@pytest.fixture
def world(session):
    """Forty applications spread over three counties, seven states, two channels and four
    months (some created late in a UTC day, which is the next day in China)."""
    rnd = random.Random(11)
    made = []
    for i in range(40):
        region = REGIONS[i % 3]
        status = STATUSES[rnd.randrange(len(STATUSES))]
        at = datetime(2026, 2, 1, 1, 0, tzinfo=UTC) + timedelta(
            days=rnd.randrange(110), hours=rnd.choice((0, 6, 17, 20))
        )
        channel = rnd.choice(("web", "mobile_app"))
        app = pension_app(session, region=region, at=at, channel=channel)
        paid = None
        if status == "refunded":
            paid = at.astimezone(CHINA_TZ).date() + timedelta(days=rnd.randrange(3, 40))
        session.execute(
            update(Application)
            .where(Application.id == app.id)
            .values(status=status, refund_date=paid)
        )
        made.append(
            {
                "region": region,
                "status": status,
                "channel": channel,
                "amount": app.amount_fen,
                "day": at.astimezone(CHINA_TZ).date(),
                "paid": paid,
            }
        )
    officers = {
        "province": f.make_officer(session, region="420000", supervisor=True),
        "county": f.make_officer(session, region="420703", supervisor=True),
        "reviewer": f.make_officer(session, region="420000"),
    }
    session.flush()
    return made, officers


def _expected(rows, *, group: str) -> dict[str, tuple[int, int]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows:
        key = r["day"].strftime("%Y-%m") if group == "month" else r[group]
        counts[key][0] += 1
        counts[key][1] += r["amount"]
    return {k: (n, a) for k, (n, a) in counts.items()}


def _got(buckets) -> dict[str, tuple[int, int]]:
    return {b.key: (b.count, b.amount_fen) for b in buckets}


def test_the_province_figures_equal_counts_made_from_the_applications_themselves(session, world):
    made, officers = world

    got = statistics.region_stats(
        session, officer=officers["province"], filters=StatsFilters(), today=TODAY
    )

    assert got.total.count == len(made)
    assert got.total.amount_fen == sum(r["amount"] for r in made)
    assert _got(got.by_status) == _expected(made, group="status")
    assert _got(got.by_kind) == {"pension": (len(made), sum(r["amount"] for r in made))}
    assert _got(got.by_channel) == _expected(made, group="channel")
    assert _got(got.by_region) == _expected(made, group="region")
    assert _got(got.by_month) == _expected(made, group="month")
    waited = [_working_days(r["day"], r["paid"]) for r in made if r["status"] == "refunded"]
    assert waited, "the world has refunded applications"
    assert got.days_to_refund_p50 == _nearest_rank(waited, 50)
    assert got.days_to_refund_p90 == _nearest_rank(waited, 90)
    overdue = sum(
        1 for r in made if r["status"] == "pending_review" and _working_days(r["day"], TODAY) > 30
    )
    assert overdue, "the world has overdue applications"
    assert got.overdue == overdue
    states = Counter(r["status"] for r in made)
    answered = states["agency_rejected"] + states["refunded"] + states["refund_failed"]
    assert (got.agency_refusal.numerator, got.agency_refusal.denominator) == (
        states["agency_rejected"],
        answered,
    )
    assert (got.payment_failure.numerator, got.payment_failure.denominator) == (
        states["refund_failed"],
        states["refunded"] + states["refund_failed"],
    )


def test_a_date_range_counts_only_applications_made_on_those_china_days(session, world):
    made, officers = world
    start, end = date(2026, 3, 1), date(2026, 3, 31)

    got = statistics.region_stats(
        session,
        officer=officers["province"],
        filters=StatsFilters(date_from=start, date_to=end),
        today=TODAY,
    )

    inside = [r for r in made if start <= r["day"] <= end]
    assert got.total.count == len(inside)
    assert _got(got.by_status) == _expected(inside, group="status")


def test_a_county_officer_sees_only_the_county_and_never_another_prefecture(session, world):
    made, officers = world

    got = statistics.region_stats(
        session, officer=officers["county"], filters=StatsFilters(), today=TODAY
    )

    assert _got(got.by_region) == _expected(
        [r for r in made if r["region"] == "420703"], group="region"
    )
    with pytest.raises(Forbidden) as refused:
        statistics.region_stats(
            session, officer=officers["county"], filters=StatsFilters(region="420100"), today=TODAY
        )
    assert refused.value.code == "stats.region_out_of_scope"


def test_the_province_officer_narrows_to_a_prefecture(session, world):
    made, officers = world

    got = statistics.region_stats(
        session, officer=officers["province"], filters=StatsFilters(region="420100"), today=TODAY
    )

    assert _got(got.by_region) == _expected(
        [r for r in made if r["region"].startswith("4201")], group="region"
    )


def test_an_officer_without_the_supervisor_role_is_refused(session, world):
    _made, officers = world

    with pytest.raises(Forbidden) as refused:
        statistics.region_stats(
            session, officer=officers["reviewer"], filters=StatsFilters(), today=TODAY
        )
    assert refused.value.code == "stats.not_supervisor"


def test_an_officer_opened_with_the_supervisor_role_may_read_the_statistics(session, world):
    from sirefund.services import officers

    boss = officers.add_officer(
        session,
        code="SUP01",
        name="统计员",
        region_code="420000",
        roles={"supervisor"},
        password=f.PASSWORD,
        at=datetime(2026, 3, 10, tzinfo=UTC),
        totp_secret=f.TOTP_SECRET,
    )

    assert boss.is_supervisor and not boss.is_reviewer and not boss.is_auditor
    got = statistics.region_stats(session, officer="SUP01", filters=StatsFilters(), today=TODAY)
    assert got.total.count == len(world[0])
