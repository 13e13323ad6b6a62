"""The tamper-evident audit log (issue 9, part 3), on SQLite and PostgreSQL: every kind of
event leaves one row; the rows form a hash chain that `verify` walks; one row changed,
deleted or inserted among 100,000 is named; concurrent writers keep the chain whole; a
transaction that rolls back leaves no row."""

from __future__ import annotations

import contextlib
import json
import threading
from datetime import UTC, date, datetime, timedelta
from functools import cache

import pytest
from sqlalchemy import Connection, Engine, func, insert, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from sirefund import cli, imports
from sirefund.config import Settings
from sirefund.domain.audit import (
    GENESIS_HASH,
    HASHED_FIELDS,
    AuditAction,
    canonical_details,
    row_digest,
)
from sirefund.domain.errors import Unauthenticated
from sirefund.models import AuditChainHead, AuditCheckpoint, AuditRecord, Officer, Person
from sirefund.services import (
    accounts,
    audit,
    deposit_accounts,
    officers,
    review_decisions,
    review_detail,
)
from sirefund.services.deposit_accounts import ReportIn
from sirefund.services.review_detail import RevealRequest
from tests import factories as f
from tests.integration.test_imports import PENSION_HEADER, pension_row, write_csv
from tests.realname import register_person_service
from tests.web.officer_helpers import pension_app

BIG = 100_000


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(
        database_url="sqlite://",
        var_dir=tmp_path / "var",
        secret_key="test-secret-key-0123456789abcdef",
        callback_secret="test-callback-secret-0123456789",
    )


def _rows(session: Session) -> list[AuditRecord]:
    return list(session.execute(select(AuditRecord).order_by(AuditRecord.id)).scalars())


def _actions(session_factory: sessionmaker[Session]) -> list[str]:
    with session_factory() as s:
        return [r.action for r in _rows(s)]


def _verify(session_factory: sessionmaker[Session], **kw: object):
    with session_factory() as s, s.begin():
        return audit.verify(s, at=f.AT, **kw)


def _note(session: Session, n: int = 1, *, actor: str = "t") -> None:
    for i in range(n):
        audit.record(
            session,
            actor=audit.Actor.system(actor),
            action=AuditAction.IMPORT_RUN,
            at=f.AT,
            details={"i": i},
        )


# --------------------------------------------------------------------------- the chain


def test_rows_are_chained_at_commit_and_a_rolled_back_transaction_leaves_none(session_factory):
    with session_factory() as s, s.begin():
        _note(s, 3)
    with session_factory() as s, s.begin():
        _note(s, 2)
        s.rollback()
    with session_factory() as s, s.begin():
        _note(s, 1)

    with session_factory() as s:
        rows = _rows(s)
        head = s.get(AuditChainHead, 1)
    assert [r.id for r in rows] == [1, 2, 3, 4]
    assert rows[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:], strict=False))
    assert head is not None and (head.last_id, head.last_hash) == (4, rows[-1].row_hash)
    result = _verify(session_factory)
    assert result.broken is None and result.rows == 4


def test_details_never_hold_a_long_number_in_clear(session_factory):
    with session_factory() as s, s.begin():
        audit.record(
            s,
            actor=audit.Actor.system(),
            action=AuditAction.REVEAL,
            at=f.AT,
            details={
                "reason": "核对 420703195803120232 与 13812341234",
                "n": [6228480402564890018],
            },
        )
    with session_factory() as s:
        [row] = _rows(s)
    assert "420703195803120232" not in row.details and "13812341234" not in row.details
    assert "**************0232" in row.details and "*******1234" in row.details


def test_the_database_refuses_to_update_or_delete_audit_rows(session_factory):
    with session_factory() as s, s.begin():
        _note(s)
    for statement in ("UPDATE audit_log SET action = 'x'", "DELETE FROM audit_log"):
        with (
            session_factory() as s,
            pytest.raises(DBAPIError, match="append-only"),
            s.begin(),
        ):
            s.execute(text(statement))
    assert _verify(session_factory).broken is None


def test_concurrent_writers_keep_the_chain_whole(engine, session_factory):
    writers, each = 6, 15
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(n: int) -> None:
        try:
            start.wait()
            for _ in range(each):
                with session_factory() as s, s.begin():
                    # Something else first, as a real transaction would have done.
                    s.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
                    _note(s, 2, actor=f"w{n}")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    result = _verify(session_factory)
    assert result.broken is None
    assert result.rows == writers * each * 2


# --------------------------------------------------------------------------- 100,000 rows


