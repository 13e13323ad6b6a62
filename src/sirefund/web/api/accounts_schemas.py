"""Pydantic models of registration, login and the current account: validation and
/openapi.json for the API, and the same input models for the login and registration pages
(built there from form data), so a field is checked alike whichever way it arrives.

Every string is capped and refuses control characters; what the domain checks with its own
codes and Chinese messages (ID number, phone, password strength …) is left to the services, so
a client gets the domain's code (``register.phone_not_mobile``) rather than a generic one.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ...services.accounts import AccountKind
from ...services.verification import Purpose


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    """A model's config with the examples /openapi.json shows of it (unknown fields are
    ignored, pydantic's default)."""
    return ConfigDict(json_schema_extra={"examples": list(examples)})


# --------------------------------------------------------------------------- input types


def _plain_text(value: str) -> str:
    """Refuse control characters and lone surrogates: no one types them, and the database
    (NUL on PostgreSQL) or the UTF-8 encoder (surrogates) would choke on them."""
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs") and ch not in "\t":
            raise ValueError("内容包含不允许的字符")
    return value


# Every string is capped: nothing unbounded reaches argon2, the database or a log line.
IdNumberText = Annotated[str, Field(max_length=24), AfterValidator(_plain_text)]
TaxIdText = Annotated[str, Field(max_length=24), AfterValidator(_plain_text)]
NameText = Annotated[str, Field(max_length=50), AfterValidator(_plain_text)]
UnitNameText = Annotated[str, Field(max_length=100), AfterValidator(_plain_text)]
PhoneText = Annotated[str, Field(max_length=20), AfterValidator(_plain_text)]
UsernameText = Annotated[str, Field(max_length=40), AfterValidator(_plain_text)]
LoginText = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_plain_text)]
PasswordText = Annotated[str, Field(min_length=1, max_length=128), AfterValidator(_plain_text)]
# Not checked for six digits here: a malformed code is refused like a wrong one (401, one
# message), so its shape tells a guesser nothing the service does not.
OtpText = Annotated[str, Field(max_length=10), AfterValidator(_plain_text)]
NewPasswordText = Annotated[
    PasswordText,
    Field(
        description="密码，至少8位，不可为常见、易猜的密码，不可包含证件号码、出生日期或手机号码"
    ),
]


CodeText = Annotated[str, Field(max_length=10), AfterValidator(_plain_text)]
VerificationCodeText = Annotated[
    CodeText, Field(description="短信验证码（6位数字，发送到手机号码，5分钟内有效）")
]


class VerificationCodeIn(BaseModel):
    model_config = _examples({"phone": "13812341234", "purpose": "register"})
    phone: PhoneText = Field(description="手机号码（单位注册：办税员的手机号码）")
    purpose: Purpose = Field(
        description="用途：register 注册，reset_password 重置密码，change_phone 更换手机号码"
    )


class VerificationCodeOut(BaseModel):
    model_config = _examples({"resend_after_seconds": 60})
    resend_after_seconds: int = Field(description="再次获取验证码前须等待的秒数")


class RegisterPersonIn(BaseModel):
    model_config = _examples(
        {
            "id_number": "420703195803120013",
            "name": "邱世贵",
            "phone": "13812341234",
            "verification_code": "418027",
            "password": "Hubei-2026-refund",
            "username": "qiushigui",
        }
    )
    id_number: IdNumberText = Field(description="居民身份证号码（18位）")
    name: NameText = Field(description="姓名，须与系统登记的一致")
    phone: PhoneText = Field(description="手机号码，须为本人实名登记的手机号码")
    verification_code: VerificationCodeText
    password: NewPasswordText
    username: UsernameText | None = Field(
        default=None, description="用户名（可选），4至40位字母、数字或下划线，以字母开头"
    )


