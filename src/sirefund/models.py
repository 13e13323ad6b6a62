"""SQLAlchemy tables. Invariants live here as constraints and partial unique indexes.

Money columns end in `_fen` and hold integers. Every table keeps the names of domain.md.
Models never do I/O; use cases live in services/.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .db import Base
from .domain import workflow
from .domain.rules import ArrivalStatus, UnitPaymentType

# Bigger than int32 would be needed only for sums; single amounts are bounded by checks.
Fen = BigInteger().with_variant(Integer(), "sqlite")
Id = BigInteger().with_variant(Integer(), "sqlite")


def _in(column: str, values: Iterable[object]) -> str:
    """SQL: ``column`` holds one of ``values`` (enum members give their value)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"


_ACTIVE_SQL = _in("status", workflow.ACTIVE)


def _one_active(name: str, column: str) -> Index:
    """A partial unique index: at most one active application per value of ``column``."""
    return Index(
        name,
        column,
        unique=True,
        sqlite_where=text(_ACTIVE_SQL),
        postgresql_where=text(_ACTIVE_SQL),
    )


_TZ = DateTime(timezone=True)


# --------------------------------------------------------------------------- accounts


class Person(Base):
    """A resident (自然人 / 缴费人). Created by imports or by registration; keyed by ID number."""

    __tablename__ = "persons"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    id_number: Mapped[str] = mapped_column(String(18), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    region_code: Mapped[str] = mapped_column(String(6))
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    username: Mapped[str | None] = mapped_column(String(40), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    registered_at: Mapped[datetime | None] = mapped_column(_TZ)
    created_at: Mapped[datetime] = mapped_column(_TZ, server_default=text("CURRENT_TIMESTAMP"))
    __table_args__ = (
        CheckConstraint("length(id_number) = 18", name="id_number_length"),
        CheckConstraint("length(region_code) = 6", name="region_code_length"),
    )


class Unit(Base):
    """A village committee or unit (村组 / 单位) paying for villagers; keyed by tax ID."""

    __tablename__ = "units"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    tax_id: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    ss_no: Mapped[str] = mapped_column(String(30))
    region_code: Mapped[str] = mapped_column(String(6))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    registered_at: Mapped[datetime | None] = mapped_column(_TZ)
    created_at: Mapped[datetime] = mapped_column(_TZ, server_default=text("CURRENT_TIMESTAMP"))


class Officer(Base):
    """A tax officer (税务人员); sees applications whose payer region lies under region_code."""

    __tablename__ = "officers"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(50))
    region_code: Mapped[str] = mapped_column(String(6))
    is_reviewer: Mapped[bool] = mapped_column(Boolean, default=True)
    is_initiator: Mapped[bool] = mapped_column(Boolean, default=False)
    password_hash: Mapped[str] = mapped_column(String(200))
    # The second factor (services/otp.py): the base32 TOTP secret, and the time step of the
    # last code accepted, so that no code is accepted twice. No secret: the officer cannot
    # log in until one is set.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(_TZ, server_default=text("CURRENT_TIMESTAMP"))


class AuthSession(Base):
    """A server-side login session. Only the token's hash is stored, so a leak of this table
    does not leak sessions; revoking sets revoked_at and the token stops working at once."""

    __tablename__ = "auth_sessions"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_kind: Mapped[str] = mapped_column(String(10))
    account_id: Mapped[int] = mapped_column(Id)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(_TZ)
    last_seen_at: Mapped[datetime] = mapped_column(_TZ)
    expires_at: Mapped[datetime] = mapped_column(_TZ)
    revoked_at: Mapped[datetime | None] = mapped_column(_TZ)
    __table_args__ = (
        CheckConstraint(_in("account_kind", ["person", "unit", "officer"]), name="account_kind"),
        Index(None, "account_kind", "account_id"),
    )


class LoginFailure(Base):
    """Failed logins, for throttling per account and per client address; and registration
    attempts per client address (scope "reg:addr:<ip>"), throttled alike."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    scope: Mapped[str] = mapped_column(String(100))  # "acct:<kind>:<hash>" or "addr:<ip>"
    at: Mapped[datetime] = mapped_column(_TZ)
    __table_args__ = (Index(None, "scope", "at"),)


# --------------------------------------------------------------------------- payments


class PensionPayment(Base):
    """A 城乡居民基本养老保险 payment and its arrival status at HRSS."""

    __tablename__ = "pension_payments"
    payment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    amount_fen: Mapped[int] = mapped_column(Fen)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    payment_year: Mapped[int] = mapped_column(Integer)
    payment_date: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(40))
    arrival_status: Mapped[str] = mapped_column(String(12))
    person: Mapped[Person] = relationship()
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("period_start <= period_end", name="period_order"),
        CheckConstraint(_in("arrival_status", list(ArrivalStatus)), name="arrival_status"),
        Index(None, "person_id", "payment_year"),
    )


class MedicalRegistration(Base):
    """登记信息: a person's registration with a medical security agency."""

    __tablename__ = "medical_registrations"
    registration_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    agency_code: Mapped[str] = mapped_column(String(40))
    agency_name: Mapped[str] = mapped_column(String(100))
    ss_code: Mapped[str] = mapped_column(String(40))
    region_code: Mapped[str] = mapped_column(String(6))
    person: Mapped[Person] = relationship()
    __table_args__ = (Index(None, "person_id"),)


class MedicalPayment(Base):
    """A 城乡居民基本医疗保险 payment; refund amount = medical + long-term-care amount."""

    __tablename__ = "medical_payments"
    payment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    registration_id: Mapped[str] = mapped_column(
        ForeignKey("medical_registrations.registration_id")
    )
    ticket_no: Mapped[str] = mapped_column(String(40))
    item_name: Mapped[str] = mapped_column(String(60))
    medical_amount_fen: Mapped[int] = mapped_column(Fen)
    ltc_amount_fen: Mapped[int] = mapped_column(Fen, default=0)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    payment_date: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(40))
    insurance_year: Mapped[int] = mapped_column(Integer)
    registration: Mapped[MedicalRegistration] = relationship()
    __table_args__ = (
        CheckConstraint("medical_amount_fen >= 0", name="medical_amount_nonneg"),
        CheckConstraint("ltc_amount_fen >= 0", name="ltc_amount_nonneg"),
        CheckConstraint("medical_amount_fen + ltc_amount_fen > 0", name="amount_positive"),
        CheckConstraint("period_start <= period_end", name="period_order"),
        Index(None, "registration_id", "insurance_year"),
    )

    @property
    def refund_amount_fen(self) -> int:
        return self.medical_amount_fen + self.ltc_amount_fen


