"""The `sirefund` command line, run as an operator runs it (a subprocess of the installed
entry point) where the process boundary matters, in-process for the failure paths."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import func, select

from sirefund import cli
from sirefund.config import Settings
from sirefund.domain.errors import Unauthenticated
from sirefund.models import Officer, PensionPayment, SecurityEvent
from sirefund.services import accounts, passwords
from tests.factories import PASSWORD, TOTP_SECRET, otp, resident_id
from tests.integration.test_imports import PENSION_HEADER as HEADER

SIREFUND = Path(sys.executable).with_name("sirefund")
ID_A = resident_id("420703", "19580312", 21)


def _env(db_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIREFUND_")}
    env.update(SIREFUND_DATABASE_URL=db_url, SIREFUND_VAR_DIR=str(tmp_path / "var"))
    return env


def _pension_file(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _row(pid: str, status: str = "not_arrived") -> list[str]:
    return [
        pid,
        ID_A,
        "邱世贵",
        "420703",
        "700.00",
        "2025-01-01",
        "2025-12-31",
        "2025",
        "2025-03-01",
        "楚税通",
        status,
    ]


def test_import_prints_one_summary_line_and_writes_the_rejected_rows(
    db_url, session_factory, tmp_path
):
    path = _pension_file(tmp_path / "pension.csv", [_row("PP1"), _row("PP2", status="lost")])

    done = subprocess.run(
        [str(SIREFUND), "import", "pension-payments", str(path)],
        env=_env(db_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    rejected = tmp_path / "pension.rejected.csv"
    assert done.stdout == (
        f"pension-payments: loaded 1, updated 0, unchanged 0, rejected 1 (see {rejected})\n"
    )
    assert "\r" not in done.stderr, "no progress bar when stderr is not a terminal"
    assert "arrival_status.unknown" in rejected.read_text(encoding="utf-8")
    with session_factory() as s:
        assert s.execute(select(PensionPayment.payment_id)).scalars().all() == ["PP1"]


def test_import_of_a_file_missing_a_column_exits_non_zero_with_a_one_line_reason(
    db_url, session_factory, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    header = [c for c in HEADER if c != "arrival_status"]
    path = _pension_file(tmp_path / "p.csv", [_row("PP1")[:-1]], header)

    status = cli.main(["import", "pension-payments", str(path)])

    out = capsys.readouterr()
    assert status != 0
    assert out.out == ""
    assert out.err.strip().count("\n") == 0
    assert "import.missing_columns" in out.err and "arrival_status" in out.err
    with session_factory() as s:
        assert s.execute(select(func.count()).select_from(PensionPayment)).scalar_one() == 0


def test_import_of_a_missing_file_exits_non_zero(db_url, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    assert cli.main(["import", "pension-payments", str(tmp_path / "nope.csv")]) != 0
    assert "文件不存在" in capsys.readouterr().err


def test_officer_add_reads_the_password_from_stdin_and_stores_an_argon2id_hash(
    db_url, session_factory, tmp_path
):
    done = subprocess.run(
        [
            str(SIREFUND),
            "officer",
            "add",
            "--code",
            "OF0420",
            "--name",
            "张税务",
            "--region",
            "420700",
            "--role",
            "reviewer",
            "--role",
            "initiator",
        ],
        input=PASSWORD + "\n",
        env=_env(db_url, tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "OF0420" in done.stdout and PASSWORD not in done.stdout + done.stderr
    with session_factory() as s:
        officer = s.execute(select(Officer).where(Officer.code == "OF0420")).scalar_one()
        assert (officer.name, officer.region_code) == ("张税务", "420700")
        assert officer.is_reviewer and officer.is_initiator and officer.active
        assert officer.password_hash.startswith("$argon2id$")
        assert passwords.verify_password(officer.password_hash, PASSWORD)


def test_officer_add_refuses_a_weak_password_and_a_taken_code(
    db_url, session_factory, monkeypatch, capsys
):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    argv = ["officer", "add", "--code", "OF0421", "--name", "李审核", "--region", "420700"]

    monkeypatch.setattr(sys, "stdin", io.StringIO("123456\n"))
    assert cli.main(argv) == 1
    assert "password.too_short" in capsys.readouterr().err

    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(argv) == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(argv) == 1
    assert "officer.exists" in capsys.readouterr().err
    with session_factory() as s:
        officer = s.execute(select(Officer).where(Officer.code == "OF0421")).scalar_one()
        assert officer.is_reviewer and not officer.is_initiator  # reviewer is the default role


def test_officer_add_with_a_totp_secret_stores_that_secret_and_prints_no_other(
    db_url, session_factory, monkeypatch, capsys
):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    argv = ["officer", "add", "--code", "OF0422", "--name", "李审核", "--region", "420700"]
    assert cli.main([*argv, "--totp-secret", "jbsw y3dp ehpk 3pxp"]) == 0
    out = capsys.readouterr().out
    assert "otpauth://" not in out
    with session_factory() as s:
        officer = s.execute(select(Officer).where(Officer.code == "OF0422")).scalar_one()
        assert officer.totp_secret == "JBSWY3DPEHPK3PXP"  # normalised: upper case, no spaces


def test_officer_add_refuses_a_totp_secret_that_is_no_base32(db_url, monkeypatch, capsys):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    argv = ["officer", "add", "--code", "OF0423", "--name", "李审核", "--region", "420700"]
    assert cli.main([*argv, "--totp-secret", "not-base32-0189"]) == 1
    assert "officer.totp_secret" in capsys.readouterr().err


def test_officer_add_without_a_secret_makes_one_and_prints_its_provisioning_uri(
    db_url, session_factory, monkeypatch, capsys
):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    argv = ["officer", "add", "--code", "OF0424", "--name", "李审核", "--region", "420700"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    with session_factory() as s:
        secret = s.execute(select(Officer.totp_secret).where(Officer.code == "OF0424")).scalar_one()
    assert secret is not None and len(secret) == 32
    uri = next(line.split()[-1] for line in out.splitlines() if "otpauth://" in line)
    assert pyotp.parse_uri(uri).secret == secret
    assert "OF0424" in uri
    assert "\u2588" in out or "\u2580" in out or "\u2584" in out  # the terminal QR code


def test_officer_totp_gives_a_new_secret_with_which_the_officer_logs_in_and_not_the_old(
    db_url, session_factory, monkeypatch, capsys, tmp_path
):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    argv = ["officer", "add", "--code", "OF0425", "--name", "李审核", "--region", "420700"]
    assert cli.main([*argv, "--totp-secret", TOTP_SECRET]) == 0
    capsys.readouterr()

    assert cli.main(["officer", "totp", "--code", "OF0425"]) == 0
    out = capsys.readouterr().out
    with session_factory() as s:
        secret = s.execute(select(Officer.totp_secret).where(Officer.code == "OF0425")).scalar_one()
    assert secret is not None and secret != TOTP_SECRET
    uri = next(line.split()[-1] for line in out.splitlines() if "otpauth://" in line)
    assert pyotp.parse_uri(uri).secret == secret
    assert "\u2588" in out or "\u2580" in out or "\u2584" in out  # the terminal QR code

    settings = Settings(
        database_url=db_url, var_dir=tmp_path, secret_key="test-secret-key-0123456789abcdef"
    )
    at = datetime.now(UTC)
    with session_factory() as s:
        with pytest.raises(Unauthenticated):
            _officer_login(s, settings, "OF0425", otp(at), at=at)
        _officer_login(s, settings, "OF0425", otp(at, secret=secret), at=at)
        events = s.execute(
            select(SecurityEvent.detail).where(SecurityEvent.kind == "officer.totp_reset")
        ).scalars()
        assert all(secret not in (detail or "") for detail in events)


def test_officer_totp_takes_a_given_secret_and_refuses_an_unknown_code(
    db_url, session_factory, monkeypatch, capsys
):
    monkeypatch.setenv("SIREFUND_DATABASE_URL", db_url)
    monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
    argv = ["officer", "add", "--code", "OF0426", "--name", "李审核", "--region", "420700"]
    assert cli.main(argv) == 0
    capsys.readouterr()

    assert cli.main(["officer", "totp", "--code", "OF0426", "--totp-secret", TOTP_SECRET]) == 0
    assert "otpauth://" not in capsys.readouterr().out
    with session_factory() as s:
        stored = s.execute(select(Officer.totp_secret).where(Officer.code == "OF0426")).scalar_one()
    assert stored == TOTP_SECRET

    assert cli.main(["officer", "totp", "--code", "NOBODY"]) == 1
    err = capsys.readouterr().err
    assert "officer.unknown" in err and "未找到该税务人员" in err


def _officer_login(s, settings, code, code_now, *, at):
    return accounts.login(
        s,
        kind="officer",
        login=code,
        password=PASSWORD,
        otp=code_now,
        client_address="192.0.2.9",
        at=at,
        settings=settings,
    )


def test_db_upgrade_creates_the_schema_of_an_empty_database_and_is_idempotent(tmp_path):
    from sirefund import migrate
    from sirefund.db import make_engine

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    for _ in range(2):
        done = subprocess.run(
            [str(SIREFUND), "db", "upgrade"],
            env=_env(url, tmp_path),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,  # the assertion below shows stderr
        )
        assert done.returncode == 0, done.stderr
        assert f"database at revision {migrate.head_revision()}" in done.stdout
    engine = make_engine(url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()
