"""继承人代办 at the service layer, on SQLite and PostgreSQL: a claim is confirmed by the
death registry of the simulators (over real HTTP, the adapter behind the DeathRegistry
port), and only a verified claim opens the deceased's payments to its own heir."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from sirefund.domain.errors import Conflict, Invalid, NotFound, Unavailable
from sirefund.domain.heirs import ClaimStatus, DeathConfirmation
from sirefund.models import Application, ApplicationRiskFlag, HeirClaimEvent
from sirefund.services import dispatches, heir_claims, pension, risk
from sirefund.services.heir_claims import HeirClaimIn
from sirefund.services.pension import PensionRefundIn
from tests import factories as f

HEIR_CARD = "6228480402564890018"
DEATH = "2025-12-01"


def claim_in(deceased, **overrides: object) -> HeirClaimIn:
    return HeirClaimIn.model_validate(
        {
            "deceased_id_number": deceased.id_number,
            "deceased_name": deceased.name,
            "death_date": DEATH,
            "relationship": "child",
            **overrides,
        }
    )


def refund(*payment_ids: str, heir_claim_id: int | None, **overrides: object) -> PensionRefundIn:
    return PensionRefundIn.model_validate(
        {
            "payment_ids": list(payment_ids),
            "bank_account_type": "bank_card",
            "bank_account_no": HEIR_CARD,
            "bank_category": "103",
            "contact_name": "邱小贵",
            "contact_phone": "13812341234",
            "heir_claim_id": heir_claim_id,
            **overrides,
        }
    )


@pytest.fixture
def family(session, realname_sim):
    """A deceased payer (registered dead in the simulator) with one refundable payment, and
    their registered child."""
    deceased = f.make_person(session, name="邱世贵", region="420703")
    pay = f.make_pension_payment(session, deceased)
    heir = f.make_person(session, name="邱小贵", region="420102", password=f.PASSWORD)
    realname_sim.add_death(deceased.id_number, DEATH, name=deceased.name)
    return deceased, pay, heir


def _verified(session, realname_sim, deceased, heir):
    return heir_claims.create(
        session,
        person_id=heir.id,
        claim=claim_in(deceased),
        registry=realname_sim.death_registry(),
        at=f.AT,
    )


def test_a_claim_the_registry_confirms_is_verified_and_its_history_recorded(
    session, realname_sim, family
):
    deceased, _, heir = family
    found = _verified(session, realname_sim, deceased, heir)
    assert found.status == ClaimStatus.VERIFIED
    assert found.confirmation_result == "人社部门已确认死亡登记信息"
    assert (
        found.deceased_id_number_masked
        == f"{deceased.id_number[0]}{'*' * 16}{deceased.id_number[-1]}"
    )
    events = (
        session.execute(
            select(HeirClaimEvent)
            .where(HeirClaimEvent.heir_claim_id == found.id)
            .order_by(HeirClaimEvent.id)
        )
        .scalars()
        .all()
    )
    assert [(e.actor_kind, e.from_status, e.to_status) for e in events] == [
        ("person", None, "pending_verification"),
        ("agency", "pending_verification", "verified"),
    ]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"deceased_name": "邱世富"}, "姓名与死亡登记信息不符"),
        ({"death_date": "2025-11-30"}, "死亡日期与死亡登记信息不符"),
    ],
)
def test_a_claim_whose_name_or_date_of_death_does_not_match_is_refused_with_the_reason(
    session, realname_sim, family, overrides, reason
):
    deceased, _, heir = family
    found = heir_claims.create(
        session,
        person_id=heir.id,
        claim=claim_in(deceased, **overrides),
        registry=realname_sim.death_registry(),
        at=f.AT,
    )
    assert (found.status, found.confirmation_result) == (ClaimStatus.REFUSED, reason)


def test_a_claim_for_a_living_person_is_refused(session, realname_sim):
    living = f.make_person(session, name="张活")
    heir = f.make_person(session, name="张小", password=f.PASSWORD)
    found = heir_claims.create(
        session,
        person_id=heir.id,
        claim=claim_in(living),
        registry=realname_sim.death_registry(),
        at=f.AT,
    )
    assert found.status == ClaimStatus.REFUSED
    assert found.confirmation_result == "人社部门未查询到该人员的死亡登记信息"


class _Down:
    def confirm_death(self, **_: object) -> DeathConfirmation:
        raise Unavailable("death_registry.unavailable", "暂不可用")


def test_a_claim_stays_pending_while_the_registry_is_down_and_is_decided_when_looked_at(
    session, realname_sim, family
):
    deceased, _, heir = family
    found = heir_claims.create(
        session, person_id=heir.id, claim=claim_in(deceased), registry=_Down(), at=f.AT
    )
    assert found.status == ClaimStatus.PENDING_VERIFICATION
    with pytest.raises(Conflict) as refused:
        pension.heir_payments(session, person_id=heir.id, heir_claim_id=found.id)
    assert refused.value.code == "heir_claim.not_verified"
    again = heir_claims.show(
        session,
        person_id=heir.id,
        claim_id=found.id,
        registry=realname_sim.death_registry(),
        at=f.AT,
    )
    assert again.status == ClaimStatus.VERIFIED


def test_the_heir_cannot_claim_themselves(session, realname_sim):
    heir = f.make_person(session, name="邱小贵", password=f.PASSWORD)
    realname_sim.add_death(heir.id_number, DEATH, name=heir.name)
    with pytest.raises(Invalid) as refused:
        heir_claims.create(
            session,
            person_id=heir.id,
            claim=claim_in(heir),
            registry=realname_sim.death_registry(),
            at=f.AT,
        )
    assert (refused.value.code, refused.value.field) == ("heir_claim.self", "deceased_id_number")


def test_only_a_real_name_registered_person_can_claim(session, realname_sim, family):
    deceased, _, _ = family
    unregistered = f.make_person(session, name="无名")
    with pytest.raises(NotFound):
        heir_claims.create(
            session,
            person_id=unregistered.id,
            claim=claim_in(deceased),
            registry=realname_sim.death_registry(),
            at=f.AT,
        )


def test_a_second_open_claim_for_the_same_deceased_is_refused(session, realname_sim, family):
    deceased, _, heir = family
    _verified(session, realname_sim, deceased, heir)
    with pytest.raises(Conflict) as refused:
        _verified(session, realname_sim, deceased, heir)
    assert refused.value.code == "heir_claim.duplicate"


def test_a_verified_heir_sees_and_applies_for_the_deceased_payment_into_their_own_account(
    session, realname_sim, family
):
    deceased, pay, heir = family
    claim = _verified(session, realname_sim, deceased, heir)
    lines = pension.heir_payments(session, person_id=heir.id, heir_claim_id=claim.id)
    assert [(line.payment_id, line.refundable) for line in lines] == [(pay.payment_id, True)]
    created = pension.apply(
        session, person_id=heir.id, refund=refund(pay.payment_id, heir_claim_id=claim.id), at=f.AT
    )
    app = session.get(Application, created[0].id)
    assert (app.person_id, app.heir_claim_id, app.bank_account_name) == (
        heir.id,
        claim.id,
        "邱小贵",
    )
    assert app.region_code == deceased.region_code
    flags = (
        session.execute(
            select(ApplicationRiskFlag.code).where(ApplicationRiskFlag.application_id == app.id)
        )
        .scalars()
        .all()
    )
    assert "heir_claim" in flags
    assert [fl.label for fl in risk.flags(session, [app.id])[app.id]] == ["继承人代领"]


def test_the_heir_account_must_be_in_the_heir_name_not_the_deceased(session, realname_sim, family):
    deceased, pay, heir = family
    claim = _verified(session, realname_sim, deceased, heir)
    with pytest.raises(Invalid) as refused:
        pension.apply(
            session,
            person_id=heir.id,
            refund=refund(pay.payment_id, heir_claim_id=claim.id, bank_account_name="邱世贵"),
            at=f.AT,
        )
    assert refused.value.code == "bank_account_name.not_heir"


def test_another_heir_cannot_apply_for_a_payment_already_applied_for(session, realname_sim, family):
    deceased, pay, heir = family
    claim = _verified(session, realname_sim, deceased, heir)
    pension.apply(
        session, person_id=heir.id, refund=refund(pay.payment_id, heir_claim_id=claim.id), at=f.AT
    )
    sibling = f.make_person(session, name="邱二贵", password=f.PASSWORD)
    other = _verified(session, realname_sim, deceased, sibling)
    with pytest.raises(Conflict) as refused:
        pension.apply(
            session,
            person_id=sibling.id,
            refund=refund(
                pay.payment_id, heir_claim_id=other.id, bank_account_no="6222021234567890128"
            ),
            at=f.AT,
        )
    assert refused.value.code == "application.already_applied"


def test_a_claim_only_opens_the_deceased_payments_not_anyone_elses(session, realname_sim, family):
    deceased, _, heir = family
    claim = _verified(session, realname_sim, deceased, heir)
    stranger = f.make_person(session, name="路人")
    theirs = f.make_pension_payment(session, stranger)
    with pytest.raises(NotFound):
        pension.apply(
            session,
            person_id=heir.id,
            refund=refund(theirs.payment_id, heir_claim_id=claim.id),
            at=f.AT,
        )


def test_a_refused_claim_shows_nothing_and_opens_nothing(session, realname_sim, family):
    deceased, pay, _ = family
    impostor = f.make_person(session, name="冒领人", password=f.PASSWORD)
    refused_claim = heir_claims.create(
        session,
        person_id=impostor.id,
        claim=claim_in(deceased, death_date="2025-01-01"),
        registry=realname_sim.death_registry(),
        at=f.AT,
    )
    assert refused_claim.status == ClaimStatus.REFUSED
    with pytest.raises(Conflict):
        pension.heir_payments(session, person_id=impostor.id, heir_claim_id=refused_claim.id)
    with pytest.raises(Conflict):
        pension.apply(
            session,
            person_id=impostor.id,
            refund=refund(pay.payment_id, heir_claim_id=refused_claim.id),
            at=f.AT,
        )


def test_someone_else_verified_claim_is_answered_like_a_missing_one(session, realname_sim, family):
    deceased, pay, heir = family
    claim = _verified(session, realname_sim, deceased, heir)
    intruder = f.make_person(session, name="旁人", password=f.PASSWORD)
    with pytest.raises(NotFound):
        pension.heir_payments(session, person_id=intruder.id, heir_claim_id=claim.id)
    with pytest.raises(NotFound):
        pension.apply(
            session,
            person_id=intruder.id,
            refund=refund(pay.payment_id, heir_claim_id=claim.id, contact_name="旁人"),
            at=f.AT,
        )
    with pytest.raises(NotFound):
        heir_claims.show(session, person_id=intruder.id, claim_id=claim.id, registry=None, at=f.AT)


def test_without_a_claim_the_deceased_payment_is_not_the_heir_own(session, realname_sim, family):
    _, pay, heir = family
    with pytest.raises(NotFound):
        pension.apply(
            session, person_id=heir.id, refund=refund(pay.payment_id, heir_claim_id=None), at=f.AT
        )


def test_a_death_in_the_future_is_refused(session, realname_sim, family):
    deceased, _, heir = family
    with pytest.raises(Invalid) as refused:
        heir_claims.create(
            session,
            person_id=heir.id,
            claim=claim_in(deceased, death_date=date(2027, 1, 1)),
            registry=realname_sim.death_registry(),
            at=f.AT,
        )
    assert refused.value.field == "death_date"


def test_hrss_is_asked_about_the_deceased_payment_and_the_bank_pays_the_heir(
    session, realname_sim, family
):
    deceased, pay, heir = family
    claim = _verified(session, realname_sim, deceased, heir)
    [created] = pension.apply(
        session, person_id=heir.id, refund=refund(pay.payment_id, heir_claim_id=claim.id), at=f.AT
    )
    app = session.get(Application, created.id)
    hrss = dispatches.enqueue_for_approval(session, application=app, at=f.AT).payload
    assert (hrss["payer"]["id_number"], hrss["payer"]["name"]) == (deceased.id_number, "邱世贵")
    assert hrss["heir"]["id_number"] == heir.id_number
    bank = dispatches.enqueue_payout(session, application=app, at=f.AT).payload
    assert bank["payee"] == {"name": "邱小贵", "id": heir.id_number}
    assert bank["account"]["name"] == "邱小贵"
