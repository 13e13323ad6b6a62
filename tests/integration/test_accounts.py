"""Accounts use cases at the service layer: registration, login and throttling, sessions and
the owner's view of the account. A session on a fresh database and a fixed clock, no HTTP
(tests/web/test_accounts_api.py proves the HTTP contract). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sirefund.config import Settings
from sirefund.domain import identity
from sirefund.domain.errors import (
    Conflict,
    Invalid,
    NotFound,
    TooManyRequests,
    Unauthenticated,
)
from sirefund.models import LoginFailure, Person, SecurityEvent, VerificationCode
from sirefund.services import accounts, officers, verification
from sirefund.services.accounts import (
    AccountKind,
    OfficerAccount,
    PersonAccount,
    Principal,
    UnitAccount,
)
from tests import factories as f
from tests import realname
from tests.conftest import NOW, FixedClock
from tests.realname import register_person_service

NEW_PASSWORD = "Hubei-2026-refund"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url="sqlite://",
        var_dir=tmp_path / "var",
        secret_key="test-secret-key-0123456789abcdef",
        callback_secret="test-callback-secret-0123456789",
    )


def _login(
    session: Session,
    settings: Settings,
    login: str,
    password: str = f.PASSWORD,
    *,
    kind: AccountKind = "person",
    client_address: str = "192.0.2.1",
    at: datetime = NOW,
) -> tuple[str, Principal]:
    return accounts.login(
        session,
        kind=kind,
        login=login,
        password=password,
        otp=f.otp(at) if kind == "officer" else None,
        client_address=client_address,
        at=at,
        settings=settings,
    )


@pytest.fixture(autouse=True)
def _sms_and_identity_simulators(realname_sim):  # type: ignore[no-untyped-def]
    """Registration reaches the SMS and identity simulators over HTTP (tests/realname.py)."""
    return realname_sim


def _failures(session: Session) -> int:
    return session.execute(select(func.count()).select_from(LoginFailure)).scalar_one()


# --------------------------------------------------------------------------- registration


def test_a_person_known_from_payments_registers_on_their_own_row_and_sees_it_masked(
    session: Session, clock: FixedClock, settings: Settings
) -> None:
    known = f.make_person(session, name="邱世贵")
    account = register_person_service(
        session,
        settings=settings,
        id_number=known.id_number,
        name=" 邱世贵 ",
        phone="13812341234",
        password=NEW_PASSWORD,
        username="Qiu_SG",
        at=clock.now(),
        today=clock.today(),
    )
    assert account == PersonAccount(
        display_name="邱世贵",
        region_code="420703",
        id_number_masked=identity.mask_id_number(known.id_number),
        phone_masked="138****1234",
        username="qiu_sg",
        registered_at=NOW,
    )
    assert session.execute(select(func.count()).select_from(Person)).scalar_one() == 1


def test_an_unknown_id_creates_the_person_in_the_region_of_its_first_six_digits(
    session: Session, clock: FixedClock, settings: Settings
) -> None:
    account = register_person_service(
        session,
        settings=settings,
        id_number=f.resident_id("420102"),
        name="新用户",
        phone="13900001111",
        password=NEW_PASSWORD,
        at=clock.now(),
        today=clock.today(),
    )
    assert account.region_code == "420102" and account.username is None


def test_a_name_other_than_the_one_on_record_is_refused_before_saying_already_registered(
    session: Session, clock: FixedClock, settings: Settings
) -> None:
    known = f.make_person(session, password=f.PASSWORD)
    with pytest.raises(Invalid) as refused:
        register_person_service(
            session,
            settings=settings,
            id_number=known.id_number,
            name="别人",
            phone="13900001111",
            password=NEW_PASSWORD,
            at=clock.now(),
            today=clock.today(),
        )
    assert (refused.value.code, refused.value.field) == ("register.name_mismatch", "name")
    with pytest.raises(Conflict) as again:
        register_person_service(
            session,
            settings=settings,
            id_number=known.id_number,
            name=known.name,
            phone="13900002222",
            password=NEW_PASSWORD,
            at=clock.now(),
            today=clock.today(),
        )
    assert again.value.code == "register.already_registered"


def test_a_password_equal_to_the_accounts_own_phone_is_refused(
    session: Session, clock: FixedClock, settings: Settings
) -> None:
    with pytest.raises(Invalid) as refused:
        register_person_service(
            session,
            settings=settings,
            id_number=f.resident_id(),
            name="新用户",
            phone="13900001111",
            password="13900001111",
            at=clock.now(),
            today=clock.today(),
        )
    assert (refused.value.code, refused.value.field) == ("password.weak", "password")


@pytest.mark.parametrize("password", ["woaini123", "Lantern-{birth}-orchard", "Q{id_number}q"])
def test_registration_refuses_a_guessable_password_or_one_with_the_id_or_birth_date(
    session: Session, clock: FixedClock, settings: Settings, password: str
) -> None:
    id_number = f.resident_id(birth="19761103")
    with pytest.raises(Invalid) as refused:
        register_person_service(
            session,
            settings=settings,
            id_number=id_number,
            name="新用户",
            phone="13900001111",
            password=password.format(birth="19761103", id_number=id_number),
            at=clock.now(),
            today=clock.today(),
        )
    assert (refused.value.code, refused.value.field) == ("password.weak", "password")


def test_an_officer_password_containing_the_officer_code_is_refused(
    session: Session, clock: FixedClock
) -> None:
    with pytest.raises(Invalid) as refused:
        officers.add_officer(
            session,
            code="HB4207",
            name="李审核",
            region_code="420703",
            roles={"reviewer"},
            password="hb4207-Lantern-orchard",
            at=clock.now(),
        )
    assert (refused.value.code, refused.value.field) == ("password.weak", "password")


def _unit_code(session: Session, settings: Settings, phone: str, at: datetime) -> str:
    sim = realname.running()
    verification.send_code(
        session,
        phone=phone,
        purpose="register",
        client_address="192.0.2.60",
        sms=sim.sms(),
        at=at,
        settings=settings,
    )
    return sim.latest_code(phone)


def test_a_unit_registers_through_its_handler_on_record_and_nobody_else(
    session: Session, clock: FixedClock, settings: Settings
) -> None:
    handler = (f.resident_id(birth="19850715"), "刘桂芳", realname.fresh_phone())
    unit = f.make_unit(session, handler=handler)

    def register(tax_id: str, name: str, who: tuple[str, str, str], at: datetime) -> UnitAccount:
        return accounts.register_unit(
            session,
            tax_id=tax_id,
            name=name,
            handler_id_number=who[0],
            handler_name=who[1],
            handler_phone=who[2],
            verification_code=_unit_code(session, settings, who[2], at),
            password=NEW_PASSWORD,
            at=at,
            today=clock.today(),
            settings=settings,
        )

    impostor = (f.resident_id(birth="19900101"), "王小明", realname.fresh_phone())
    for tax_id, who in (("9" * 18, handler), (unit.tax_id, impostor)):
        with pytest.raises(Invalid) as refused:
            register(tax_id, unit.name, who, clock.now())
        assert refused.value.code == "unit.handler_not_on_record"
    account = register(
        f"{unit.tax_id[:6]} {unit.tax_id[6:]}",
        f" {unit.name} ",
        handler,
        NOW + timedelta(minutes=1),
    )
    assert account == UnitAccount(
        display_name=unit.name,
        region_code="420703",
        tax_id=unit.tax_id,
        ss_no=unit.ss_no,
        registered_at=NOW + timedelta(minutes=1),
    )


def test_someone_elses_id_and_name_with_the_attackers_own_phone_is_not_verified(
    session: Session, clock: FixedClock, settings: Settings
) -> None:
    victim = f.make_person(session, name="王秀英")
    realname.running().add_identity(victim.id_number, "王秀英", realname.fresh_phone())
    with pytest.raises(Invalid) as refused:
        register_person_service(
            session,
            settings=settings,
            at=clock.now(),
            today=clock.today(),
            id_number=victim.id_number,
            name="王秀英",
            password=NEW_PASSWORD,
            known_to_identity_service=False,  # the attacker's phone is not the victim's
        )
    assert refused.value.code == "identity.not_verified"
    session.refresh(victim)
    assert victim.password_hash is None and victim.verified_at is None


def test_a_wrong_code_counts_a_try_and_five_use_the_code_up(
    session: Session, clock: FixedClock, settings: Settings
) -> None:
    phone = realname.fresh_phone()
    code = _unit_code(session, settings, phone, clock.now())
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(settings.verification_code_tries):
        with pytest.raises(Invalid):
            verification.use_code(
                session, phone=phone, purpose="register", code=wrong, at=NOW, settings=settings
            )
    session.expire_all()
    row = session.execute(select(VerificationCode)).scalar_one()
    assert (row.attempts, row.used_at is not None) == (5, True)
    with pytest.raises(Invalid):
        verification.use_code(
            session, phone=phone, purpose="register", code=code, at=NOW, settings=settings
        )


def test_codes_are_throttled_per_phone_and_per_day(
    session: Session, clock: FixedClock, settings: Settings
) -> None:
    phone = realname.fresh_phone()
    _unit_code(session, settings, phone, NOW)
    with pytest.raises(TooManyRequests) as soon:
        _unit_code(session, settings, phone, NOW + timedelta(seconds=59))
    assert soon.value.retry_after_seconds == 1
    at = NOW + timedelta(seconds=60)
    for _ in range(settings.verification_daily_max - 1):
        _unit_code(session, settings, phone, at)
        at += timedelta(seconds=60)
    with pytest.raises(TooManyRequests) as daily:
        _unit_code(session, settings, phone, at)
    assert daily.value.code == "verification.too_frequent"
    assert daily.value.retry_after_seconds == 24 * 3600 - 600
    _unit_code(session, settings, phone, NOW + timedelta(days=1, seconds=1))


# --------------------------------------------------------------------------- login, sessions


@pytest.mark.parametrize("how", ["id_number", "phone", "username"])
def test_a_person_logs_in_by_id_number_phone_or_username_and_the_token_resolves(
    session: Session, settings: Settings, how: str
) -> None:
    person = f.make_person(session, password=f.PASSWORD, phone="13812341234", username="qiu_sg")
    login = {"id_number": person.id_number, "phone": "13812341234", "username": "QIU_SG"}[how]
    token, principal = _login(session, settings, login)
    assert (principal.kind, principal.account_id) == ("person", person.id)
    resolved = accounts.resolve_session(session, token=token, at=NOW, settings=settings)
    assert resolved == principal


def test_a_session_ends_when_idle_too_long_or_revoked(session: Session, settings: Settings) -> None:
    person = f.make_person(session, password=f.PASSWORD)
    token, principal = _login(session, settings, person.id_number)
    idle = NOW + timedelta(minutes=settings.session_idle_minutes)
    assert accounts.resolve_session(session, token=token, at=idle, settings=settings) is None
    token, principal = _login(session, settings, person.id_number)
    accounts.revoke_session(session, session_id=principal.session_id, at=NOW)
    assert accounts.resolve_session(session, token=token, at=NOW, settings=settings) is None


def test_every_request_restarts_the_idle_timer(session: Session, settings: Settings) -> None:
    # A session used at 50 s of a 2-minute idle limit lives until 170 s, not 120 s.
    person = f.make_person(session)
    two_minutes = settings.model_copy(update={"session_idle_minutes": 2})
    token, _ = accounts.create_session(
        session, kind="person", account_id=person.id, at=NOW, settings=two_minutes
    )

    def alive(seconds: int) -> bool:
        at = NOW + timedelta(seconds=seconds)
        return (
            accounts.resolve_session(session, token=token, at=at, settings=two_minutes) is not None
        )

    assert alive(50)
    assert alive(125)
    assert alive(244)  # 119 s after the use at 125 s
    assert not alive(364)  # 120 s after the use at 244 s: ended, and ended for good
    assert not alive(365)


def test_an_unknown_account_and_a_wrong_password_get_the_same_refusal(
    session: Session, settings: Settings
) -> None:
    person = f.make_person(session, password=f.PASSWORD)
    refusals = []
    for login in (person.id_number, f.resident_id()):
        with pytest.raises(Unauthenticated) as refused:
            _login(session, settings, login, "wrong-password")
        refusals.append((refused.value.code, refused.value.message))
    assert refusals[0] == refusals[1] == ("auth.invalid_credentials", "账号或密码错误")


def _fail(session: Session, settings: Settings, login: str, **where: object) -> None:
    with pytest.raises(Unauthenticated):
        _login(session, settings, login, "wrong-password", **where)  # type: ignore[arg-type]


def _wait(session: Session, settings: Settings, login: str, **where: object) -> int:
    """The seconds a login with the right password is told to wait (0: it got in)."""
    try:
        _login(session, settings, login, **where)  # type: ignore[arg-type]
    except TooManyRequests as exc:
        return exc.retry_after_seconds or 0
    return 0


def test_after_the_free_failures_an_account_waits_a_short_delay_then_its_owner_gets_in(
    session: Session, settings: Settings
) -> None:
    person = f.make_person(session, password=f.PASSWORD)
    for _ in range(settings.login_free_failures):
        _fail(session, settings, person.id_number)
    # Even with the right password and from another address: the account itself waits...
    with pytest.raises(TooManyRequests) as throttled:
        _login(session, settings, person.id_number, client_address="198.51.100.20")
    assert throttled.value.retry_after_seconds == settings.login_delay_seconds == 5
    assert throttled.value.message == "登录失败次数过多，请5秒后再试"
    # ... only that long: no lock.
    later = NOW + timedelta(seconds=settings.login_delay_seconds)
    _, principal = _login(session, settings, person.id_number, at=later)
    assert principal.account_id == person.id


def test_each_further_failure_doubles_the_accounts_delay_up_to_its_cap(
    session: Session, settings: Settings
) -> None:
    login, at = f.make_person(session, password=f.PASSWORD).id_number, NOW
    for _ in range(settings.login_free_failures):
        _fail(session, settings, login, at=at)
    waits = []
    for n in range(8):
        wait = _wait(session, settings, login, at=at, client_address=f"198.51.100.{n}")
        waits.append(wait)
        at += timedelta(seconds=wait)
        _fail(session, settings, login, at=at, client_address=f"203.0.113.{n}")
    assert waits == [5, 10, 20, 40, 80, 160, 300, 300]
    # A quiet window ends the row of failures: the next failure is a free one again.
    at += timedelta(seconds=settings.login_window_seconds)
    _fail(session, settings, login, at=at)
    assert _wait(session, settings, login, at=at) == 0


def test_the_owner_gets_in_during_an_attack_from_many_addresses_once_the_delay_has_passed(
    session: Session, settings: Settings
) -> None:
    """An attacker guessing as fast as allowed, from a new address each time, only ever
    lengthens the wait up to its cap: the owner gets in as soon as the delay has passed."""
    person = f.make_person(session, password=f.PASSWORD)
    at, failures, n = NOW, 0, 0
    while failures < 15:  # well past the cap of the delay
        n += 1
        try:
            _login(
                session, settings, person.id_number, "guess", client_address=f"203.0.113.{n}", at=at
            )
        except TooManyRequests as throttled:
            at += timedelta(seconds=throttled.retry_after_seconds or 0)
        except Unauthenticated:
            failures += 1
    owner = "198.51.100.7"
    wait = _wait(session, settings, person.id_number, at=at, client_address=owner)
    assert 0 < wait <= settings.login_max_delay_seconds
    _, principal = _login(
        session, settings, person.id_number, at=at + timedelta(seconds=wait), client_address=owner
    )
    assert principal.account_id == person.id


def test_an_address_that_spent_its_budget_waits_for_its_oldest_failure_to_leave_the_window(
    session: Session, settings: Settings
) -> None:
    settings.login_address_max_failures = 3
    person = f.make_person(session, password=f.PASSWORD)
    attacker = "203.0.113.50"
    for n in range(3):
        _fail(
            session,
            settings,
            f.resident_id(),
            at=NOW + timedelta(seconds=n),
            client_address=attacker,
        )
    at = NOW + timedelta(seconds=10)
    assert _wait(session, settings, person.id_number, at=at, client_address=attacker) == (
        settings.login_window_seconds - 10
    )
    # Only that address: the account had no failures and its owner is elsewhere.
    assert _wait(session, settings, person.id_number, at=at, client_address="198.51.100.8") == 0


def test_recording_a_failure_purges_the_expired_failures_of_every_account(
    session: Session, settings: Settings
) -> None:
    for login in ("13800000001", "13800000002"):
        with pytest.raises(Unauthenticated):
            _login(session, settings, login, "wrong-password", client_address=login)
    assert _failures(session) == 4  # one per account, one per address
    later = NOW + timedelta(seconds=settings.login_window_seconds)
    with pytest.raises(Unauthenticated):
        _login(session, settings, "13800000003", "wrong-password", at=later)
    assert _failures(session) == 2  # only the new failure's two scopes are left


def test_an_address_may_try_ten_registrations_in_the_window_then_waits_for_its_oldest(
    session: Session, settings: Settings
) -> None:
    def attempt(address: str, at: datetime) -> None:
        accounts.count_registration_attempt(
            session, client_address=address, at=at, settings=settings
        )

    for n in range(settings.register_address_max_attempts):
        attempt("203.0.113.5", NOW + timedelta(seconds=n))
    later = NOW + timedelta(seconds=60)
    with pytest.raises(TooManyRequests) as throttled:
        attempt("203.0.113.5", later)
    assert throttled.value.code == "register.too_frequent"
    assert throttled.value.retry_after_seconds == settings.register_window_seconds - 60
    attempt("198.51.100.5", later)  # another address has its own budget
    # A login failure's purge keeps what the registration window still counts.
    settings.login_window_seconds = 60
    with pytest.raises(Unauthenticated):
        _login(session, settings, "13800000009", "wrong-password", at=later)
    with pytest.raises(TooManyRequests):
        attempt("203.0.113.5", later)
    attempt("203.0.113.5", NOW + timedelta(seconds=settings.register_window_seconds))


def _officer_login(
    session: Session, settings: Settings, code: str, otp: str, *, at: datetime
) -> Principal:
    return accounts.login(
        session,
        kind="officer",
        login=code,
        password=f.PASSWORD,
        otp=otp,
        client_address="192.0.2.9",
        at=at,
        settings=settings,
    )[1]


def test_an_officer_without_a_secret_logs_in_with_the_one_totp_reset_gives_and_not_the_old(
    session: Session, settings: Settings
) -> None:
    officer = f.make_officer(session, code="OF9101")
    officer.totp_secret = None  # as migration 0003 leaves an existing officer
    new_secret = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
    at = NOW + timedelta(minutes=1)
    with pytest.raises(Unauthenticated):
        _officer_login(session, settings, "OF9101", f.otp(at), at=at)

    officers.reset_totp(session, code="OF9101", at=at, actor="cli:root", totp_secret=new_secret)

    later = at + timedelta(minutes=1)
    with pytest.raises(Unauthenticated):
        _officer_login(session, settings, "OF9101", f.otp(later), at=later)
    principal = _officer_login(
        session, settings, "OF9101", f.otp(later, secret=new_secret), at=later
    )
    assert principal.account_id == officer.id
    event = session.execute(
        select(SecurityEvent).where(SecurityEvent.kind == "officer.totp_reset")
    ).scalar_one()
    assert event.actor == "cli:root" and "OF9101" in (event.detail or "")
    assert new_secret not in (event.detail or "")


def test_a_totp_reset_forgets_the_last_used_step_and_refuses_an_unknown_officer(
    session: Session, settings: Settings
) -> None:
    officer = f.make_officer(session, code="OF9102")
    officer.totp_last_step = 10**9  # a step far ahead: no code of the old secret would pass
    reset = officers.reset_totp(session, code="OF9102", at=NOW, actor="cli:root")
    assert reset.totp_last_step is None
    assert reset.totp_secret is not None and reset.totp_secret != f.TOTP_SECRET
    _officer_login(session, settings, "OF9102", f.otp(NOW, secret=reset.totp_secret), at=NOW)

    with pytest.raises(NotFound) as unknown:
        officers.reset_totp(session, code="NOBODY", at=NOW, actor="cli:root")
    assert unknown.value.code == "officer.unknown"


# --------------------------------------------------------------------------- the account


def test_each_kind_of_account_is_described_to_its_owner_with_the_sessions_end(
    session: Session, settings: Settings
) -> None:
    person = f.make_person(session, password=f.PASSWORD, phone="13812341234")
    unit = f.make_unit(session, password=f.PASSWORD)
    officer = f.make_officer(session, code="OF9001", region="420700", initiator=True)
    ends = NOW + timedelta(hours=settings.session_absolute_hours)

    _, as_person = _login(session, settings, person.id_number)
    described = accounts.describe_account(session, principal=as_person)
    assert isinstance(described, PersonAccount)
    assert (described.phone_masked, described.expires_at) == ("138****1234", ends)

    _, as_unit = _login(session, settings, unit.tax_id, kind="unit")
    described = accounts.describe_account(session, principal=as_unit)
    assert isinstance(described, UnitAccount) and described.tax_id == unit.tax_id

    _, as_officer = _login(session, settings, "OF9001", kind="officer")
    assert accounts.describe_account(session, principal=as_officer) == OfficerAccount(
        display_name=officer.name,
        region_code="420700",
        officer_code="OF9001",
        is_reviewer=True,
        is_initiator=True,
        expires_at=ends,
    )
