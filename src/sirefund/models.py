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
from .domain.agencies import Agency
from .domain.heirs import ClaimStatus, Relationship
from .domain.reconciliation import DiscrepancyKind
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
    # Real-name registration (实名注册): when the phone was proven with an SMS code and the
    # identity service confirmed it belongs to this ID number and name. An account with a
    # password but no verified_at (registered before real-name registration) cannot log in
    # and sees nothing until its owner registers again with the code.
    verified_at: Mapped[datetime | None] = mapped_column(_TZ)
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
    # The unit's 办税员 on record (the `units` import): only they may register the unit,
    # with a code sent to this phone. verified_at: registered that way (see Person).
    handler_id_number: Mapped[str | None] = mapped_column(String(18))
    handler_name: Mapped[str | None] = mapped_column(String(50))
    handler_phone: Mapped[str | None] = mapped_column(String(20))
    verified_at: Mapped[datetime | None] = mapped_column(_TZ)
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
    # Browses and exports the audit log (services/audit.py); nothing else.
    is_auditor: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    # Reads the region's statistics (services/statistics.py, 统计分析).
    is_supervisor: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
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


class SavedForm(Base):
    """What someone typed into a form whose session ended before it was sent: kept on the
    server (never in a URL) for the same account, keyed by the hash of a token held in that
    browser's cookie, until they log in again and come back to the page (services/saved_forms.py)."""

    __tablename__ = "saved_forms"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_kind: Mapped[str] = mapped_column(String(10))
    account_id: Mapped[int] = mapped_column(Id)
    path: Mapped[str] = mapped_column(String(500))
    fields: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(_TZ)
    expires_at: Mapped[datetime] = mapped_column(_TZ, index=True)
    __table_args__ = (
        CheckConstraint(_in("account_kind", ["person", "unit", "officer"]), name="account_kind"),
    )


class LoginFailure(Base):
    """Failed logins, for throttling per account and per client address; and registration
    attempts per client address (scope "reg:addr:<ip>"), throttled alike."""

    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    scope: Mapped[str] = mapped_column(String(100))  # "acct:<kind>:<hash>" or "addr:<ip>"
    at: Mapped[datetime] = mapped_column(_TZ)
    __table_args__ = (Index(None, "scope", "at"),)


class VerificationCode(Base):
    """A 6-digit code sent by SMS (services/verification.py). Only a keyed hash of the code
    is stored; a code serves one purpose for one phone, 5 tries, until expires_at, once."""

    __tablename__ = "verification_codes"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20))
    purpose: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(_TZ)
    expires_at: Mapped[datetime] = mapped_column(_TZ)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Used up: by a right answer, by a newer code for the same phone and purpose, or by the
    # last of its tries.
    used_at: Mapped[datetime | None] = mapped_column(_TZ)
    __table_args__ = (
        CheckConstraint(
            _in("purpose", ["register", "reset_password", "change_phone"]), name="purpose"
        ),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index(None, "phone", "created_at"),
    )


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
    # 退回补正: what the officer asked the applicant to fix (domain.workflow.CorrectionField
    # values, comma-separated) while the application is `returned`; the opinion is in
    # review_opinion. Cleared when the corrected application is resubmitted.
    correction_fields: Mapped[str | None] = mapped_column(String(80))
    # 继承人代办: the verified claim under which an heir applies for a deceased payer's
    # payment. person_id is then the heir (who applies, is notified and is paid: the account
    # is the heir's own); the deceased payer is the claim's.
    heir_claim_id: Mapped[int | None] = mapped_column(ForeignKey("heir_claims.id"))
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
        # 风险提示 (services/risk.py) look applications up by account and by phone.
        Index(None, "bank_account_no"),
        Index(None, "contact_phone"),
        Index(None, "handler_phone"),
        # 统计分析 (services/statistics.py): covering indexes of the live part of its figures.
        # The whole months come from the summary tables below; these serve the partial months
        # at the ends of a date filter and the current month of the overdue count.
        Index(
            "ix_applications_stats_created",
            "created_at",
            "region_code",
            "status",
            "kind",
            "channel",
            "amount_fen",
        ),
        Index(
            "ix_applications_stats_refunded", "status", "created_at", "region_code", "refund_date"
        ),
        # The officer queue's sort orders (services/review_queue.SORTS), ties on the id: a
        # page walks the index in order and stops after its rows.
        Index("ix_applications_queue_created", "created_at", "id"),
        Index("ix_applications_queue_amount", "amount_fen", "id"),
        # A person's medical payments find their applications by payment (the partial
        # unique index above covers only the active ones: no use to that query).
        Index("ix_applications_medical_payment", "medical_payment_id"),
    )


