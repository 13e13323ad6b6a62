"""统计分析's summary tables (services/stats_summary.py, migration 0016) on both databases:
the triggers keep them equal to the live aggregate whatever writes the applications, an
officer's calendar change recounts the histogram, `rebuild` repairs a damaged summary, and
the figures of a date filter that cuts months (partly live, partly summary) are right."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import chinese_calendar
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import delete, func, select, update

from sirefund import migrate
from sirefund.clock import CHINA_TZ
from sirefund.domain.workflow import TRANSITIONS
from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import Application, StatsCell, StatsRefundDays
from sirefund.services import applications, holidays, statistics, stats_summary
from sirefund.services.applications import Actor
from sirefund.services.statistics import StatsFilters
from tests import factories as f
from tests.web.officer_helpers import pension_app

REGIONS = ("420703", "420704", "420102", "422801")
START = datetime(2026, 1, 20, 15, 30, tzinfo=UTC)  # 23:30 in China: the next China day


def _app(session, rnd: random.Random) -> Application:
    at = START + timedelta(days=rnd.randrange(120), hours=rnd.choice((0, 3, 9)))
    return pension_app(
        session,
        region=rnd.choice(REGIONS),
        at=at,
        channel=rnd.choice(("web", "mobile_app")),
    )


def _bare(session, rnd: random.Random) -> Application:
    """An application written as an import or a bulk load would: no service, no event."""
    person = f.make_person(session, region=rnd.choice(REGIONS))
    pay = f.make_pension_payment(session, person)
    at = START + timedelta(days=rnd.randrange(120))
    app = Application(
        kind="pension",
        document_no=f"BARE{rnd.randrange(10**12):012d}",
        status=rnd.choice((S.PENDING_REVIEW, S.REFUNDED)).value,
        channel="web",
        person_id=person.id,
        region_code=person.region_code,
        pension_payment_id=pay.payment_id,
        amount_fen=pay.amount_fen,
        payment_year=pay.payment_year,
        period_start=pay.period_start,
        period_end=pay.period_end,
        refund_date=date(2026, 6, 1),
        created_at=at,
        updated_at=at,
    )
    session.add(app)
    session.flush()
    return app


def _move(session, rnd: random.Random, app: Application) -> None:
    """One allowed transition through the service, with the bank's 退费日期 when paid."""
    targets = sorted(TRANSITIONS[S(app.status)])
    if not targets:
        return
    forward = [t for t in targets if t in (S.APPROVED, S.AT_AGENCY, S.REFUNDED)]
    target = rnd.choice(forward if forward and rnd.random() < 0.7 else targets)
    values = {}
    created = app.created_at if app.created_at.tzinfo else app.created_at.replace(tzinfo=UTC)
    if target == S.REFUNDED:
        applied = created.astimezone(CHINA_TZ).date()
        values["refund_date"] = applied + timedelta(days=rnd.randrange(0, 40))
    applications.transition(
        session,
        application=app,
        target=target,
        actor=Actor.agency("test"),
        at=created + timedelta(days=1),
        values=values,
    )


def _edit(session, rnd: random.Random, app: Application) -> None:
    """A hand-written UPDATE of a counted column (a data fix, an import)."""
    column, value = rnd.choice(
        (
            ("region_code", rnd.choice(REGIONS)),
            ("amount_fen", rnd.randrange(1, 50_000)),
            ("created_at", START + timedelta(days=rnd.randrange(150))),
            ("channel", rnd.choice(("web", "mobile_app"))),
            ("refund_date", date(2026, 5, 1) + timedelta(days=rnd.randrange(30))),
        )
    )
    session.execute(update(Application).where(Application.id == app.id).values({column: value}))


def _assert_in_step(session) -> None:
    session.flush()
    assert stats_summary.differences(session) == []


