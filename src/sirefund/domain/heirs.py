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

from .errors import Invalid
from .labelled import LabelledEnum


class Relationship(LabelledEnum):
    SPOUSE = "spouse", "配偶"
    CHILD = "child", "子女"
    PARENT = "parent", "父母"
    OTHER = "other", "其他继承人"


class ClaimStatus(LabelledEnum):
    PENDING_VERIFICATION = "pending_verification", "待核实"
    VERIFIED = "verified", "已核实"
    REFUSED = "refused", "核实不通过"


class Mismatch(LabelledEnum):
    """What the death registry found wrong with a claim; the label is the reason the heir
    reads."""

    NOT_FOUND = "not_found", "人社部门未查询到该人员的死亡登记信息"
    NAME = "name", "姓名与死亡登记信息不符"
    DEATH_DATE = "death_date", "死亡日期与死亡登记信息不符"


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
        return (self.mismatch or Mismatch.NOT_FOUND).label


def check_not_self(heir_id_number: str, deceased_id_number: str) -> None:
    """The heir cannot claim themselves."""
    if heir_id_number == deceased_id_number:
        raise Invalid("heir_claim.self", "不能以本人身份申请继承人代办", "deceased_id_number")