class HeirClaim(Base):
    """继承人代办 (domain/heirs.py): a registered person's claim to a deceased insured
    person's refundable payments, confirmed (or not) by the death registry of HRSS / the
    medical security bureau. The deceased's ID number is kept like every other and masked
    on output."""

    __tablename__ = "heir_claims"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    heir_person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
    relationship: Mapped[str] = mapped_column(String(8))
    deceased_id_number: Mapped[str] = mapped_column(String(18))
    deceased_name: Mapped[str] = mapped_column(String(50))
    death_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(24))
    # The death registry's answer in words (确认结果), and when it was given.
    confirmation_result: Mapped[str | None] = mapped_column(String(200))
    confirmed_at: Mapped[datetime | None] = mapped_column(_TZ)
    created_at: Mapped[datetime] = mapped_column(_TZ)
    updated_at: Mapped[datetime] = mapped_column(_TZ)
    __table_args__ = (
        CheckConstraint(_in("relationship", list(Relationship)), name="relationship"),
        CheckConstraint(_in("status", list(ClaimStatus)), name="status"),
        CheckConstraint("length(deceased_id_number) = 18", name="deceased_id_number_length"),
        Index(None, "heir_person_id"),
        Index(None, "deceased_id_number"),
    )


class HeirClaimEvent(Base):
    """Every change of a heir claim's status: who or what, when, from, to, why."""

    __tablename__ = "heir_claim_events"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    heir_claim_id: Mapped[int] = mapped_column(ForeignKey("heir_claims.id"))
    at: Mapped[datetime] = mapped_column(_TZ)
    actor_kind: Mapped[str] = mapped_column(String(12))
    actor_id: Mapped[str | None] = mapped_column(String(40))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(String(500))
    __table_args__ = (Index(None, "heir_claim_id"),)


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


class RiskRule(Base):
    """A 风险提示 rule's settings (domain/risk.py): seeded by the migration, edited with
    ``sirefund risk-rules set``. ``threshold`` is a count, or fen for the amount rules."""

    __tablename__ = "risk_rules"
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    label: Mapped[str] = mapped_column(String(60))
    enabled: Mapped[bool] = mapped_column(Boolean)
    threshold: Mapped[int | None] = mapped_column(BigInteger)
    window_days: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (
        CheckConstraint("threshold IS NULL OR threshold >= 0", name="threshold_not_negative"),
        CheckConstraint("window_days IS NULL OR window_days >= 0", name="window_not_negative"),
    )