class UnitPayment(Base):
    """A unit's payment for villagers (村集体补助 / 特殊人群代缴 / 正常缴费)."""

    __tablename__ = "unit_payments"
    unit_payment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    payment_type: Mapped[str] = mapped_column(String(24))
    payment_year: Mapped[int] = mapped_column(Integer)
    payment_month: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(Fen)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    declaration_channel: Mapped[str] = mapped_column(String(40))
    unit: Mapped[Unit] = relationship()
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("payment_month BETWEEN 1 AND 12", name="month_range"),
        CheckConstraint("period_start <= period_end", name="period_order"),
        CheckConstraint(_in("payment_type", list(UnitPaymentType)), name="payment_type"),
        Index(None, "unit_id", "payment_year", "payment_month", "payment_type"),
    )


class UnitPaymentPerson(Base):
    """One person covered by a unit payment (a person line)."""

    __tablename__ = "unit_payment_persons"
    line_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    unit_payment_id: Mapped[str] = mapped_column(ForeignKey("unit_payments.unit_payment_id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    ss_no: Mapped[str] = mapped_column(String(30))
    amount_fen: Mapped[int] = mapped_column(Fen)
    person: Mapped[Person] = relationship()
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index(None, "unit_payment_id"),
        Index(None, "person_id"),
    )


# --------------------------------------------------------------------------- deposit accounts


class DepositAccountReport(Base):
    """存款账户账号报告: draft (暂存) or submitted (提交)."""

    __tablename__ = "deposit_account_reports"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    handler_name: Mapped[str | None] = mapped_column(String(50))
    report_date: Mapped[date | None] = mapped_column(Date)
    business_address: Mapped[str | None] = mapped_column(String(200))
    report_unit: Mapped[str | None] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(10), default="draft")
    created_at: Mapped[datetime] = mapped_column(_TZ)
    submitted_at: Mapped[datetime | None] = mapped_column(_TZ)
    accounts: Mapped[list[DepositAccount]] = relationship(
        back_populates="report", order_by="DepositAccount.position", cascade="all, delete-orphan"
    )
    __table_args__ = (
        CheckConstraint(_in("state", ["draft", "submitted"]), name="state"),
        Index(None, "person_id", "state"),
    )


