"""Read-side queries that pages and the API list from. Each is one SQL statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Literal, cast, get_args

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from ..db import DRIVER_CONNECTION
from ..domain.errors import Invalid
from ..domain.rules import ArrivalStatus
from ..domain.workflow import ACTIVE, ApplicationKind

PensionState = Literal["all", "refundable", "applied"]
PENSION_STATES: tuple[str, ...] = get_args(PensionState)
_ACTIVE_VALUES = frozenset(s.value for s in ACTIVE)
_ARRIVED = ArrivalStatus.ARRIVED.value


@dataclass(frozen=True, slots=True)
class PensionPaymentRow:
    """A person's pension payment with the application that speaks for it.

    ``application_*`` is the payment's active application if it has one, else its latest
    (cancelled, rejected, ...) one, else None. ``refundable``: the person may apply now
    (not arrived or abnormal, and no active application).
    """

    payment_id: str
    person_id: int
    amount_fen: int
    period_start: date
    period_end: date
    payment_year: int
    payment_date: date
    channel: str
    arrival_status: str
    refundable: bool
    application_id: int | None
    application_status: str | None

    @property
    def has_active_application(self) -> bool:
        return self.application_status in _ACTIVE_VALUES


@lru_cache(maxsize=32)
def _pension_sql(
    placeholder: str,
    with_year: bool,
    state: str,
    with_arrival: bool = False,
    person: str | None = None,
) -> str:
    """The statement, per driver placeholder style, year filter and state (`person`: what
    the person id is compared with, a parameter unless given).

    The join picks the payment's active application, else its latest: a correlated subquery
    ordered by (active first, newest first). Filtering it on person and kind first lets the
    (person_id, kind, payment_year) index of applications find the few candidates; the outer
    filter uses the (person_id, payment_year) index of pension_payments.
    """
    active = ", ".join(f"'{s}'" for s in sorted(_ACTIVE_VALUES))
    where = [f"p.person_id = {person or placeholder}"]
    if with_year:
        where.append(f"p.payment_year = {placeholder}")
    if with_arrival:
        where.append(f"p.arrival_status = {placeholder}")
    if state == "refundable":
        where.append(
            f"p.arrival_status <> '{_ARRIVED}' AND (a.id IS NULL OR a.status NOT IN ({active}))"
        )
    elif state == "applied":
        where.append(f"a.status IN ({active})")
    return (
        "SELECT p.payment_id, p.person_id, p.amount_fen, p.period_start, p.period_end, "
        "p.payment_year, p.payment_date, p.channel, p.arrival_status, a.id, a.status "
        "FROM pension_payments p LEFT OUTER JOIN applications a ON a.id = ("
        " SELECT c.id FROM applications c"
        f" WHERE c.person_id = p.person_id AND c.kind = '{ApplicationKind.PENSION.value}'"
        " AND c.pension_payment_id = p.payment_id"
        f" ORDER BY CASE WHEN c.status IN ({active}) THEN 0 ELSE 1 END, c.id DESC LIMIT 1) "
        f"WHERE {' AND '.join(where)} "
        "ORDER BY p.period_start, p.payment_id"
    )


def _as_date(value: date | str) -> date:
    # SQLite hands dates back as their ISO text.
    return date.fromisoformat(value) if isinstance(value, str) else value


def pension_payments_for_person(
    session: Session,
    *,
    person_id: int,
    year: int | None,
    state: PensionState = "all",
    arrival: ArrivalStatus | None = None,
) -> list[PensionPaymentRow]:
    """The person's pension payments of ``year`` (every year when None), by period start.

    ``state``: ``all``; ``refundable`` (the person may apply now); ``applied`` (an active
    application exists); ``arrival``: only payments of that 到账状态 (the manual's 未到账 /
    异常 filter). One statement over the (person_id, payment_year) index.

    It runs on the session's own connection and transaction, at the driver level: this is the
    query behind every pension screen, and the ORM's per-execution cost is several times the
    statement's own on SQLite (bench/RESULTS.md).
    """
    if state not in PENSION_STATES:
        raise Invalid("state.unknown", "查询状态应为 all、refundable 或 applied", "state")
    connection = driver_connection(session)
    placeholder = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    sql = _pension_sql(placeholder, year is not None, state, arrival is not None)
    params: tuple[object, ...] = (person_id,) if year is None else (person_id, year)
    if arrival is not None:
        params += (ArrivalStatus(arrival).value,)
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    finally:
        cursor.close()
    return _pension_rows(rows)


def _pension_rows(rows: Sequence[Sequence[Any]]) -> list[PensionPaymentRow]:
    # Positional: the hot path builds these for every lookup (field order as declared).
    return [
        PensionPaymentRow(
            r[0],
            r[1],
            r[2],
            _as_date(r[3]),
            _as_date(r[4]),
            r[5],
            _as_date(r[6]),
            r[7],
            r[8],
            r[8] != _ARRIVED and r[10] not in _ACTIVE_VALUES,
            r[9],
            r[10],
        )
        for r in rows
    ]


#: A person's session and the person in one statement, on the driver (``{p}``: the driver's
#: placeholder): no ORM objects, no SQL building; it runs before every "my payments" read.
PERSON_SESSION_SQL = (
    "SELECT s.id, s.account_kind, s.csrf_token, s.last_seen_at, s.expires_at, s.revoked_at, "
    "p.id, p.name, p.region_code, p.id_number, "
    "p.password_hash IS NOT NULL, p.verified_at IS NOT NULL "
    "FROM auth_sessions s LEFT OUTER JOIN persons p "
    "ON s.account_kind = 'person' AND p.id = s.account_id "
    "WHERE s.token_hash = {p}"
)
#: The columns of PERSON_SESSION_SQL.
PERSON_SESSION_COLUMNS = 12


#: What a statement joined to the session lookup read: the PERSON_SESSION_SQL row (None: no
#: such session) and the joined statement's rows (none unless a person's unrevoked session;
#: the caller still decides whether the session is live before using them).
SessionAndRows = tuple[tuple[object, ...] | None, list[tuple[Any, ...]]]
SessionAndPensionRows = tuple[tuple[object, ...] | None, list[PensionPaymentRow]]


@lru_cache(maxsize=32)
def _with_session_sql(sql: str, order: str) -> str:
    session_sql = PERSON_SESSION_SQL.format(p="%s")
    return (
        "WITH ses (sid, kind, csrf, last_seen, expires, revoked, pid, name, region, id_number,"
        f" has_password, verified) AS ({session_sql}) "
        f"SELECT ses.*, x.* FROM ses LEFT OUTER JOIN LATERAL ({sql}) x "
        "ON ses.revoked IS NULL AND ses.pid IS NOT NULL" + (f" ORDER BY {order}" if order else "")
    )


def with_person_session(
    session: Session, *, token_hash: str, sql: str, params: tuple[object, ...] = (), order: str = ""
) -> SessionAndRows | None:
    """The session lookup (PERSON_SESSION_SQL) and `sql`, a statement about the session's
    person (``ses.pid``; ``%s`` parameters; its first column never NULL), in ONE statement
    and round trip (issue 12), ordered by `order` (columns of `sql` as ``x.``); None on a
    database other than PostgreSQL (the caller runs them one after the other: on SQLite a
    statement is no round trip)."""
    connection = driver_connection(session)
    if connection.dialect.name != "postgresql":
        return None
    cursor = connection.connection.cursor()
    try:
        cursor.execute(_with_session_sql(sql, order), (token_hash, *params))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    if not rows:
        return None, []
    cut = PERSON_SESSION_COLUMNS
    return tuple(rows[0][:cut]), [tuple(r[cut:]) for r in rows if r[cut] is not None]


def pension_payments_with_session(
    session: Session,
    *,
    token_hash: str,
    year: int | None,
    state: PensionState = "all",
    arrival: ArrivalStatus | None = None,
) -> SessionAndPensionRows | None:
    """The session lookup and `pension_payments_for_person` of its person in one statement
    (`with_person_session`); None on a database other than PostgreSQL."""
    if state not in PENSION_STATES:
        raise Invalid("state.unknown", "查询状态应为 all、refundable 或 applied", "state")
    params: tuple[object, ...] = () if year is None else (year,)
    if arrival is not None:
        params += (ArrivalStatus(arrival).value,)
    sql = _pension_sql("%s", year is not None, state, arrival is not None, person="ses.pid")
    both = with_person_session(
        session, token_hash=token_hash, sql=sql, params=params, order="x.period_start, x.payment_id"
    )
    return None if both is None else (both[0], _pension_rows(both[1]))


def driver_connection(session: Session) -> Connection:
    """Where the session's driver statements run: a statement_session's own connection
    (db.statement_session: autocommit, no ORM transaction around them), else the
    connection of the session's transaction."""
    connection = cast("Connection | None", session.info.get(DRIVER_CONNECTION))
    return connection if connection is not None else session.connection()