class ApplicationRiskFlag(Base):
    """A risk found for an application (services/risk.py), with what was found; computed on
    submission and whenever its account changes. One row per rule and application."""

    __tablename__ = "application_risk_flags"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    code: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(_TZ)
    __table_args__ = (Index(None, "application_id", "code", unique=True),)


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
    # Set when a re-issue after 退付失败 replaced this payout with a new request to a corrected
    # account (services/reissue.py): it is never sent, polled or settled again.
    superseded_at: Mapped[datetime | None] = mapped_column(_TZ)
    # The X-Request-ID of the HTTP request that wrote the message (web/request_id.py): the
    # worker logs it when it sends, so one id follows a refund from the click to the agency.
    # Not the agency's `request_id` above.
    origin_request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(_TZ)
    updated_at: Mapped[datetime] = mapped_column(_TZ)
    __table_args__ = (
        CheckConstraint(
            _in("state", ["pending", "sending", "unknown", "done", "failed"]), name="state"
        ),
        CheckConstraint("attempts >= 0", name="attempts_nonneg"),
        Index(None, "state", "next_attempt_at"),
        # One live request per application and agency: a retry reuses the message (and its
        # request id); it never adds a second one that could book the refund twice. Only a
        # re-issue after 退付失败 adds a new payout, and it supersedes the failed one first.
        Index(
            "uq_outbox_messages_application_agency",
            "application_id",
            "agency",
            unique=True,
            sqlite_where=text("superseded_at IS NULL"),
            postgresql_where=text("superseded_at IS NULL"),
        ),
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
    # `at`: /metrics counts the last minutes' attempts per agency (agency error rates).
    __table_args__ = (Index(None, "message_id"), Index(None, "at"))


class WorkerHeartbeat(Base):
    """One row per dispatcher, touched at every pass of its loop: /readyz reads the newest
    `seen_at` to tell a live worker from a dead one."""

    __tablename__ = "worker_heartbeats"
    worker_id: Mapped[str] = mapped_column(String(80), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(_TZ)
    seen_at: Mapped[datetime] = mapped_column(_TZ)
    __table_args__ = (Index(None, "seen_at"),)


# --------------------------------------------------------------------------- the calendar


class CalendarDay(Base):
    """An officer's word on one day's working-day status, for years the ``chinesecalendar``
    package does not know yet (or to correct it): consulted first (services/holidays.py).
    Who set it and when are kept with it; setting a day again replaces the entry."""

    __tablename__ = "calendar_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column(Boolean)
    label: Mapped[str] = mapped_column(String(40))  # 元旦, 春节, 国庆节调休上班, ...
    changed_by: Mapped[str] = mapped_column(String(60))
    changed_at: Mapped[datetime] = mapped_column(_TZ)


# --------------------------------------------------------------------------- 统计分析 summary
# Kept by database triggers on applications (migration 0016_stats_summary) in the transaction
# of every insert, update and delete, so they cannot drift from the applications; rebuilt
# from them by `sirefund stats rebuild` (services/stats_summary.py). Months are China months
# ('YYYY-MM') of created_at. Cells whose count fell to 0 stay, and are skipped when read.


class StatsCell(Base):
    """How many applications, and how much, per county, China month, status, kind, channel."""

    __tablename__ = "stats_cells"
    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(14), primary_key=True)
    channel: Mapped[str] = mapped_column(String(12), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(Fen)


class StatsRefundDays(Base):
    """Refunded applications (status refunded with a 退费日期) per county and China month
    of application, by working days from the China day applied to the day paid (0 at least):
    the histogram of 办理时长, whose percentiles are exact for whole working days."""

    __tablename__ = "stats_refund_days"
    region_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    working_days: Mapped[int] = mapped_column(Integer, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class StatsWorkingDay(Base):
    """The working-day calendar (services/holidays.py) as numbers the triggers subtract:
    ``ordinal`` counts the working days up to and including ``day`` (domain.calendar
    ``WorkingDays.ordinal``), for 2000-01-01 to 2099-12-31. Refreshed with the histogram
    whenever an officer changes a day (services/stats_summary.py)."""

    __tablename__ = "stats_working_days"
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    ordinal: Mapped[int] = mapped_column(Integer)


# --------------------------------------------------------------------------- reconciliation


class ReconciliationRun(Base):
    """One three-way reconciliation (三方对账) of a day: who ran it and when. Its totals and
    discrepancies hang off it; the newest run of a day is the one shown."""

    __tablename__ = "reconciliation_runs"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    day: Mapped[date] = mapped_column(Date)  # the statements' date (China time)
    ran_at: Mapped[datetime] = mapped_column(_TZ)
    ran_by: Mapped[str] = mapped_column(String(60))  # cli / worker:<id>
    discrepancy_count: Mapped[int] = mapped_column(Integer)
    __table_args__ = (
        CheckConstraint("discrepancy_count >= 0", name="discrepancy_count_nonneg"),
        Index(None, "day", "id"),
    )


class ReconciliationTotal(Base):
    """Per run and agency: how many requests and how much we count, and the agency's
    statement."""

    __tablename__ = "reconciliation_totals"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id"))
    agency: Mapped[str] = mapped_column(String(20))
    ours_count: Mapped[int] = mapped_column(Integer)
    ours_amount_fen: Mapped[int] = mapped_column(Fen)
    theirs_count: Mapped[int] = mapped_column(Integer)
    theirs_amount_fen: Mapped[int] = mapped_column(Fen)
    __table_args__ = (
        CheckConstraint(_in("agency", list(Agency)), name="agency"),
        CheckConstraint("ours_count >= 0 AND theirs_count >= 0", name="counts_nonneg"),
        Index("uq_reconciliation_totals_run_agency", "run_id", "agency", unique=True),
    )


class ReconciliationDiscrepancy(Base):
    """One difference found by a run. Accounts are stored masked (officer masking): the
    discrepancy says *that* they differ; the full numbers stay on the application.
    `application_id` is what the agency's line names, which may be no application of ours
    (hence no foreign key)."""

    __tablename__ = "reconciliation_discrepancies"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_runs.id"))
    kind: Mapped[str] = mapped_column(String(20))
    agency: Mapped[str] = mapped_column(String(20))
    application_id: Mapped[int | None] = mapped_column(Id)
    ours_amount_fen: Mapped[int | None] = mapped_column(Fen)
    ours_account: Mapped[str | None] = mapped_column(String(40))
    theirs_amount_fen: Mapped[int | None] = mapped_column(Fen)
    theirs_account: Mapped[str | None] = mapped_column(String(40))
    __table_args__ = (
        CheckConstraint(_in("kind", list(DiscrepancyKind)), name="kind"),
        CheckConstraint(_in("agency", list(Agency)), name="agency"),
        Index(None, "run_id"),
        Index(None, "application_id"),
    )


# --------------------------------------------------------------------------- audit log


class AuditRecord(Base):
    """One row of the tamper-evident audit log (services/audit.py): who, when, what, from
    which address. Rows form a hash chain: `row_hash` is the SHA-256 of the row's canonical
    content including `prev_hash`, the previous row's `row_hash`. `id` is assigned from the
    chain head, so ids are consecutive and a gap is a deleted row.

    The migration adds triggers that refuse UPDATE and DELETE; on PostgreSQL the app role
    holds only INSERT and SELECT on it (docs/database-roles.md).
    """

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(_TZ)
    actor_kind: Mapped[str] = mapped_column(String(12))  # person/unit/officer/agency/system
    actor_id: Mapped[str | None] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(40))
    application_id: Mapped[int | None] = mapped_column(Id)
    person_id: Mapped[int | None] = mapped_column(Id)
    unit_id: Mapped[int | None] = mapped_column(Id)
    officer_id: Mapped[int | None] = mapped_column(Id)
    address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON (sorted keys)
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (
        CheckConstraint("length(row_hash) = 64 AND length(prev_hash) = 64", name="hash_length"),
        Index(None, "application_id"),
        Index(None, "person_id"),
        Index(None, "actor_kind", "actor_id"),
        Index(None, "at"),
    )


class AuditChainHead(Base):
    """The chain's tip: one row (id 1), locked FOR UPDATE by every writer of audit rows so
    that writers append one after another; `verify` also compares it with the last row, so
    that deleting the newest rows is seen."""

    __tablename__ = "audit_chain_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Id)
    last_hash: Mapped[str] = mapped_column(String(64))
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)


class AuditCheckpoint(Base):
    """An anchor: the chain's hash at row `audit_id`, written every CHECKPOINT_EVERY rows and
    by each `sirefund audit verify` run. Append-only like the log; a rewritten chain no
    longer matches the anchors taken before the rewrite."""

    __tablename__ = "audit_checkpoints"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(_TZ)
    audit_id: Mapped[int] = mapped_column(Id)
    row_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(20))  # periodic / verify
    __table_args__ = (Index(None, "audit_id"),)


