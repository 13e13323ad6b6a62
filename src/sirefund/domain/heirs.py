"""继承人代办 (domain.md "Heirs"): when an insured person has died, a registered heir claims
the deceased's refundable payments.

A claim states the relationship, the deceased's ID number, name and date of death. HRSS /
the medical security bureau (their death registry) must confirm all three; until they
answer the claim is ``pending_verification``, then ``verified`` or ``refused`` with the
reason the heir reads. Only a verified claim lets its heir see and apply for the deceased's
payments, and the refund goes to an account held by the heir.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .errors import Invalid


class Relationship(StrEnum):
    SPOUSE = "spouse"
    CHILD = "child"
    PARENT = "parent"
    OTHER = "other"


RELATIONSHIP_LABELS: dict[Relationship, str] = {
    Relationship.SPOUSE: "配偶",
    Relationship.CHILD: "子女",
    Relationship.PARENT: "父母",
    Relationship.OTHER: "其他继承人",
}


class ClaimStatus(StrEnum):
    PENDING_VERIFICATION = "pending_verification"
    VERIFIED = "verified"
    REFUSED = "refused"


STATUS_LABELS: dict[ClaimStatus, str] = {
    ClaimStatus.PENDING_VERIFICATION: "待核实",
    ClaimStatus.VERIFIED: "已核实",
    ClaimStatus.REFUSED: "核实不通过",
}


class Mismatch(StrEnum):
    """What the death registry found wrong with a claim."""

    NOT_FOUND = "not_found"
    NAME = "name"
    DEATH_DATE = "death_date"


MISMATCH_REASONS: dict[Mismatch, str] = {
    Mismatch.NOT_FOUND: "人社部门未查询到该人员的死亡登记信息",
    Mismatch.NAME: "姓名与死亡登记信息不符",
    Mismatch.DEATH_DATE: "死亡日期与死亡登记信息不符",
}

CONFIRMED_RESULT = "人社部门已确认死亡登记信息"


@dataclass(frozen=True, slots=True)
class DeathConfirmation:
    """The death registry's answer: confirmed, or the first thing that did not match."""

    confirmed: bool
    mismatch: Mismatch | None = None

    @property
    def result(self) -> str:
        """The confirmation result in words (shown to the heir and the officer)."""
        if self.confirmed:
            return CONFIRMED_RESULT
        return MISMATCH_REASONS[self.mismatch or Mismatch.NOT_FOUND]


def check_not_self(heir_id_number: str, deceased_id_number: str) -> None:
    """The heir cannot claim themselves."""
    if heir_id_number == deceased_id_number:
        raise Invalid("heir_claim.self", "不能以本人身份申请继承人代办", "deceased_id_number")


def relationship_label(value: str) -> str:
    try:
        return RELATIONSHIP_LABELS[Relationship(value)]
    except ValueError:
        return value


def status_label(value: str) -> str:
    try:
        return STATUS_LABELS[ClaimStatus(value)]
    except ValueError:
        return value