class DepositAccount(Base):
    """One 银行账户信息 row of a report. Draft rows may be incomplete, hence nullable columns."""

    __tablename__ = "deposit_accounts"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("deposit_account_reports.id"))
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    operation_type: Mapped[str] = mapped_column(String(10), default="add")
    account_nature: Mapped[str | None] = mapped_column(String(10))
    permit_no: Mapped[str | None] = mapped_column(String(40))  # 银行开户登记证号
    issue_date: Mapped[date | None] = mapped_column(Date)  # 发放日期
    division_code: Mapped[str | None] = mapped_column(String(6))  # 行政区划
    bank_category: Mapped[str | None] = mapped_column(String(6))  # 银行行别
    bank_branch: Mapped[str | None] = mapped_column(String(100))  # 开户银行
    account_name: Mapped[str | None] = mapped_column(String(100))
    account_no: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3), default="156")
    preferred_tax_account: Mapped[bool] = mapped_column(Boolean, default=True)
    general_refund_account: Mapped[bool] = mapped_column(Boolean, default=True)
    export_refund_account: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_on: Mapped[date | None] = mapped_column(Date)
    changed_on: Mapped[date | None] = mapped_column(Date)
    registered_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(200))
    # The account this row changes or deletes (operation 变更/删除).
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("deposit_accounts.id"))
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    report: Mapped[DepositAccountReport] = relationship(back_populates="accounts")
    __table_args__ = (
        CheckConstraint("currency = '156'", name="currency_cny"),
        CheckConstraint(_in("operation_type", ["add", "change", "delete"]), name="operation_type"),
        Index(None, "person_id"),
    )


# --------------------------------------------------------------------------- applications


class RefundBatch(Base):
    """One save of the unit's 退费维护区: one application per chosen person."""

    __tablename__ = "refund_batches"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    unit_payment_id: Mapped[str] = mapped_column(ForeignKey("unit_payments.unit_payment_id"))
    amount_fen: Mapped[int] = mapped_column(Fen)
    created_at: Mapped[datetime] = mapped_column(_TZ)
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index(None, "unit_id"),
    )


class Application(Base):
    """A refund application (退费申请) of any kind, moving through domain.workflow."""

    __tablename__ = "applications"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    kind: Mapped[str] = mapped_column(String(14))
    # 文书号 (domain/documents.py), given once on submission (services/document_numbers.py)
    # and never reused: the unique constraint refuses a second application with it.
    document_no: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=workflow.S.PENDING_REVIEW.value)
    channel: Mapped[str] = mapped_column(String(12))
    # The payer: whose money it is (for units: the person of the line).
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    region_code: Mapped[str] = mapped_column(String(6))
    pension_payment_id: Mapped[str | None] = mapped_column(
        ForeignKey("pension_payments.payment_id")
    )
    unit_line_id: Mapped[str | None] = mapped_column(ForeignKey("unit_payment_persons.line_id"))
    medical_payment_id: Mapped[str | None] = mapped_column(
        ForeignKey("medical_payments.payment_id")
    )
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("refund_batches.id"))
    amount_fen: Mapped[int] = mapped_column(Fen)
    payment_year: Mapped[int] = mapped_column(Integer)  # 缴费年度 or 参保年度 (medical)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    # Bank details (pension and unit).
    bank_account_type: Mapped[str | None] = mapped_column(String(10))
    bank_account_no: Mapped[str | None] = mapped_column(String(32))
    bank_account_name: Mapped[str | None] = mapped_column(String(100))
    bank_category: Mapped[str | None] = mapped_column(String(6))
    contact_name: Mapped[str | None] = mapped_column(String(50))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    payment_month: Mapped[int | None] = mapped_column(Integer)
    # Medical.
    registration_id: Mapped[str | None] = mapped_column(
        ForeignKey("medical_registrations.registration_id")
    )
    deposit_account_id: Mapped[int | None] = mapped_column(ForeignKey("deposit_accounts.id"))
    handler_phone: Mapped[str | None] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(24))
    reason_text: Mapped[str | None] = mapped_column(String(500))
    # Officer side.
    initiated_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    reviewed_by_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    review_opinion: Mapped[str | None] = mapped_column(String(500))
    reviewed_at: Mapped[datetime | None] = mapped_column(_TZ)
    # Results from the agencies and the bank.
    verification_result: Mapped[str | None] = mapped_column(String(100))  # 社保部门核验结果
    verified_at: Mapped[datetime | None] = mapped_column(_TZ)  # 核验时间
    refund_date: Mapped[date | None] = mapped_column(Date)  # 退费日期
    bank_result: Mapped[str | None] = mapped_column(String(100))  # 银行退付结果
    agency_message: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(_TZ)
    updated_at: Mapped[datetime] = mapped_column(_TZ)
    # Bumped on every transition; a conditional UPDATE on it makes concurrent decisions safe.
    version: Mapped[int] = mapped_column(Integer, default=1)

    person: Mapped[Person] = relationship(foreign_keys=[person_id])

    __table_args__ = (
        CheckConstraint(_in("kind", list(workflow.ApplicationKind)), name="kind"),
        CheckConstraint(_in("status", list(workflow.ApplicationStatus)), name="status"),
        CheckConstraint(_in("channel", list(workflow.Channel)), name="channel"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        # Exactly the payment reference that matches the kind.
        CheckConstraint(
            "(kind = 'pension' AND pension_payment_id IS NOT NULL AND unit_line_id IS NULL "
            "AND medical_payment_id IS NULL) OR "
            "(kind = 'unit_pension' AND unit_line_id IS NOT NULL AND batch_id IS NOT NULL "
            "AND unit_id IS NOT NULL AND pension_payment_id IS NULL AND medical_payment_id IS NULL) OR "
            "(kind = 'medical' AND medical_payment_id IS NOT NULL AND pension_payment_id IS NULL "
            "AND unit_line_id IS NULL)",
            name="payment_matches_kind",
        ),
        CheckConstraint(
            "channel <> 'officer' OR initiated_by_officer_id IS NOT NULL", name="officer_channel"
        ),
        CheckConstraint(
            "initiated_by_officer_id IS NULL OR reviewed_by_officer_id IS NULL "
            "OR initiated_by_officer_id <> reviewed_by_officer_id",
            name="four_eyes",
        ),
        # At most one active application per payment / unit person line.
        _one_active("uq_applications_active_pension_payment", "pension_payment_id"),
        _one_active("uq_applications_active_unit_line", "unit_line_id"),
        _one_active("uq_applications_active_medical_payment", "medical_payment_id"),
        Index(None, "person_id", "kind", "payment_year"),
        Index(None, "unit_id", "payment_year"),
        Index(None, "batch_id"),
        Index(None, "region_code", "status"),
        Index(None, "status", "created_at"),
    )


class DocumentCounter(Base):
    """The last 文书号 sequence number given out per year (of submission, China time) and
    payer region. Submitting increments its row in the submitting transaction
    (services/document_numbers.py): the row lock makes concurrent submissions queue, so no
    two get the same number, and a rolled-back submission takes its increment with it."""

    __tablename__ = "document_counters"
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(Integer)
    __table_args__ = (
        # 0: a row locked ahead of a unit's batch (lock_counters) that has not numbered yet.
        CheckConstraint("last_sequence BETWEEN 0 AND 999999", name="sequence_range"),
    )


class ApplicationEvent(Base):
    """Append-only audit of every transition: who or what, when, from, to, why.

    The migration adds triggers that refuse UPDATE and DELETE on this table.
    """

    __tablename__ = "application_events"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    at: Mapped[datetime] = mapped_column(_TZ)
    actor_kind: Mapped[str] = mapped_column(String(12))  # person/unit/officer/agency/system
    actor_id: Mapped[str | None] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(500))
    __table_args__ = (Index(None, "application_id"),)


