"""继承人代办: a registered person claims a deceased insured person's refundable payments.

The heir states the relationship, the deceased's ID number, name and date of death
(:class:`HeirClaimIn`). The claim is stored ``pending_verification`` and the death registry
of HRSS / medical security (services.ports.DeathRegistry) is asked at once, in the same
request, the way registration asks the real-name check: the heir learns the answer while
still on the page, and no worker has to run for a claim to be decided. When the registry
cannot be reached (or none is configured) the claim stays ``pending_verification`` and is
asked again whenever the heir looks at it (:func:`show`).

The registry confirms ID number, name and date of death together; otherwise the claim is
``refused`` with the reason in words. Every change of status is recorded (who, when, from,
to, why) in ``heir_claim_events`` and in the audit log, and the registry's answer is told to
the heir in the 消息中心 and by SMS (services/notifications.notify_heir_claim, sent by the
worker), with the reason and what to do next.

Only a ``verified`` claim opens the deceased's payments to its heir (:func:`verified`):
another person's claim is answered like a missing one (404), the heir's own unverified or
refused claim with 409 ``heir_claim.not_verified``. Functions never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..clock import CHINA_TZ, as_utc
from ..domain import heirs, identity, rules
from ..domain.audit import AuditAction
from ..domain.errors import Conflict, Invalid, NotFound, Unavailable
from ..domain.heirs import ClaimStatus, DeathConfirmation
from ..models import HeirClaim, HeirClaimEvent, Person
from . import audit, notifications
from .audit import Actor
from .bank_details import checked, input_config, refusal
from .ports import DeathRegistry

REGISTRY_ACTOR = Actor.agency("hrss")


def claim_not_found() -> NotFound:
    return NotFound("heir_claim.not_found", "继承人代办申请不存在", "heir_claim_id")


def claim_not_verified() -> Conflict:
    return Conflict(
        "heir_claim.not_verified",
        "继承人代办申请尚未核实通过，不能查询或申请已故参保人的退费",
        "heir_claim_id",
    )


def check_heir_account_holder(account_name: str, heir_name: str) -> None:
    """继承人代办: the refund goes to the heir's own account (domain.md "Payee = account
    holder"), never to the deceased's or anyone else's."""
    try:
        rules.check_person_account_holder(account_name, heir_name)
    except Invalid:
        raise Invalid(
            "bank_account_name.not_heir",
            "继承人代办的退费只能退至继承人本人的银行账户：银行账户名称须与继承人姓名一致",
            "bank_account_name",
        ) from None


class HeirClaimIn(BaseModel):
    """继承人代办申请: who died, when, and how the heir is related."""

    model_config = input_config(
        {
            "deceased_id_number": "420102195001010013",
            "deceased_name": "张三",
            "death_date": "2026-03-01",
            "relationship": "child",
        }
    )

    deceased_id_number: Annotated[str, StringConstraints(max_length=40)] = Field(
        description="已故参保人的证件号码（居民身份证）"
    )
    deceased_name: Annotated[str, StringConstraints(max_length=60)] = Field(
        description="已故参保人姓名"
    )
    death_date: date = Field(description="死亡日期")
    relationship: Literal["spouse", "child", "parent", "other"] = Field(
        description="与已故参保人的关系：spouse 配偶 / child 子女 / parent 父母 / other 其他继承人"
    )

    @field_validator("deceased_id_number")
    @classmethod
    def _id_number(cls, value: str) -> str:
        try:
            return identity.check_resident_id(value, today=date.today())
        except Invalid as exc:
            raise refusal(
                Invalid(exc.code, exc.message.replace("证件号码", "已故参保人证件号码"))
            ) from None

    @field_validator("deceased_name")
    @classmethod
    def _name(cls, value: str) -> str:
        return checked(lambda: identity.check_name(value, field="deceased_name"))


@dataclass(frozen=True, slots=True)
class HeirClaimView:
    """A claim as its heir and the officer see it (the deceased's ID number masked)."""

    id: int
    status: ClaimStatus
    relationship: heirs.Relationship
    deceased_name: str
    deceased_id_number_masked: str
    deceased_id_number_for_officer: str
    death_date: date
    confirmation_result: str | None
    confirmed_at: datetime | None
    created_at: datetime

    @property
    def status_label(self) -> str:
        return self.status.label

    @property
    def relationship_label(self) -> str:
        return self.relationship.label


def view(claim: HeirClaim) -> HeirClaimView:
    return HeirClaimView(
        id=claim.id,
        status=ClaimStatus(claim.status),
        relationship=heirs.Relationship(claim.relationship),
        deceased_name=claim.deceased_name,
        deceased_id_number_masked=identity.mask_id_number(claim.deceased_id_number),
        deceased_id_number_for_officer=identity.mask_id_number_for_officer(
            claim.deceased_id_number
        ),
        death_date=claim.death_date,
        confirmation_result=claim.confirmation_result,
        confirmed_at=claim.confirmed_at,
        created_at=claim.created_at,
    )


def _record(
    session: Session,
    claim: HeirClaim,
    *,
    actor: Actor,
    to_status: ClaimStatus,
    reason: str | None,
    at: datetime,
) -> None:
    from_status = claim.status or None
    claim.status = to_status.value
    claim.updated_at = at
    session.flush()
    session.add(
        HeirClaimEvent(
            heir_claim_id=claim.id,
            at=at,
            actor_kind=actor.kind,
            actor_id=actor.id,
            from_status=from_status,
            to_status=to_status.value,
            reason=reason,
        )
    )
    audit.record(
        session,
        actor=actor,
        action=AuditAction.HEIR_CLAIM_TRANSITION,
        at=at,
        subject=audit.Subject(person_id=claim.heir_person_id),
        details={
            "heir_claim_id": claim.id,
            "from": from_status,
            "to": to_status.value,
            "reason": reason,
        },
    )