def test_the_summary_equals_the_live_aggregate_after_random_inserts_transitions_updates_and_deletes(
    session,
):
    rnd = random.Random(20261129)
    apps = [_app(session, rnd) for _ in range(24)]
    _assert_in_step(session)
    assert session.execute(select(func.sum(StatsCell.count))).scalar_one() == len(apps)

    for step in range(160):
        app = rnd.choice(apps)
        session.refresh(app)
        roll = rnd.random()
        if roll < 0.6:
            _move(session, rnd, app)
        elif roll < 0.85:
            _edit(session, rnd, app)
        elif roll < 0.95:
            apps.append(_app(session, rnd))
        else:
            bare = _bare(session, rnd)
            _assert_in_step(session)
            session.execute(delete(Application).where(Application.id == bare.id))
            session.expunge(bare)
        if step % 20 == 0:
            _assert_in_step(session)
    _assert_in_step(session)
    refunded = session.execute(
        select(func.count()).where(Application.status == S.REFUNDED.value)
    ).scalar_one()
    assert refunded, "the walk paid some applications"
    assert session.execute(select(func.sum(StatsRefundDays.count))).scalar_one() == refunded


def _refunded(session, *, applied: datetime, paid: date) -> Application:
    app = pension_app(session, region="420703", at=applied)
    session.execute(
        update(Application)
        .where(Application.id == app.id)
        .values(status=S.REFUNDED.value, refund_date=paid)
    )
    return app


def _province(session):
    return f.make_officer(session, region="420000", supervisor=True)


def test_an_officers_holiday_recounts_the_working_days_waited(session):
    # Applied Wed 2031-03-05 (China), paid Wed 2031-03-12: 5 working days, as the
    # chinesecalendar package knows no 2031 holidays.
    boss = _province(session)
    _refunded(session, applied=datetime(2031, 3, 5, 2, 0, tzinfo=UTC), paid=date(2031, 3, 12))
    session.flush()
    before = statistics.region_stats(
        session, officer=boss, filters=StatsFilters(), today=date(2031, 4, 1)
    )
    assert before.days_to_refund_p50 == 5

    holidays.set_day(
        session,
        holidays.CalendarDayIn(day=date(2031, 3, 7), is_workday=False, label="测试假日"),
        changed_by="test",
        at=datetime(2031, 3, 1, tzinfo=UTC),
    )

    after = statistics.region_stats(
        session, officer=boss, filters=StatsFilters(), today=date(2031, 4, 1)
    )
    assert after.days_to_refund_p50 == 4
    _assert_in_step(session)
    holidays.remove_day(session, date(2031, 3, 7))
    assert (
        statistics.region_stats(
            session, officer=boss, filters=StatsFilters(), today=date(2031, 4, 1)
        ).days_to_refund_p50
        == 5
    )
    _assert_in_step(session)


def test_rebuild_repairs_a_summary_that_was_tampered_with(session):
    rnd = random.Random(7)
    for _ in range(6):
        _app(session, rnd)
    _refunded(session, applied=START, paid=date(2026, 2, 10))
    session.flush()
    session.execute(update(StatsCell).values(count=StatsCell.count + 3))
    session.execute(delete(StatsRefundDays))
    assert stats_summary.differences(session)

    done = stats_summary.rebuild(session, holidays.working_days(session))

    assert done.working_days_changed == 0, "the migration's calendar is the service's"
    assert done.refund_days == 1
    _assert_in_step(session)


