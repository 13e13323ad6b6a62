"""argon2id password hashing (argon2-cffi). Hashing is slow on purpose: call it from a
thread pool in async code (the web layer uses run_in_threadpool)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..domain.errors import Invalid

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

# The most common passwords, refused whatever their length (lower-cased comparison).
COMMON_PASSWORDS = frozenset(
    [
        "12345678",
        "123456789",
        "1234567890",
        "password",
        "password1",
        "password123",
        "qwertyui",
        "qwerty123",
        "11111111",
        "88888888",
        "66666666",
        "00000000",
        "12341234",
        "abc12345",
        "abcd1234",
        "a1234567",
        "1qaz2wsx",
        "iloveyou",
        "woaini520",
        "woaini1314",
        "5201314520",
        "sunshine",
        "princess",
        "football",
        "baseball",
        "welcome1",
        "admin123",
        "administrator",
        "passw0rd",
        "p@ssw0rd",
        "123qweasd",
        "qweasdzxc",
        "987654321",
        "147258369",
        "aa123456",
        "asdfghjk",
        "zxcvbnm1",
        "11223344",
        "12121212",
        "123123123",
        "112233445566",
        "qwertyuiop",
    ]
)

MIN_LENGTH = 8
MAX_LENGTH = 128
#: A password of one or two distinct characters ("aaaaaaaa", "abababab") is as weak as a
#: common one, whatever its length.
MIN_DISTINCT_CHARS = 3


def check_strength(
    password: str, *, field: str = "password", avoid: Iterable[str | None] = ()
) -> None:
    """Refuse short, over-long and common passwords.

    `avoid` lists the account's own identifiers (ID number, phone, username): a password equal
    to one of them is the first thing anyone who knows the person would try.
    """
    if len(password) < MIN_LENGTH:
        raise Invalid("password.too_short", "密码至少8位", field)
    if len(password) > MAX_LENGTH:
        raise Invalid("password.too_long", "密码不能超过128位", field)
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < MIN_DISTINCT_CHARS:
        raise Invalid("password.too_common", "密码过于简单，请换一个不常见的密码", field)
    if any(value and lowered == value.lower() for value in avoid):
        raise Invalid("password.same_as_account", "密码不能与证件号码、手机号码或用户名相同", field)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check, so timing does not reveal unknown accounts.
        _burn(password)
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other parameters than today's (checked on login)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True


_DUMMY_HASH = _hasher.hash("not-a-real-password")


def _burn(password: str) -> None:
    with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
        _hasher.verify(_DUMMY_HASH, password)
