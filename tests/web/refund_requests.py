"""Refunds applied for through the API the way applicants apply, for the tests that start
from a submitted case (re-issue after 退付失败, the 消息中心): a pension refund, a unit's
批次 into the unit's account, a medical refund into a deposit account."""

from __future__ import annotations

API = "/api/v1"
UNIT_NAME = "华容区庙岭镇新庙村村民委员会"
BANK = {
    "bank_account_type": "bank_card",
    "bank_account_no": "6228480402564890018",
    "bank_category": "103",
    "contact_name": "邱世贵",
    "contact_phone": "13812341234",
}


def apply(client, headers, payment_id, **overrides) -> dict:
    """A pension refund of ``payment_id`` into BANK: the application as answered."""
    r = client.post(
        f"{API}/pension/refunds",
        json={"payment_ids": [payment_id], **BANK, **overrides},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["applications"][0]


def apply_unit(client, headers, payment: str, lines: list[str], name: str = UNIT_NAME) -> list[int]:
    """A unit's 批次 of ``lines`` of ``payment`` (month 1) into BANK in the name ``name``: the
    applications' ids."""
    r = client.post(
        f"{API}/unit/refund-batches",
        json={
            "unit_payment_id": payment,
            "line_ids": lines,
            "payment_month": 1,
            **BANK,
            "bank_account_name": name,
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return [a["id"] for a in r.json()["applications"]]


def apply_medical(client, headers, *, payment: str, registration: str, account: int) -> int:
    """A medical refund of ``payment`` into deposit account ``account``: its id."""
    r = client.post(
        f"{API}/medical/refunds",
        json={
            "payment_ids": [payment],
            "registration_id": registration,
            "deposit_account_id": account,
            "handler_phone": "13812341234",
            "reason_code": "duplicate_payment",
            "channel": "web",
        },
        headers=headers,
    )
    assert r.status_code == 201, r.text
    return r.json()["applications"][0]["id"]
