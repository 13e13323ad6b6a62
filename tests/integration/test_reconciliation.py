"""Three-way reconciliation (三方对账) against the simulators over real HTTP, on SQLite and
PostgreSQL: a clean day agrees to the fen; each kind of discrepancy is found when the
simulator is scripted to produce it; and the mutations of the payout that must never pass
(amount altered, booked twice, another account) are caught by the reconciliation and by the
bookings check the worker tests end with."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from sirefund import worker
from sirefund.domain.agencies import Agency
from sirefund.models import ReconciliationDiscrepancy, ReconciliationRun
from sirefund.services import dispatches, reconciliation
from tests.integration.conftest import SECRET, messages_of, status_of
from tests.integration.money import booking_mismatches

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def refund(simulator, settings_for, dispatcher_for, make_approved, session_factory, shift_clock):  # type: ignore[no-untyped-def]
    """refund(kind=count, ...) -> (dispatcher, ids): approve the applications (two pensions
    by default) and drive every refund to the bank's answer."""

    def _refund(**kinds):  # type: ignore[no-untyped-def]
        simulator.script.set_delay("bank", 0)
        dispatcher = dispatcher_for(settings_for(simulator))
        ids = []
        for kind, n in (kinds or {"pension": 2}).items():
            ids += make_approved(n, kind=kind, at=shift_clock.now())
        dispatcher.drive(lambda: all(status_of(session_factory, i) == "refunded" for i in ids))
        return dispatcher, ids

    return _refund


def _reconcile(dispatcher, clock):  # type: ignore[no-untyped-def]
    return worker.reconcile_day(
        dispatcher.session_factory,
        adapters=dispatcher.adapters,
        day=clock.today(),
        clock=clock,
        ran_by="test",
    )


def _kinds(view) -> list[tuple[str, str, Any]]:  # type: ignore[no-untyped-def]
    return [(d.kind.value, d.agency.value, d.application_id) for d in view.discrepancies]


def test_a_clean_day_reconciles_with_totals_that_agree_to_the_fen(
    refund, session_factory, shift_clock
):
    dispatcher, ids = refund(pension=2, medical=2)
    view = _reconcile(dispatcher, shift_clock)

    assert view.clean and view.discrepancies == ()
    totals = {t.agency: t for t in view.agencies}
    assert [t.agency for t in view.agencies] == list(Agency)
    bank = totals[Agency.BANK]
    assert bank.ours_count == bank.theirs_count == 4
    assert bank.ours_amount_fen == bank.theirs_amount_fen > 0
    assert totals[Agency.HRSS].ours_count == totals[Agency.MEDICAL_SECURITY].ours_count == 2
    assert all(t.agrees for t in view.agencies)
    with session_factory() as session:
        assert session.execute(select(func.count()).select_from(ReconciliationRun)).scalar() == 1


def test_a_day_without_refunds_is_clean_with_zero_totals(
    simulator, settings_for, adapters_for, session_factory, shift_clock
):
    adapters = adapters_for(settings_for(simulator))
    view = worker.reconcile_day(
        session_factory, adapters=adapters, day=shift_clock.today(), clock=shift_clock, ran_by="t"
    )
    assert view.clean
    assert {(t.ours_count, t.theirs_amount_fen) for t in view.agencies} == {(0, 0)}


@pytest.mark.parametrize(
    ("fault", "agency", "extra", "kind"),
    [
        ("alter_amount", "bank", {"amount_fen": 1}, "amount_differs"),
        ("alter_amount", "hrss", {"amount_fen": 99999}, "amount_differs"),
        ("change_account", "bank", {"account_no": "6228480402564899999"}, "account_differs"),
        ("drop", "bank", {}, "missing_at_agency"),
        ("drop", "hrss", {}, "missing_at_agency"),
        ("duplicate", "bank", {}, "paid_twice"),
    ],
)
def test_each_discrepancy_the_simulator_is_scripted_to_produce_is_found_and_stored(
    refund, simulator, session_factory, shift_clock, fault, agency, extra, kind
):
    dispatcher, ids = refund()
    simulator.state.statement_faults.add(fault, agency=agency, application_id=ids[1], **extra)

    view = _reconcile(dispatcher, shift_clock)

    assert _kinds(view) == [(kind, agency, ids[1])]
    assert not view.clean
    with session_factory() as session:
        stored = session.execute(select(ReconciliationDiscrepancy)).scalars().all()
        assert [(d.kind, d.agency, d.application_id) for d in stored] == [(kind, agency, ids[1])]