class Notification(Base):
    """A notice in a person's or unit's 消息中心 (services/notifications.py), written in the
    transaction that moved the application; its SMS is sent later by the worker
    (sms_state pending -> sent | failed; `none` when there is no phone on record), so a
    failing SMS gateway never blocks or rolls back the change it tells about."""

    __tablename__ = "notifications"
    id: Mapped[int] = mapped_column(Id, primary_key=True)
    recipient_kind: Mapped[str] = mapped_column(String(10))  # person / unit
    recipient_id: Mapped[int] = mapped_column(Id)
    # What the notice tells about: an application, or a 继承人代办 claim (exactly one).
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    heir_claim_id: Mapped[int | None] = mapped_column(ForeignKey("heir_claims.id"))
    title: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(_TZ)
    read_at: Mapped[datetime | None] = mapped_column(_TZ)
    sms_state: Mapped[str] = mapped_column(String(10))
    sms_attempts: Mapped[int] = mapped_column(Integer, default=0)
    sms_next_at: Mapped[datetime | None] = mapped_column(_TZ)
    sms_claimed_until: Mapped[datetime | None] = mapped_column(_TZ)
    __table_args__ = (
        CheckConstraint(_in("recipient_kind", ["person", "unit"]), name="recipient_kind"),
        CheckConstraint(_in("sms_state", ["pending", "sent", "failed", "none"]), name="sms_state"),
        CheckConstraint("sms_attempts >= 0", name="sms_attempts_nonneg"),
        CheckConstraint("(application_id IS NULL) <> (heir_claim_id IS NULL)", name="one_subject"),
        Index(None, "recipient_kind", "recipient_id", "created_at"),
        Index(None, "application_id"),
        Index(None, "heir_claim_id"),
        Index(None, "sms_state", "sms_next_at"),
    )