class RegisterUnitIn(BaseModel):
    model_config = _examples(
        {
            "tax_id": "544207030000000001",
            "name": "华容区庙岭镇新庙村村民委员会",
            "handler_id_number": "420703198507150026",
            "handler_name": "刘桂芳",
            "handler_phone": "13972001234",
            "verification_code": "418027",
            "password": "Hubei-2026-refund",
        }
    )
    tax_id: TaxIdText = Field(description="纳税人识别号（统一社会信用代码）")
    name: UnitNameText = Field(description="单位名称，须与系统登记的一致")
    handler_id_number: IdNumberText = Field(description="办税员居民身份证号码，须为登记的办税员")
    handler_name: NameText = Field(description="办税员姓名")
    handler_phone: PhoneText = Field(description="办税员手机号码，验证码发送到此号码")
    verification_code: VerificationCodeText
    password: NewPasswordText


class LoginIn(BaseModel):
    model_config = _examples(
        {"kind": "person", "login": "420703195803120013", "password": "Hubei-2026-refund"},
        {"kind": "person", "login": "13812341234", "password": "Hubei-2026-refund"},
        {"kind": "unit", "login": "544207030000000001", "password": "Hubei-2026-refund"},
        {
            "kind": "officer",
            "login": "24207030001",
            "password": "Hubei-2026-refund",
            "otp": "492039",
        },
    )
    kind: AccountKind = Field(description="账户类型：自然人、单位（村组）、税务人员")
    login: LoginText = Field(
        description="自然人：身份证号码、手机号码或用户名；单位：纳税人识别号；税务人员：人员代码"
    )
    password: PasswordText = Field(description="密码")
    otp: OtpText | None = Field(
        default=None, description="税务人员：身份验证器 App 显示的6位动态口令（每个只能用一次）"
    )


# --------------------------------------------------------------------------- output types

_PERSON_EXAMPLE = {
    "kind": "person",
    "display_name": "邱世贵",
    "region_code": "420703",
    "id_number_masked": "4****************3",
    "phone_masked": "138****1234",
    "username": "qiushigui",
    "registered_at": "2026-03-10T09:30:00Z",
}
_SESSION_EXAMPLE = {"csrf_token": "H7x...", "expires_at": "2026-03-10T21:30:00Z"}


class _AccountOut(BaseModel):
    """What every account shows of itself."""

    kind: AccountKind
    display_name: str
    region_code: str


class PersonOut(_AccountOut):
    model_config = _examples(_PERSON_EXAMPLE)
    kind: Literal["person"] = "person"
    id_number_masked: str
    phone_masked: str | None
    username: str | None
    registered_at: datetime | None


class UnitOut(_AccountOut):
    model_config = _examples(
        {
            "kind": "unit",
            "display_name": "华容区庙岭镇新庙村村民委员会",
            "region_code": "420703",
            "tax_id": "544207030000000001",
            "ss_no": "42098400001",
            "registered_at": "2026-03-10T09:30:00Z",
        }
    )
    kind: Literal["unit"] = "unit"
    tax_id: str
    ss_no: str
    registered_at: datetime | None


class SessionOut(BaseModel):
    model_config = _examples(
        {
            "token": "q3Vb...（仅返回一次）",
            "kind": "person",
            "display_name": "邱世贵",
            **_SESSION_EXAMPLE,
        }
    )
    token: str = Field(
        description="会话令牌：以 Authorization: Bearer 发送；浏览器另得同值的 HttpOnly Cookie"
    )
    kind: AccountKind
    display_name: str
    csrf_token: str = Field(
        description="以 Cookie 会话提交修改时须放入 X-CSRF-Token 请求头或表单 csrf_token 字段"
    )
    expires_at: datetime = Field(description="会话的绝对过期时间（空闲30分钟也会结束）")


# Any kind of account; GET /me leaves out the fields of the other kinds (they are None).
class MeOut(_AccountOut):
    model_config = _examples({**_PERSON_EXAMPLE, **_SESSION_EXAMPLE})
    csrf_token: str
    expires_at: datetime | None
    # person
    id_number_masked: str | None = None
    phone_masked: str | None = None
    username: str | None = None
    # unit
    tax_id: str | None = None
    ss_no: str | None = None
    registered_at: datetime | None = None
    # officer
    officer_code: str | None = None
    is_reviewer: bool | None = None
    is_initiator: bool | None = None