class IdempotencyKey(Base):
    """The first answer to a creating POST, replayed for the same key and body."""

    __tablename__ = "idempotency_keys"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    account_kind: Mapped[str] = mapped_column(String(10))
    account_id: Mapped[int] = mapped_column(Id)
    key: Mapped[str] = mapped_column(String(100))
    method_path: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(_TZ)
    __table_args__ = (
        Index("uq_idempotency_keys_owner_key", "account_kind", "account_id", "key", unique=True),
    )


class SecurityEvent(Base):
    """Forged callbacks, audited reveals of full IDs or accounts, throttled logins, ..."""

    __tablename__ = "security_events"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(_TZ)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[str | None] = mapped_column(Text)


# --------------------------------------------------------------------------- outbox


class OutboxMessage(Base):
    """A request to an agency, written in the same transaction as the change that needs it.

    States: pending (due at next_attempt_at) -> sending (claimed until claimed_until) ->
    done | pending (retry) | unknown (timed out: ask the agency about request_id) | failed.
    """

    __tablename__ = "outbox_messages"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    agency: Mapped[str] = mapped_column(String(20))  # hrss / medical_security / bank
    operation: Mapped[str] = mapped_column(String(30))
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(_TZ)
    claimed_by: Mapped[str | None] = mapped_column(String(80))
    claimed_until: Mapped[datetime | None] = mapped_column(_TZ)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(_TZ)
    updated_at: Mapped[datetime] = mapped_column(_TZ)
    __table_args__ = (
        CheckConstraint(
            _in("state", ["pending", "sending", "unknown", "done", "failed"]), name="state"
        ),
        CheckConstraint("attempts >= 0", name="attempts_nonneg"),
        Index(None, "state", "next_attempt_at"),
        # One request per application and agency: a retry reuses the message (and its
        # request id); it never adds a second one that could book the refund twice.
        Index("uq_outbox_messages_application_agency", "application_id", "agency", unique=True),
    )


class DispatchAttempt(Base):
    """Every try at sending an outbox message, with its outcome."""

    __tablename__ = "dispatch_attempts"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id"))
    at: Mapped[datetime] = mapped_column(_TZ)
    worker: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(20))  # ok / retry / permanent / unknown
    detail: Mapped[str | None] = mapped_column(String(500))
    __table_args__ = (Index(None, "message_id"),)