def test_a_booking_we_never_asked_for_is_unknown_to_us(refund, simulator, shift_clock):
    dispatcher, ids = refund()
    simulator.state.statement_faults.add(
        "add_unknown", agency="bank", amount_fen=50000, account_no="6228480402564891111"
    )
    simulator.state.statement_faults.add(
        "add_unknown", agency="bank", application_id=987654, amount_fen=70000
    )

    view = _reconcile(dispatcher, shift_clock)

    assert _kinds(view) == [("unknown_to_us", "bank", None), ("unknown_to_us", "bank", 987654)]
    [bank] = [t for t in view.agencies if t.agency == Agency.BANK]
    assert bank.theirs_count == bank.ours_count + 2
    assert bank.theirs_amount_fen == bank.ours_amount_fen + 120000
    unknown = view.discrepancies[0]
    assert unknown.ours is None and unknown.theirs is not None
    assert unknown.theirs.account_masked == "622848*********1111"  # masked when stored


def test_the_newest_run_of_a_day_is_what_is_shown(refund, simulator, session_factory, shift_clock):
    dispatcher, ids = refund()
    simulator.state.statement_faults.add("drop", agency="bank", application_id=ids[0])
    assert not _reconcile(dispatcher, shift_clock).clean
    simulator.state.statement_faults.clear()
    assert _reconcile(dispatcher, shift_clock).clean
    with session_factory() as session:
        latest = reconciliation.latest(session, day=shift_clock.today())
        assert latest is not None and latest.clean
        assert reconciliation.latest(session, day=shift_clock.today().replace(year=2001)) is None


# --------------------------------------------------------------------------- mutations


def _doubling_bank_amounts(monkeypatch: pytest.MonkeyPatch) -> None:
    real = dispatches._request_payload

    def doubled(session, *, application, agency):  # type: ignore[no-untyped-def]
        payload = real(session, application=application, agency=agency)
        if agency == Agency.BANK:
            payload["amount_fen"] *= 2
        return payload

    monkeypatch.setattr(dispatches, "_request_payload", doubled)


def _paying_another_account(monkeypatch: pytest.MonkeyPatch) -> None:
    real = dispatches._payout_account

    def diverted(session, app, person):  # type: ignore[no-untyped-def]
        return {**real(session, app, person), "no": "6228480402564897777"}

    monkeypatch.setattr(dispatches, "_payout_account", diverted)


def test_a_doubled_payout_amount_is_caught_by_reconciliation_and_by_the_bookings_check(
    refund, simulator, session_factory, shift_clock, monkeypatch
):
    _doubling_bank_amounts(monkeypatch)
    dispatcher, ids = refund(pension=1, medical=1)
    view = _reconcile(dispatcher, shift_clock)

    assert sorted(_kinds(view)) == sorted(("amount_differs", "bank", i) for i in ids)
    [bank] = [t for t in view.agencies if t.agency == Agency.BANK]
    assert bank.theirs_amount_fen == 2 * bank.ours_amount_fen
    assert len(booking_mismatches(simulator.state, session_factory)) == 2


def test_a_payout_to_another_account_is_caught_by_reconciliation_and_by_the_bookings_check(
    refund, simulator, session_factory, shift_clock, monkeypatch
):
    _paying_another_account(monkeypatch)
    dispatcher, ids = refund(pension=1, medical=1)
    view = _reconcile(dispatcher, shift_clock)

    assert sorted(_kinds(view)) == sorted(("account_differs", "bank", i) for i in ids)
    problems = booking_mismatches(simulator.state, session_factory)
    assert problems == [f"bank: application {i} paid into another account" for i in ids]


def test_a_payout_booked_twice_is_caught_by_reconciliation_and_by_the_bookings_check(
    refund, simulator, session_factory, shift_clock
):
    dispatcher, ids = refund()
    # The mutation: the same payout order sent again under a new request id (what a worker
    # that lost track of its request id would do).
    [message] = [m for m in messages_of(session_factory, ids[0]) if m.agency == "bank"]
    dispatcher.adapters[Agency.BANK].submit(message.request_id + "-again", message.payload)

    view = _reconcile(dispatcher, shift_clock)

    assert _kinds(view) == [("paid_twice", "bank", ids[0])]
    [bank] = [t for t in view.agencies if t.agency == Agency.BANK]
    assert bank.theirs_count == bank.ours_count + 1
    assert booking_mismatches(simulator.state, session_factory) == [
        f"bank: application {ids[0]} booked 2 times"
    ]


# --------------------------------------------------------------------------- command line