def driver_rows(session: Session, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
    """Rows of one statement on the session's connection and transaction, at the driver
    level (``{p}`` in ``sql`` stands for the driver's placeholder)."""
    connection = driver_connection(session)
    placeholder = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql.format(p=placeholder), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


@dataclass(frozen=True, slots=True)
class MedicalPaymentColumns:
    """A medical payment's own columns, as the payment lists show them."""

    payment_id: str
    registration_id: str
    ticket_no: str
    item_name: str
    medical_amount_fen: int
    ltc_amount_fen: int
    period_start: date
    period_end: date
    payment_date: date
    insurance_year: int


@dataclass(frozen=True, slots=True)
class MedicalPaymentRow(MedicalPaymentColumns):
    """A medical payment with the application that speaks for it: its active one, else its
    latest (a payment has at most one active application: uq_applications_active_medical_payment)."""

    application_id: int | None
    application_status: str | None


_MEDICAL_SQL = (
    "SELECT m.payment_id, m.registration_id, m.ticket_no, m.item_name, m.medical_amount_fen, "
    "m.ltc_amount_fen, m.period_start, m.period_end, m.payment_date, m.insurance_year, "
    "a.id, a.status "
    "FROM medical_payments m LEFT OUTER JOIN applications a ON a.id = ("
    " SELECT c.id FROM applications c WHERE c.medical_payment_id = m.payment_id"
    " ORDER BY CASE WHEN c.status IN ({active}) THEN 0 ELSE 1 END, c.id DESC LIMIT 1) "
    "WHERE m.registration_id = {{p}} AND m.insurance_year = {{p}} "
    "ORDER BY m.period_start, m.payment_date, m.payment_id"
).format(active=", ".join(f"'{s}'" for s in sorted(_ACTIVE_VALUES)))

_MEDICAL_YEARS_SQL = (
    "SELECT DISTINCT insurance_year FROM medical_payments WHERE registration_id = {p} "
    "ORDER BY insurance_year DESC"
)


def medical_payments_for_registration(
    session: Session, *, registration_id: str, insurance_year: int
) -> list[MedicalPaymentRow]:
    """The registration's medical payments of one 参保年度 with their applications, by
    period: one statement over the (registration_id, insurance_year) index of the payments
    and the medical_payment_id index of the applications, on the driver (like the pension
    query: the medical "my payments" read is as hot)."""
    rows = driver_rows(session, _MEDICAL_SQL, (registration_id, insurance_year))
    return [
        MedicalPaymentRow(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            str(r[3]),
            int(cast("int", r[4])),
            int(cast("int", r[5] or 0)),
            _as_date(cast("date", r[6])),
            _as_date(cast("date", r[7])),
            _as_date(cast("date", r[8])),
            int(cast("int", r[9])),
            cast("int | None", r[10]),
            cast("str | None", r[11]),
        )
        for r in rows
    ]


def medical_years_with_payments(session: Session, *, registration_id: str) -> list[int]:
    """The 参保年度 the registration has payments of, newest first."""
    return [
        int(cast("int", r[0])) for r in driver_rows(session, _MEDICAL_YEARS_SQL, (registration_id,))
    ]