def _confirm(
    session: Session, claim: HeirClaim, registry: DeathRegistry | None, *, at: datetime
) -> None:
    """Ask the death registry about a pending claim; leave it pending when it cannot answer."""
    if registry is None or claim.status != ClaimStatus.PENDING_VERIFICATION:
        return
    try:
        answer: DeathConfirmation = registry.confirm_death(
            id_number=claim.deceased_id_number,
            name=claim.deceased_name,
            death_date=claim.death_date,
        )
    except Unavailable:
        return
    claim.confirmation_result = answer.result
    claim.confirmed_at = at
    to_status = ClaimStatus.VERIFIED if answer.confirmed else ClaimStatus.REFUSED
    _record(session, claim, actor=REGISTRY_ACTOR, to_status=to_status, reason=answer.result, at=at)
    notifications.notify_heir_claim(
        session, claim, relationship_label=heirs.Relationship(claim.relationship).label, at=at
    )


def create(
    session: Session,
    *,
    person_id: int,
    claim: HeirClaimIn,
    registry: DeathRegistry | None,
    at: datetime,
) -> HeirClaimView:
    """继承人代办申请: stored pending, then confirmed by the registry when it answers.

    Only a registered, real-name person claims (404 otherwise: sessions of others do not
    reach here); not themselves (422 ``heir_claim.self``); the death cannot lie in the
    future (422 ``heir_claim.death_date``); one open or verified claim per heir and deceased
    (409 ``heir_claim.duplicate``)."""
    heir = session.get(Person, person_id)
    if heir is None or heir.verified_at is None:
        raise NotFound("person.not_found", "仅实名注册的自然人可以申请继承人代办")
    heirs.check_not_self(heir.id_number, claim.deceased_id_number)
    if claim.death_date > as_utc(at).astimezone(CHINA_TZ).date():
        raise Invalid("heir_claim.death_date", "死亡日期不能晚于今天", "death_date")
    open_claim = session.execute(
        select(HeirClaim.id).where(
            HeirClaim.heir_person_id == person_id,
            HeirClaim.deceased_id_number == claim.deceased_id_number,
            HeirClaim.status != ClaimStatus.REFUSED.value,
        )
    ).first()
    if open_claim is not None:
        raise Conflict(
            "heir_claim.duplicate",
            "您已提交过该参保人的继承人代办申请，请勿重复提交",
            "deceased_id_number",
        )
    row = HeirClaim(
        heir_person_id=person_id,
        relationship=claim.relationship,
        deceased_id_number=claim.deceased_id_number,
        deceased_name=claim.deceased_name,
        death_date=claim.death_date,
        status="",
        created_at=at,
        updated_at=at,
    )
    session.add(row)
    _record(
        session,
        row,
        actor=Actor.person(person_id),
        to_status=ClaimStatus.PENDING_VERIFICATION,
        reason=heirs.Relationship(claim.relationship).label,
        at=at,
    )
    _confirm(session, row, registry, at=at)
    return view(row)


def _own(session: Session, *, person_id: int, claim_id: int) -> HeirClaim:
    claim = session.get(HeirClaim, claim_id)
    if claim is None or claim.heir_person_id != person_id:
        raise claim_not_found()
    return claim


def show(
    session: Session,
    *,
    person_id: int,
    claim_id: int,
    registry: DeathRegistry | None,
    at: datetime,
) -> HeirClaimView:
    """The heir's own claim (404 for anyone else's); a pending one is asked about again."""
    claim = _own(session, person_id=person_id, claim_id=claim_id)
    _confirm(session, claim, registry, at=at)
    return view(claim)


def own_claims(session: Session, *, person_id: int) -> list[HeirClaimView]:
    """The heir's claims, newest first."""
    rows = session.execute(
        select(HeirClaim)
        .where(HeirClaim.heir_person_id == person_id)
        .order_by(HeirClaim.created_at.desc(), HeirClaim.id.desc())
    ).scalars()
    return [view(r) for r in rows]


@dataclass(frozen=True, slots=True)
class VerifiedClaim:
    """A verified claim and the deceased as the system knows them (None: no payments)."""

    claim: HeirClaimView
    deceased: Person | None


def verified(session: Session, *, person_id: int, claim_id: int) -> VerifiedClaim:
    """The heir's own verified claim: 404 for another's, 409 while not verified."""
    claim = _own(session, person_id=person_id, claim_id=claim_id)
    if claim.status != ClaimStatus.VERIFIED:
        raise claim_not_verified()
    deceased = session.execute(
        select(Person).where(Person.id_number == claim.deceased_id_number)
    ).scalar_one_or_none()
    return VerifiedClaim(view(claim), deceased)


def for_officer(session: Session, claim_id: int | None) -> HeirClaimView | None:
    """The claim an application was filed under, for the case review (None: not an heir's)."""
    if claim_id is None:
        return None
    claim = session.get(HeirClaim, claim_id)
    return view(claim) if claim is not None else None


def deceased_of(session: Session, claim_id: int) -> tuple[str, str] | None:
    """(ID number, name) of the deceased of a claim, for the agencies' requests."""
    claim = session.get(HeirClaim, claim_id)
    return (claim.deceased_id_number, claim.deceased_name) if claim is not None else None