def _cli(db_url, sim, tmp_path, *args):  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIREFUND_")}
    env.update(
        SIREFUND_DATABASE_URL=db_url,
        SIREFUND_AGENCY_URL=sim.url,
        SIREFUND_CALLBACK_SECRET=SECRET,
        SIREFUND_SECRET_KEY="test-secret-key-0123456789abcdef",
        SIREFUND_VAR_DIR=str(tmp_path / "var"),
    )
    return subprocess.run(
        [sys.executable, "-m", "sirefund.cli", "reconcile", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sirefund_reconcile_prints_totals_that_agree_and_exits_0_on_a_clean_day(
    refund, simulator, shift_clock, db_url, tmp_path
):
    refund()
    done = _cli(db_url, simulator, tmp_path, "--date", shift_clock.today().isoformat())

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"对账日期 {shift_clock.today().isoformat()}")
    [bank] = [line for line in lines if line.startswith("银行")]
    _, ours_n, ours_amount, theirs_n, theirs_amount, verdict = bank.split("\t")
    assert (ours_n, ours_amount, verdict) == (theirs_n, theirs_amount, "一致")
    assert ours_n == "2"
    assert "无差异" in done.stdout


def test_sirefund_reconcile_prints_every_discrepancy_and_exits_1(
    refund, simulator, shift_clock, db_url, tmp_path
):
    _, ids = refund()
    simulator.state.statement_faults.add(
        "alter_amount", agency="bank", application_id=ids[0], amount_fen=1
    )
    simulator.state.statement_faults.add("drop", agency="hrss", application_id=ids[1])

    done = _cli(db_url, simulator, tmp_path, "--date", shift_clock.today().isoformat())

    assert done.returncode == 1, done.stderr
    assert "差异 2 笔" in done.stdout
    assert f"金额不符（amount_differs）\t银行\t申请 {ids[0]}" in done.stdout
    assert "对方 0.01 元" in done.stdout
    assert f"对方无记录（missing_at_agency）\t人社\t申请 {ids[1]}" in done.stdout


def test_sirefund_reconcile_exits_2_when_a_statement_cannot_be_had(
    simulator, shift_clock, db_url, tmp_path
):
    simulator.down()
    done = _cli(db_url, simulator, tmp_path, "--date", shift_clock.today().isoformat())
    assert done.returncode == 2
    assert "对账文件获取失败" in done.stderr


# --------------------------------------------------------------------------- simulator


def test_the_simulator_serves_its_statement_and_takes_scripted_faults_over_http(
    refund, simulator, shift_clock
):
    _, ids = refund()
    day = shift_clock.today().isoformat()
    with httpx.Client(base_url=simulator.url) as http:
        rows = http.get("/_sim/statements/bank", params={"date": day}).json()["rows"]
        assert sorted(r["application_id"] for r in rows) == ids
        assert {r["status"] for r in rows} == {"paid"}
        assert all(r["account_no"] == "6228480402564890018" for r in rows)
        assert all(
            r["amount"] == f"{r['amount_fen'] // 100}.{r['amount_fen'] % 100:02d}" for r in rows
        )
        r = http.post(
            "/_sim/statements-faults",
            json=[{"fault": "drop", "agency": "bank", "application_id": ids[0]}],
        )
        assert r.status_code == 200
        rows = http.get("/_sim/statements/bank", params={"date": day}).json()["rows"]
        assert [r["application_id"] for r in rows] == ids[1:]
        assert http.post("/_sim/statements-faults", json=[{"fault": "burn"}]).status_code == 422
        assert http.delete("/_sim/statements-faults").json() == {"items": []}
        assert http.get("/_sim/statements/bank", params={"date": "2026-02-30"}).status_code == 422
        assert http.get("/_sim/statements/post-office", params={"date": day}).status_code == 404
        # What the adapter fetches is signed: an unsigned request is refused.
        assert http.get("/bank/statements", params={"date": day}).status_code == 401
        other_day = http.get("/_sim/statements/hrss", params={"date": "2001-01-01"}).json()
        assert other_day == {"agency": "hrss", "date": "2001-01-01", "rows": []}


def test_the_worker_reconciles_yesterday_by_itself_once_the_hour_is_reached_and_only_once(
    refund, session_factory, shift_clock
):
    import dataclasses
    from datetime import UTC, datetime, time, timedelta

    from sirefund.clock import CHINA_TZ

    dispatcher, _ids = refund()
    assert dispatcher.reconcile_if_due() is None  # reconcile_at_hour=-1: never by itself
    dispatcher = dataclasses.replace(
        dispatcher, settings=dispatcher.settings.model_copy(update={"reconcile_at_hour": 2})
    )
    day = shift_clock.today()

    def at_china(hour: int) -> None:
        target = datetime.combine(day + timedelta(days=1), time(hour), CHINA_TZ)
        shift_clock.offset = target - datetime.now(UTC)

    at_china(1)  # before settings.reconcile_at_hour (2): the statements may not be complete
    assert dispatcher.reconcile_if_due() is None
    at_china(3)
    view = dispatcher.reconcile_if_due()
    assert view is not None and view.clean
    assert {t.agency: t.ours_count for t in view.agencies}[Agency.BANK] == 2
    assert dispatcher.reconcile_if_due() is None  # yesterday has its run now
    with session_factory() as session:
        runs = session.execute(select(ReconciliationRun)).scalars().all()
    assert [(r.day, r.ran_by) for r in runs] == [(day, f"worker:{dispatcher.worker_id}")]
