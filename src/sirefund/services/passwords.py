"""Password strength (zxcvbn plus the project's common-password list) and argon2id hashing
(argon2-cffi). Hashing is slow on purpose: call it from a thread pool in async code (the web
layer uses run_in_threadpool)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from zxcvbn import zxcvbn

from ..domain.errors import Invalid

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters

MIN_LENGTH = 8
MAX_LENGTH = 128
#: zxcvbn's score (0-4) a password must reach: 3 is "safely unguessable: moderate protection
#: from offline slow-hash scenario" (10^10 guesses), what argon2 hashes face if stolen.
MIN_SCORE = 3
#: zxcvbn refuses longer input (its matching is quadratic); the first 72 characters of a
#: strong password are strong already, and a weak beginning is reason enough to refuse.
_SCORED_CHARS = 72

_WEAK = "password.weak"


def _load_common_passwords() -> tuple[str, ...]:
    """The project's own list (data/common_passwords.txt): what Chinese users choose most
    and zxcvbn's English dictionaries miss. Read once, from the installed package."""
    text = resources.files("sirefund").joinpath("data/common_passwords.txt").read_text("utf-8")
    lines = (line.strip().lower() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


COMMON_PASSWORDS = _load_common_passwords()
_COMMON_SET = frozenset(COMMON_PASSWORDS)


def check_strength(
    password: str, *, field: str = "password", avoid: Iterable[str | None] = ()
) -> None:
    """Refuse a short, over-long or guessable password (``password.weak``).

    `avoid` lists what anyone who knows the account holder would try first (ID number, its
    birth date, phone, username, officer code, tax ID): a password containing one of them is
    refused, and they count as dictionary words in zxcvbn's estimate. Then the common list
    (exact match) and zxcvbn's score (>= MIN_SCORE), whose dictionaries include ours.
    """
    if len(password) < MIN_LENGTH:
        raise Invalid("password.too_short", "密码至少8位", field)
    if len(password) > MAX_LENGTH:
        raise Invalid("password.too_long", "密码不能超过128位", field)
    lowered = password.lower()
    personal = [value.strip().lower() for value in avoid if value and value.strip()]
    if any(value in lowered for value in personal):
        raise Invalid(_WEAK, "密码不能包含证件号码、出生日期、手机号码或账号，请换一个", field)
    if lowered in _COMMON_SET:
        raise Invalid(_WEAK, "这是常见密码，很容易被猜到，请换一个", field)
    estimate = zxcvbn(
        password[:_SCORED_CHARS],
        user_inputs=[*personal, *COMMON_PASSWORDS],
        max_length=_SCORED_CHARS,
    )
    if estimate["score"] < MIN_SCORE:
        raise Invalid(
            _WEAK,
            "密码太容易被猜到，请用几个不相关的词语加上数字和符号，组成更长的密码",
            field,
        )


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
