"""The officer queue at province scale (issue 12): a page never counts the whole table. A
page that is not full ends the queue, so its total needs no count; otherwise the rows are
counted only up to ``review_queue.COUNT_LIMIT`` and a longer queue says "that many or
more" (``total_exact`` false). The limit is made small here so a few rows cross it. Runs on
SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event

from sirefund.services import review_queue
from sirefund.services.review_queue import QueueFilters
from tests import factories as f
from tests.web.officer_helpers import pension_app

TODAY = date(2026, 3, 10)
ANY = QueueFilters()


@pytest.fixture
def five_cases(session):
    officer = f.make_officer(session, region="420700")
    start = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    apps = [pension_app(session, at=start + timedelta(hours=i)) for i in range(5)]
    return officer, [a.id for a in apps]


@pytest.fixture
def limit_three(monkeypatch):
    monkeypatch.setattr(review_queue, "COUNT_LIMIT", 3)


@contextmanager
def statements(session) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = session.get_bind()

    def listen(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listen)


def _page(session, officer, page, page_size=2, filters=ANY):
    return review_queue.queue(
        session, officer=officer, filters=filters, page=page, page_size=page_size, today=TODAY
    )


def test_a_queue_longer_than_the_count_limit_says_at_least_the_limit(
    session, five_cases, limit_three
):
    officer, ids = five_cases
    first = _page(session, officer, 1)
    assert [i.application.id for i in first.items] == ids[:2]
    assert (first.total, first.total_exact) == (3, False)


def test_the_last_page_gives_the_exact_total_past_the_count_limit(session, five_cases, limit_three):
    officer, ids = five_cases
    last = _page(session, officer, 3)
    assert [i.application.id for i in last.items] == ids[4:]
    assert (last.total, last.total_exact) == (5, True)


def test_a_page_deeper_than_the_count_limit_counts_to_its_own_end(session, five_cases, limit_three):
    officer, ids = five_cases
    second = _page(session, officer, 2)
    assert [i.application.id for i in second.items] == ids[2:4]
    assert (second.total, second.total_exact) == (4, False)  # one more row exists beyond


def test_a_queue_within_the_count_limit_has_its_exact_total(session, five_cases):
    officer, _ = five_cases
    first = _page(session, officer, 1)
    assert (first.total, first.total_exact) == (5, True)
    assert first.page_count == 3


def test_a_page_that_is_not_full_is_answered_without_a_count(session, five_cases):
    officer, ids = five_cases
    with statements(session) as seen:
        page = _page(session, officer, 1, page_size=10)
    assert [i.application.id for i in page.items] == ids
    assert (page.total, page.total_exact) == (5, True)
    assert not [s for s in seen if "count(" in s.lower()]


def test_a_full_page_counts_at_most_the_limit_rows(session, five_cases, limit_three):
    officer, _ = five_cases
    with statements(session) as seen:
        _page(session, officer, 1)
    counts = [s for s in seen if "count(" in s.lower()]
    assert len(counts) == 1
    assert "LIMIT" in counts[0].upper()


def test_a_page_past_the_end_counts_to_say_how_many_there_are(session, five_cases):
    officer, _ = five_cases
    beyond = _page(session, officer, 9)
    assert beyond.items == []
    assert (beyond.total, beyond.total_exact) == (5, True)


def test_a_filtered_page_counts_only_its_matches(session, five_cases, limit_three):
    officer, ids = five_cases
    late = QueueFilters(date_from=date(2026, 3, 2), sort="-created_at")
    first = _page(session, officer, 1, filters=late)
    assert [i.application.id for i in first.items] == [ids[4], ids[3]]
    assert first.total_exact is False
    none = _page(session, officer, 1, filters=QueueFilters(status="approved"))
    assert (none.items, none.total, none.total_exact) == ([], 0, True)


def test_a_city_officers_page_follows_the_amount_order_with_ties_on_the_id(session, five_cases):
    officer, ids = five_cases  # a city scope: SQLite is told not to use the region index
    by_amount = _page(session, officer, 1, page_size=10, filters=QueueFilters(sort="-amount"))
    keys = [(i.application.amount_fen, i.application.id) for i in by_amount.items]
    assert sorted(k[1] for k in keys) == sorted(ids)
    assert keys == sorted(keys, reverse=True)