def test_a_date_filter_that_cuts_months_counts_exactly_the_china_days_inside(session):
    """From 2026-02-10 to 2026-04-05: February and April partly (live), March whole
    (summary); created 16:30 UTC on 2026-02-09 is the 10th in China, and counts."""
    boss = _province(session)
    inside, outside = [], []
    for day in (
        datetime(2026, 2, 9, 16, 30, tzinfo=UTC),  # 2026-02-10 in China
        datetime(2026, 2, 20, 3, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 1, 0, tzinfo=UTC),
        datetime(2026, 3, 31, 12, 0, tzinfo=UTC),
        datetime(2026, 4, 5, 15, 59, tzinfo=UTC),  # 23:59 on the 5th in China
    ):
        inside.append(pension_app(session, region="420703", at=day))
    for day in (
        datetime(2026, 2, 9, 15, 59, tzinfo=UTC),  # 2026-02-09 23:59 in China
        datetime(2026, 4, 5, 16, 0, tzinfo=UTC),  # 2026-04-06 in China
        datetime(2026, 1, 15, 3, 0, tzinfo=UTC),
    ):
        outside.append(pension_app(session, region="420703", at=day))
    paid = _refunded(
        session, applied=datetime(2026, 2, 20, 3, 0, tzinfo=UTC), paid=date(2026, 2, 27)
    )  # counted live (February is partial): the week after 春节
    inside.append(paid)
    session.flush()

    got = statistics.region_stats(
        session,
        officer=boss,
        filters=StatsFilters(date_from=date(2026, 2, 10), date_to=date(2026, 4, 5)),
        today=date(2026, 11, 29),
    )

    assert got.total.count == len(inside)
    assert got.total.amount_fen == sum(a.amount_fen for a in inside)
    assert {b.key: b.count for b in got.by_month} == {"2026-02": 3, "2026-03": 2, "2026-04": 1}
    after_spring_festival = sum(
        chinese_calendar.is_workday(date(2026, 2, 20) + timedelta(days=n)) for n in range(1, 8)
    )
    assert got.days_to_refund_p50 == after_spring_festival
    # Pending for months by 2026-11-29: all the pending ones inside the dates are overdue.
    assert got.overdue == len(inside) - 1


def test_overdue_counts_the_deadlines_month_live_and_the_earlier_months_from_the_summary(
    session,
):
    boss = _province(session)
    today = date(2026, 11, 30)  # a Monday; 31 working days back is 2026-10-16 (after 国庆)
    latest = holidays.working_days(session).latest_start(today, 31)
    late = pension_app(
        session, region="420703", at=datetime.combine(latest, datetime.min.time(), CHINA_TZ)
    )
    pension_app(
        session,
        region="420703",
        at=datetime.combine(latest + timedelta(days=1), datetime.min.time(), CHINA_TZ),
    )
    pension_app(session, region="420703", at=datetime(2026, 9, 1, 3, 0, tzinfo=UTC))
    session.flush()

    got = statistics.region_stats(session, officer=boss, filters=StatsFilters(), today=today)

    assert late.status == S.PENDING_REVIEW.value
    assert got.overdue == 2  # the one of `latest` and the one of September


def test_the_command_line_checks_the_summary_and_rebuilds_it(
    db_url, session_factory, monkeypatch, capsys
):
    from sirefund import cli  # noqa: PLC0415 - the command line, only here

    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    with session_factory() as s, s.begin():
        _refunded(s, applied=START, paid=date(2026, 2, 10))
        pension_app(s, region="420704", at=START)
    assert cli.main(["stats", "check"]) == 0
    assert "统计汇总与申请一致" in capsys.readouterr().out

    with session_factory() as s, s.begin():
        s.execute(delete(StatsRefundDays))
    assert cli.main(["stats", "check"]) == 1
    assert "不一致：1 处" in capsys.readouterr().err

    assert cli.main(["stats", "rebuild"]) == 0
    assert "2 个统计格，1 个办理时长格，工作日表更新 0 天" in capsys.readouterr().out
    assert cli.main(["stats", "check"]) == 0


def test_the_migration_counts_the_applications_already_there(engine, session_factory):
    config = migrate.alembic_config()
    before = ScriptDirectory.from_config(config).get_revision("0016_stats_summary").down_revision
    assert isinstance(before, str)
    # Written at the head (the later migrations' columns exist), then the summary and every
    # migration after it are taken away: the applications stay, as they were before it.
    with session_factory() as s, s.begin():
        _refunded(s, applied=START, paid=date(2026, 2, 10))
        pension_app(s, region="420704", at=START)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, before)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")

    with session_factory() as s:
        assert stats_summary.differences(s) == []
        assert s.execute(select(func.sum(StatsCell.count))).scalar_one() == 2
        assert s.execute(select(func.sum(StatsRefundDays.count))).scalar_one() == 1
