"""The bank and contact details every pension refund carries (个人、村组、税务端发起).

One place validates them, so the person's dialog, the unit's 退费维护区 and the officer's form
refuse the same input with the same codes and Chinese messages. Forms call
:func:`bank_details_errors` to show every problem next to its field at once; services call
:func:`validate_bank_details`, which raises the first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..domain import identity, rules
from ..domain.errors import DomainError, Invalid
from ..domain.rules import BankAccountType

_ACCOUNT_NAME_MAX = 100


@dataclass(frozen=True)
class BankDetails:
    """Normalised details, ready to store on an application."""

    bank_account_type: str
    bank_account_no: str
    bank_category: str
    contact_name: str
    contact_phone: str
    bank_account_name: str | None = None


def _required(value: object, code: str, message: str, field: str) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise Invalid(code, message, field)
    return text


def _account_type(value: object) -> str:
    try:
        return BankAccountType(value).value
    except ValueError:
        raise Invalid("bank_account_type.unknown", "请选择账户类型", "bank_account_type") from None


def _account_no(value: object, *, account_type: object, confirmed: bool) -> str:
    _required(value, "bank_account.required", "请填写银行账号", "bank_account_no")
    # The Luhn check is about UnionPay *cards*; a passbook number has no public check digit.
    skip_luhn = confirmed or account_type == BankAccountType.PASSBOOK.value
    return identity.check_bank_account(value, confirmed=skip_luhn)  # type: ignore[arg-type]


def _category(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid("bank_category.unknown", "请选择银行类别", "bank_category")
    return rules.check_bank_category(value.strip())


def _contact_name(value: object) -> str:
    _required(value, "contact_name.required", "请填写联系人名称", "contact_name")
    return identity.check_name(value, field="contact_name")  # type: ignore[arg-type]


def _contact_phone(value: object) -> str:
    _required(value, "contact_phone.required", "请填写联系人电话", "contact_phone")
    return identity.check_phone(value)  # type: ignore[arg-type]


def _account_name(value: object) -> str:
    text = _required(value, "bank_account_name.required", "请填写银行账户名称", "bank_account_name")
    if len(text) > _ACCOUNT_NAME_MAX:
        raise Invalid(
            "bank_account_name.too_long",
            f"银行账户名称不能超过{_ACCOUNT_NAME_MAX}个字符",
            "bank_account_name",
        )
    return text


_NOT_ASKED = object()


def _checks(
    *,
    bank_account_type: object,
    bank_account_no: object,
    account_no_confirmed: bool,
    bank_category: object,
    contact_name: object,
    contact_phone: object,
    bank_account_name: object,
) -> list[tuple[str, Callable[[], str]]]:
    checks: list[tuple[str, Callable[[], str]]] = [
        ("bank_account_type", lambda: _account_type(bank_account_type)),
        (
            "bank_account_no",
            lambda: _account_no(
                bank_account_no,
                account_type=bank_account_type,
                confirmed=bool(account_no_confirmed),
            ),
        ),
    ]
    if bank_account_name is not _NOT_ASKED:
        checks.append(("bank_account_name", lambda: _account_name(bank_account_name)))
    checks += [
        ("bank_category", lambda: _category(bank_category)),
        ("contact_name", lambda: _contact_name(contact_name)),
        ("contact_phone", lambda: _contact_phone(contact_phone)),
    ]
    return checks


def validate_bank_details(
    *,
    bank_account_type: object,
    bank_account_no: object,
    account_no_confirmed: bool = False,
    bank_category: object,
    contact_name: object,
    contact_phone: object,
    bank_account_name: object = _NOT_ASKED,
) -> BankDetails:
    """Normalised details, or the first problem as ``Invalid`` (with its ``field``).

    ``bank_account_name`` is checked only when passed (the unit form has it, the person's
    dialog does not). A UnionPay card number failing Luhn passes when ``account_no_confirmed``.
    """
    values = {
        field: check()
        for field, check in _checks(
            bank_account_type=bank_account_type,
            bank_account_no=bank_account_no,
            account_no_confirmed=account_no_confirmed,
            bank_category=bank_category,
            contact_name=contact_name,
            contact_phone=contact_phone,
            bank_account_name=bank_account_name,
        )
    }
    return BankDetails(**values)


def bank_details_errors(
    *,
    bank_account_type: object,
    bank_account_no: object,
    account_no_confirmed: bool = False,
    bank_category: object,
    contact_name: object,
    contact_phone: object,
    bank_account_name: object = _NOT_ASKED,
) -> dict[str, DomainError]:
    """Every problem at once, keyed by field name; empty when the details are valid."""
    errors: dict[str, DomainError] = {}
    for field, check in _checks(
        bank_account_type=bank_account_type,
        bank_account_no=bank_account_no,
        account_no_confirmed=account_no_confirmed,
        bank_category=bank_category,
        contact_name=contact_name,
        contact_phone=contact_phone,
        bank_account_name=bank_account_name,
    ):
        try:
            check()
        except DomainError as exc:
            errors[field] = exc
    return errors
