"""The bank simulator's accounts: which account number belongs to whom, and whether it is
open (api.md "Simulators": ``POST /_sim/accounts``).

A real bank refuses a payout whose 户名 is not the holder of the account number, and one to a
closed or frozen account; so does this one, with the reason the bank's 退付失败 carries. An
account number it was never told about is paid, so that older demos and tests keep working.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

HOLDER_MISMATCH = "户名与账号不符"
CLOSED = "账户已销户"
FROZEN = "账户冻结"
_STATE_REFUSALS = {"closed": CLOSED, "frozen": FROZEN}


class BankAccount(BaseModel):
    """One account the bank keeps: its number, its holder (name and ID number or tax ID)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    account_no: str = Field(min_length=1, max_length=40)
    holder_name: str = Field(min_length=1, max_length=100)
    holder_id: str | None = Field(default=None, max_length=40)
    state: Literal["open", "closed", "frozen"] = "open"


_ACCOUNTS = TypeAdapter(list[BankAccount])


class AccountRegistry:
    """Thread-safe: tests register accounts while the simulator serves payouts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[str, BankAccount] = {}

    def register(self, data: object) -> list[BankAccount]:
        """Add or replace accounts from ``[{account_no, holder_name, holder_id, state}]``;
        pydantic's ValidationError (a ValueError) for anything else."""
        accounts = _ACCOUNTS.validate_python(data)
        with self._lock:
            for account in accounts:
                self._accounts[account.account_no] = account
        return accounts

    def all(self) -> list[BankAccount]:
        with self._lock:
            return list(self._accounts.values())

    def refusal(self, payout: dict[str, Any]) -> str | None:
        """Why the bank refuses this payout order, or None when it pays.

        The order names the account (``account.no``, ``account.name``) and the payee
        (``payee.name``, ``payee.id``): the holder of a known account must be that payee, by
        name and, when both are known, by ID — a namesake is not the payee either.
        """
        account = payout.get("account")
        payee = payout.get("payee")
        account = account if isinstance(account, dict) else {}
        payee = payee if isinstance(payee, dict) else {}
        with self._lock:
            known = self._accounts.get(str(account.get("no") or ""))
        if known is None:
            return None
        names = {str(n) for n in (account.get("name"), payee.get("name")) if n}
        payee_id = payee.get("id")
        if names != {known.holder_name} or (
            known.holder_id and payee_id and str(payee_id) != known.holder_id
        ):
            return HOLDER_MISMATCH
        return _STATE_REFUSALS.get(known.state)