@cache
def _chain(n: int) -> tuple[dict[str, object], ...]:
    """`n` correctly chained rows, hashed in Python (the fast way to a big log)."""
    rows: list[dict[str, object]] = []
    prev = GENESIS_HASH
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(1, n + 1):
        row: dict[str, object] = {
            "at": start + timedelta(seconds=i),
            "actor_kind": "officer",
            "actor_id": f"OF{i % 50:04d}",
            "action": AuditAction.APPLICATION_TRANSITION.value,
            "application_id": i,
            "person_id": i % 7000,
            "unit_id": None,
            "officer_id": None,
            "address": "10.0.0.1",
            "details": canonical_details({"from": "pending_review", "to": "approved"}),
            "prev_hash": prev,
        }
        prev = row_digest(**row)
        rows.append({**row, "id": i, "row_hash": prev})
    return tuple(rows)


def _tamper(engine: Engine, *statements: tuple[str, dict[str, object]]) -> None:
    """Someone with the owner's access, past the append-only triggers."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        else:
            for verb in ("update", "delete"):
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_log_no_{verb}")
        for sql, params in statements:
            conn.execute(text(sql), params)


@pytest.fixture
def big_log(engine: Engine) -> Engine:
    rows = _chain(BIG)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # COPY: a third of the time of INSERTs
            columns = list(rows[0])
            cursor = conn.connection.dbapi_connection.cursor()
            with cursor.copy(f"COPY audit_log ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([row[c] for c in columns])
        else:
            for start in range(0, BIG, 20_000):
                conn.execute(insert(AuditRecord), list(rows[start : start + 20_000]))
        _head(conn, BIG, str(rows[-1]["row_hash"]))
    return engine


def _head(conn: Connection, last_id: int, last_hash: str) -> None:
    conn.execute(insert(AuditChainHead), [{"id": 1, "last_id": last_id, "last_hash": last_hash}])


def test_an_intact_log_of_100000_rows_verifies(big_log, session_factory):
    result = _verify(session_factory, batch_size=5000)
    assert result.broken is None
    assert (result.rows, result.last_id) == (BIG, BIG)


@pytest.mark.parametrize("recompute", [False, True], ids=["as-is", "hash-recomputed"])
def test_one_changed_row_among_100000_is_named(big_log, session_factory, recompute):
    changed = {"d": canonical_details({"from": "pending_review", "to": "rejected"})}
    sql = "UPDATE audit_log SET details = :d WHERE id = 43210"
    if recompute:  # the forger also recomputes that row's own hash
        row = dict(_chain(BIG)[43210 - 1])
        row["details"] = changed["d"]
        fields = {k: v for k, v in row.items() if k not in ("id", "row_hash")}
        changed["h"] = row_digest(**fields)
        sql = "UPDATE audit_log SET details = :d, row_hash = :h WHERE id = 43210"
    _tamper(big_log, (sql, changed))

    broken = _verify(session_factory).broken

    assert broken is not None
    assert (broken.audit_id, broken.kind) == (43210, "changed")


def test_one_deleted_row_among_100000_is_named(big_log, session_factory):
    _tamper(big_log, ("DELETE FROM audit_log WHERE id = 77777", {}))
    broken = _verify(session_factory).broken
    assert broken is not None
    assert (broken.audit_id, broken.kind) == (77777, "deleted")
    assert "第 77777 行被删除" in broken.message


def test_deleting_the_newest_rows_is_seen_by_the_chain_head(big_log, session_factory):
    _tamper(big_log, ("DELETE FROM audit_log WHERE id > 99990", {}))
    broken = _verify(session_factory).broken
    assert broken is not None and (broken.audit_id, broken.kind) == (99991, "deleted")


def test_one_inserted_row_among_100000_is_named(big_log, session_factory):
    # Room is made by moving every later row one id up (ids are not hashed), and the forged
    # row links correctly to its predecessor, with a correct hash of its own.
    prev = str(_chain(BIG)[30000 - 1]["row_hash"])
    forged: dict[str, object] = {
        "at": datetime(2026, 1, 2, tzinfo=UTC),
        "actor_kind": "officer",
        "actor_id": "OF0001",
        "action": "application.transition",
        "application_id": 999,
        "person_id": 1,
        "unit_id": None,
        "officer_id": None,
        "address": "10.0.0.1",
        "details": canonical_details({"from": "approved", "to": "refunded"}),
        "prev_hash": prev,
    }
    forged_hash = row_digest(**forged)
    _tamper(
        big_log,
        ("UPDATE audit_log SET id = id + 1000000 WHERE id > 30000", {}),
        ("UPDATE audit_log SET id = id - 999999 WHERE id > 1000000", {}),
        ("UPDATE audit_chain_head SET last_id = last_id + 1", {}),
    )
    with big_log.begin() as conn:
        conn.execute(insert(AuditRecord), [{**forged, "id": 30001, "row_hash": forged_hash}])

    broken = _verify(session_factory).broken

    assert broken is not None
    assert (broken.audit_id, broken.kind) == (30001, "inserted")


def test_a_row_appended_behind_the_applications_back_is_named(big_log, session_factory):
    last = _chain(BIG)[-1]
    forged = {**last, "id": BIG + 1, "prev_hash": last["row_hash"]}
    fields = {k: v for k, v in forged.items() if k not in ("id", "row_hash")}
    forged["row_hash"] = row_digest(**fields)
    with big_log.begin() as conn:
        conn.execute(insert(AuditRecord), [forged])
    broken = _verify(session_factory).broken
    assert broken is not None and (broken.audit_id, broken.kind) == (BIG + 1, "inserted")


def test_a_rewritten_chain_contradicts_the_checkpoint_taken_before(session_factory, engine):
    with session_factory() as s, s.begin():
        _note(s, 5)
    assert _verify(session_factory).broken is None  # anchors row 5
    # Rewrite everything from row 3 on, every hash recomputed, the head too.
    with session_factory() as s:
        rows = [{c: getattr(r, c) for c in ("id", *HASHED_FIELDS, "row_hash")} for r in _rows(s)]
    prev = str(rows[1]["row_hash"])
    statements: list[tuple[str, dict[str, object]]] = []
    for row in rows[2:]:
        row["details"] = canonical_details({"i": "forged"})
        row["prev_hash"] = prev
        prev = row_digest(**{k: row[k] for k in HASHED_FIELDS})
        statements.append(
            (
                "UPDATE audit_log SET details = :d, prev_hash = :p, row_hash = :h WHERE id = :i",
                {"d": row["details"], "p": row["prev_hash"], "h": prev, "i": row["id"]},
            )
        )
    statements.append(("UPDATE audit_chain_head SET last_hash = :h", {"h": prev}))
    _tamper(engine, *statements)

    broken = _verify(session_factory).broken

    assert broken is not None and (broken.audit_id, broken.kind) == (5, "changed")
    assert "锚点" in broken.message


# --------------------------------------------------------------------------- every kind of event


def test_a_transition_and_a_reveal_are_audited_with_the_officer(session_factory, clock):
    with session_factory() as s, s.begin():
        officer = f.make_officer(s, code="REV01")
        app = pension_app(s)
        app_id, person_id = app.id, app.person_id
    with session_factory() as s, s.begin():
        review_decisions.approve(s, officer="REV01", application_id=app_id, at=clock.now())
    with session_factory() as s, s.begin():
        review_detail.reveal(
            s,
            officer="REV01",
            application_id=app_id,
            request=RevealRequest(field="id_number", reason="核对身份"),
            at=clock.now(),
        )
    with session_factory() as s:
        rows = _rows(s)
        id_number = s.get(Person, person_id).id_number
    created, approved, revealed = rows
    assert (created.action, created.actor_kind, created.application_id) == (
        "application.transition",
        "person",
        app_id,
    )
    assert json.loads(approved.details)["to"] == "approved"
    assert (approved.actor_kind, approved.actor_id, approved.person_id) == (
        "officer",
        officer.code,
        person_id,
    )
    assert (revealed.action, revealed.actor_id) == ("reveal", "REV01")
    assert json.loads(revealed.details) == {"field": "id_number", "reason": "核对身份"}
    assert all(id_number not in r.details for r in rows)


def test_registration_and_logins_are_audited_without_password_or_id_number(
    session_factory, clock, settings, realname_sim
):
    id_number = f.resident_id()
    with session_factory() as s, s.begin():
        account = register_person_service(
            s,
            settings=settings,
            id_number=id_number,
            name="邱世贵",
            phone="13812341234",
            password=f.PASSWORD,
            at=clock.now(),
            today=clock.today(),
        )
    for password in ("wrong-Passw0rd!", f.PASSWORD):
        with session_factory() as s, s.begin(), contextlib.suppress(Unauthenticated):
            accounts.login(
                s,
                kind="person",
                login=id_number,
                password=password,
                client_address="203.0.113.9",
                at=clock.now(),
                settings=settings,
            )
    with session_factory() as s:
        rows = _rows(s)
    assert [r.action for r in rows] == ["register.person", "login.failure", "login.success"]
    registered, failed, ok = rows
    assert registered.person_id == failed.person_id == ok.person_id
    assert failed.actor_kind == "anonymous" and ok.actor_kind == "person"
    assert failed.address == ok.address == "203.0.113.9"
    assert json.loads(failed.details)["outcome"] == "invalid_credentials"
    for row in rows:
        assert id_number not in row.details and f.PASSWORD not in row.details
        assert "13812341234" not in row.details
    assert account.id_number_masked not in ("", id_number)


def test_a_deposit_account_change_is_audited_with_only_the_last_four_digits(session_factory, clock):
    card = "6228480402564890018"
    with session_factory() as s, s.begin():
        person = f.make_person(s)
        person_id = person.id
    body = ReportIn.model_validate(
        {
            "handler_name": "邱世贵",
            "report_date": "2026-03-10",
            "submit": True,
            "accounts": [
                {
                    "account_nature": "1110",
                    "issue_date": "2026-03-10",
                    "division_code": "420700",
                    "bank_category": "103",
                    "bank_branch": "中国农业银行股份有限公司鄂州鄂城支行",
                    "account_name": "邱世贵",
                    "account_no": card,
                    "opened_on": "2020-01-01",
                }
            ],
        }
    )
    with session_factory() as s, s.begin():
        deposit_accounts.save_report(
            s, person_id=person_id, report_in=body, at=clock.now(), today=clock.today()
        )
    with session_factory() as s:
        [row] = _rows(s)
    details = json.loads(row.details)
    assert (row.action, row.actor_kind, row.person_id) == (
        "deposit_account.save",
        "person",
        person_id,
    )
    assert details["state"] == "submitted"
    assert details["accounts"][0]["account_no_last4"] == "0018"
    assert card not in row.details


def test_officer_creation_and_an_import_run_are_audited(engine, session_factory, clock, tmp_path):
    with session_factory() as s, s.begin():
        officers.add_officer(
            s,
            code="AUD01",
            name="审计员",
            region_code="420000",
            roles={"auditor"},
            password=f.PASSWORD,
            at=clock.now(),
            totp_secret=f.TOTP_SECRET,
            actor="cli:root",
        )
    path = write_csv(tmp_path / "pension.csv", PENSION_HEADER, [pension_row("PP1")])
    imports.import_file(engine, "pension-payments", path, today=date(2026, 3, 10))

    with session_factory() as s:
        created, imported = _rows(s)
        officer = s.execute(select(Officer).where(Officer.code == "AUD01")).scalar_one()
    assert officer.is_auditor and not officer.is_reviewer
    assert (created.action, created.actor_kind, created.actor_id, created.officer_id) == (
        "officer.create",
        "system",
        "cli:root",
        officer.id,
    )
    assert json.loads(created.details)["roles"] == ["auditor"]
    assert imported.action == "import.run"
    assert json.loads(imported.details) | {} == {
        "kind": "pension-payments",
        "file": "pension.csv",
        "loaded": 1,
        "updated": 0,
        "unchanged": 0,
        "rejected": 0,
        "refused": None,
    }
    assert _verify(session_factory).broken is None


def test_rows_wait_for_the_real_commit_not_a_savepoint(session_factory):
    with session_factory() as s, s.begin():
        _note(s, 1)
        with s.begin_nested():
            _note(s, 1)
        assert s.execute(select(func.count()).select_from(AuditRecord)).scalar_one() == 0
    assert _actions(session_factory) == ["import.run", "import.run"]


# --------------------------------------------------------------------------- the command


def test_audit_verify_exits_0_on_an_intact_chain_and_1_naming_the_broken_row(
    db_url, engine, session_factory, tmp_path, monkeypatch, capsys
):
    with session_factory() as s, s.begin():
        _note(s, 3)
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    monkeypatch.setenv("SIREFUND_VAR_DIR", str(tmp_path / "var"))

    assert cli.main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert "审计链完整：3 行，最后一行 3" in out
    with session_factory() as s:
        anchored = s.execute(select(AuditCheckpoint.audit_id)).scalars().all()
    assert anchored == [3]  # the verified tip is anchored

    _tamper(engine, ("DELETE FROM audit_log WHERE id = 2", {}))
    assert cli.main(["audit", "verify"]) == 1
    err = capsys.readouterr().err
    assert "审计链断开于第 2 行（deleted）" in err and "第 2 行被删除" in err
