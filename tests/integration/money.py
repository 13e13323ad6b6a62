"""The money check the worker tests end with: every booking an agency simulator holds names
an application of ours, books its amount to the fen, pays (bank) the application's account,
and no application is booked twice by one agency."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from sirefund.agencies.simulator import SimulatorState
from sirefund.domain.agencies import Agency
from sirefund.models import Application, DepositAccount


def _account_of(session: Session, app: Application) -> str | None:
    if app.bank_account_no:
        return app.bank_account_no
    acct = session.get(DepositAccount, app.deposit_account_id) if app.deposit_account_id else None
    return acct.account_no if acct else None


def booking_mismatches(state: SimulatorState, session_factory: sessionmaker[Session]) -> list[str]:
    """Every way the simulators' bookings disagree with our applications, one line each."""
    problems: list[str] = []
    with session_factory() as session:
        for agency in Agency:
            bookings = state.bookings_of(agency)
            for app_id, n in Counter(b.application_id for b in bookings).items():
                if n > 1:
                    problems.append(f"{agency}: application {app_id} booked {n} times")
            for b in bookings:
                app = session.get(Application, b.application_id) if b.application_id else None
                if app is None:
                    problems.append(f"{agency}: {b.request_id} books no application of ours")
                    continue
                if b.amount_fen != app.amount_fen:
                    problems.append(
                        f"{agency}: application {app.id} booked {b.amount_fen} fen, "
                        f"approved {app.amount_fen}"
                    )
                if agency == Agency.BANK and b.account_no != _account_of(session, app):
                    problems.append(f"bank: application {app.id} paid into another account")
    return problems


def assert_bookings_match_applications(sim: Any, session_factory: sessionmaker[Session]) -> None:
    problems = booking_mismatches(sim.state, session_factory)
    assert problems == [], problems
