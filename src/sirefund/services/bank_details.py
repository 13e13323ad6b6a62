"""The bank and contact details every pension refund carries (个人、村组、税务端发起).

:class:`BankDetailsIn` is the one input model of those fields: the person's refund and the
unit's batch extend it, the API builds them from JSON and the pages from form data. Its
validators run the domain checks (domain.identity, domain.rules), so a bad account number is
refused with the same code and Chinese message everywhere, each error naming its field. A
domain error becomes a pydantic error whose *type* is the domain code (see :func:`refusal`);
web/errors.py answers it as that code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from ..domain import identity, rules
from ..domain.errors import DomainError, Invalid
from ..domain.rules import BankAccountType

ACCOUNT_NAME_MAX = 100
ACCOUNT_TYPE_MAX = 20
ACCOUNT_NO_MAX = 40
CATEGORY_MAX = 6
CONTACT_NAME_MAX = 50
CONTACT_PHONE_MAX = 20


def refusal(exc: DomainError) -> PydanticCustomError:
    """A domain error as a validation error: its type is the domain code, its message the
    Chinese one (passed as context so braces in a message are never read as a template)."""
    return PydanticCustomError(exc.code, "{message}", {"message": exc.message})


def checked(check: Callable[[], str]) -> str:
    """``check()``, its domain error turned into the validation error of the field."""
    try:
        return check()
    except Invalid as exc:
        raise refusal(exc) from None


def _required(value: str, code: str, message: str, field: str) -> str:
    text = value.strip()
    if not text:
        raise Invalid(code, message, field)
    return text


# --------------------------------------------------------------------------- the checks


def check_account_type(value: str) -> str:
    try:
        return BankAccountType(value).value
    except ValueError:
        raise Invalid("bank_account_type.unknown", "请选择账户类型", "bank_account_type") from None


def check_account_no(value: str, *, account_type: str, confirmed: bool) -> str:
    _required(value, "bank_account.required", "请填写银行账号", "bank_account_no")
    # The Luhn check is about UnionPay *cards*; a passbook number has no public check digit.
    skip_luhn = confirmed or account_type == BankAccountType.PASSBOOK.value
    return identity.check_bank_account(value, confirmed=skip_luhn)


def check_category(value: str) -> str:
    return rules.check_bank_category(value.strip())


def check_contact_name(value: str) -> str:
    _required(value, "contact_name.required", "请填写联系人名称", "contact_name")
    return identity.check_name(value, field="contact_name")


def check_contact_phone(value: str) -> str:
    _required(value, "contact_phone.required", "请填写联系人电话", "contact_phone")
    return identity.check_phone(value)


def check_account_name(value: str) -> str:
    text = _required(value, "bank_account_name.required", "请填写银行账户名称", "bank_account_name")
    if len(text) > ACCOUNT_NAME_MAX:
        raise Invalid(
            "bank_account_name.too_long",
            f"银行账户名称不能超过{ACCOUNT_NAME_MAX}个字符",
            "bank_account_name",
        )
    return text


# --------------------------------------------------------------------------- the input model


def input_config(example: JsonDict, *, strip: bool = False) -> ConfigDict:
    """The config of an applicant's or officer's input model: an unknown field is refused,
    ``example`` is what the API documentation shows of it, and with ``strip`` every string
    is trimmed first."""
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": [example]})
    if strip:
        config["str_strip_whitespace"] = True
    return config


#: The details as the API documentation shows them in each refund's example.
EXAMPLE: JsonDict = {
    "bank_account_type": "bank_card",
    "bank_account_no": "6228480402564890018",
    "account_no_confirmed": False,
    "bank_category": "103",
    "contact_name": "邱世贵",
    "contact_phone": "13812341234",
}


class AccountIn(BaseModel):
    """账户类型、银行账号、银行类别: the account alone (a re-issue after 退付失败 changes only
    this). ``account_no_confirmed`` comes before the number because the number's Luhn check
    depends on it (and on the account type)."""

    bank_account_type: Annotated[str, StringConstraints(max_length=ACCOUNT_TYPE_MAX)] = Field(
        description="账户类型：bank_card 银行卡 / passbook 存折"
    )
    account_no_confirmed: bool = Field(
        default=False, description="银联卡号未通过校验时，申请人确认卡号无误"
    )
    bank_account_no: Annotated[str, StringConstraints(max_length=ACCOUNT_NO_MAX)] = Field(
        description="银行账号"
    )
    bank_category: Annotated[str, StringConstraints(max_length=CATEGORY_MAX)] = Field(
        description="银行类别（CNAPS 行别代码，如 103 中国农业银行）"
    )

    # One validator for every field with a check of its own in _FIELD_CHECKS, the contact
    # fields of BankDetailsIn among them (check_fields=False: this model has not got those).
    @field_validator(
        "bank_account_type", "bank_category", "contact_name", "contact_phone", check_fields=False
    )
    @classmethod
    def _own_check(cls, value: str, info: ValidationInfo) -> str:
        check = _FIELD_CHECKS[str(info.field_name)]
        return checked(lambda: check(value))

    @field_validator("bank_account_no")
    @classmethod
    def _account_no(cls, value: str, info: ValidationInfo) -> str:
        account_type = info.data.get("bank_account_type", "")
        confirmed = bool(info.data.get("account_no_confirmed", False))
        return checked(
            lambda: check_account_no(value, account_type=account_type, confirmed=confirmed)
        )


class BankDetailsIn(AccountIn):
    """账户类型、银行账号、银行类别、联系人: validated and normalised (whitespace removed from
    numbers, names trimmed)."""

    contact_name: Annotated[str, StringConstraints(max_length=CONTACT_NAME_MAX)] = Field(
        description="联系人名称"
    )
    contact_phone: Annotated[str, StringConstraints(max_length=CONTACT_PHONE_MAX)] = Field(
        description="联系人电话"
    )


class PayoutAccountIn(AccountIn):
    """重新提交账户 after 退付失败 (pension, unit): the corrected account and its 户名, which
    must be the payee's (the payer's name, or the unit's)."""

    model_config = input_config(
        {
            "bank_account_type": "bank_card",
            "bank_account_no": "6228480402564890026",
            "account_no_confirmed": False,
            "bank_account_name": "邱世贵",
            "bank_category": "103",
        }
    )

    bank_account_name: Annotated[str, StringConstraints(max_length=ACCOUNT_NAME_MAX)] = Field(
        description="银行账户名称：个人为缴费人本人姓名，村组为单位名称"
    )

    @field_validator("bank_account_name")
    @classmethod
    def _account_name(cls, value: str) -> str:
        return checked(lambda: check_account_name(value))


_FIELD_CHECKS: dict[str, Callable[[str], str]] = {
    "bank_account_type": check_account_type,
    "bank_category": check_category,
    "contact_name": check_contact_name,
    "contact_phone": check_contact_phone,
}
#: The account's own fields, in the order forms show them (the flag is not one).
ACCOUNT_FIELDS = ("bank_account_type", "bank_account_no", "bank_account_name", "bank_category")
#: The details' own fields, in the order forms show them (the flag is not one).
FIELDS = ("bank_account_type", "bank_account_no", "bank_category", "contact_name", "contact_phone")
