"""批量审核 of 10,000 applications (issue 12 part 2: "approval of 10,000 applications in batch
in seconds").

On the database bench/officer_queue.py made (1M applications), the officer BENCHQ approves
`--applications` pending applications without 风险提示 (the oldest first), `--batch` ids per
call of ``services.review_decisions.review_many`` — what POST /officer/reviews and the
queue page's 批量审核 run, each call its own transaction (the batch locked and loaded in one
statement, its status updates in one executemany, its history, notices, audit rows and
agency requests each in one INSERT). ``--batch`` above the API's 200 builds the request
without validation, to measure longer transactions. The database is changed: those
applications stay approved (the queue benchmark's pending counts shrink by that much).
Run it on a copy (``cp`` the SQLite file; ``CREATE DATABASE … TEMPLATE …`` on PostgreSQL)
to compare code versions on the same rows (``PYTHONPATH=<old checkout>/src`` runs the old).

Printed: the total seconds, applications per second, and the slowest batch.

    .venv/bin/python bench/batch_approve.py [--db var/bench/queue-1000000.db | --postgres-url …]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from sirefund.db import make_engine, make_session_factory
from sirefund.models import Application, ApplicationRiskFlag
from sirefund.services import review_decisions
from sirefund.services.review_decisions import BatchReview, Decision


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", type=Path, default=Path("var/bench/queue-1000000.db"))
    parser.add_argument("--postgres-url", default=None)
    parser.add_argument("--applications", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=review_decisions.MAX_BATCH)
    args = parser.parse_args(argv)
    url = args.postgres_url or f"sqlite:///{args.db.resolve()}"
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory() as session:
        flagged = select(ApplicationRiskFlag.application_id)
        ids = list(
            session.execute(
                select(Application.id)
                .where(Application.status == "pending_review", Application.id.not_in(flagged))
                .order_by(Application.created_at, Application.id)
                .limit(args.applications)
            ).scalars()
        )
    at = datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    started = time.perf_counter()
    slowest, approved = 0.0, 0
    for first in range(0, len(ids), args.batch):
        t0 = time.perf_counter()
        with factory() as session, session.begin():
            # Above the API's MAX_BATCH the request is built without its validation, to see
            # what longer transactions would gain.
            make = (
                BatchReview
                if args.batch <= review_decisions.MAX_BATCH
                else BatchReview.model_construct
            )
            outcomes = review_decisions.review_many(
                session,
                officer="BENCHQ",
                request=make(
                    application_ids=ids[first : first + args.batch],
                    decision=Decision.APPROVE,
                    opinion="同意",
                ),
                at=at,
            )
        approved += sum(1 for o in outcomes if o.ok)
        slowest = max(slowest, time.perf_counter() - t0)
    seconds = time.perf_counter() - started
    engine.dispose()
    print(
        f"== {engine.dialect.name}: {approved:,} of {len(ids):,} approved in {seconds:.1f} s "
        f"({approved / seconds:.0f}/s), {args.batch} per batch, slowest batch {slowest:.2f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
