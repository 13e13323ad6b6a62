"""GET /officer/reconciliations' JSON: a stored reconciliation run as text — amounts as
two-decimal yuan, kinds and agencies as their codes with the Chinese label, accounts masked."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel

from ...domain.money import format_yuan
from ...services.reconciliation import EntryView, ReconciliationView


class AgencyTotalsOut(BaseModel):
    agency: str
    agency_label: str
    ours_count: int
    ours_amount: str
    theirs_count: int
    theirs_amount: str
    agrees: bool


class EntryOut(BaseModel):
    amount: str | None
    account_masked: str | None


class DiscrepancyOut(BaseModel):
    kind: str
    kind_label: str
    application_id: int | None
    agency: str
    agency_label: str
    ours: EntryOut | None
    theirs: EntryOut | None


class ReconciliationOut(BaseModel):
    date: date
    ran_at: str
    clean: bool
    agencies: list[AgencyTotalsOut]
    discrepancies: list[DiscrepancyOut]

    @classmethod
    def of(cls, view: ReconciliationView) -> ReconciliationOut:
        return cls(
            date=view.day,
            ran_at=view.ran_at.isoformat(),
            clean=view.clean,
            agencies=[
                AgencyTotalsOut(
                    agency=t.agency.value,
                    agency_label=t.agency.label,
                    ours_count=t.ours_count,
                    ours_amount=format_yuan(t.ours_amount_fen),
                    theirs_count=t.theirs_count,
                    theirs_amount=format_yuan(t.theirs_amount_fen),
                    agrees=t.agrees,
                )
                for t in view.agencies
            ],
            discrepancies=[
                DiscrepancyOut(
                    kind=d.kind.value,
                    kind_label=d.kind.label,
                    application_id=d.application_id,
                    agency=d.agency.value,
                    agency_label=d.agency.label,
                    ours=_entry(d.ours),
                    theirs=_entry(d.theirs),
                )
                for d in view.discrepancies
            ],
        )


def _entry(entry: EntryView | None) -> EntryOut | None:
    if entry is None:
        return None
    return EntryOut(
        amount=format_yuan(entry.amount_fen) if entry.amount_fen is not None else None,
        account_masked=entry.account_masked,
    )


EXAMPLE = {
    "date": "2026-11-28",
    "ran_at": "2026-11-29T01:00:00+00:00",
    "clean": False,
    "agencies": [
        {
            "agency": "hrss",
            "agency_label": "人社",
            "ours_count": 2,
            "ours_amount": "1400.00",
            "theirs_count": 2,
            "theirs_amount": "1400.00",
            "agrees": True,
        },
        {
            "agency": "medical_security",
            "agency_label": "医保",
            "ours_count": 0,
            "ours_amount": "0.00",
            "theirs_count": 0,
            "theirs_amount": "0.00",
            "agrees": True,
        },
        {
            "agency": "bank",
            "agency_label": "银行",
            "ours_count": 2,
            "ours_amount": "1400.00",
            "theirs_count": 2,
            "theirs_amount": "2100.00",
            "agrees": False,
        },
    ],
    "discrepancies": [
        {
            "kind": "amount_differs",
            "kind_label": "金额不符",
            "application_id": 17,
            "agency": "bank",
            "agency_label": "银行",
            "ours": {"amount": "700.00", "account_masked": "622848*********0018"},
            "theirs": {"amount": "1400.00", "account_masked": "622848*********0018"},
        }
    ],
}
