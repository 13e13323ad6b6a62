"""Officers' second factor: time-based one-time passwords (TOTP, RFC 6238) through pyotp.

Six digits, a 30-second step, SHA-1: what every authenticator app (Google Authenticator,
Microsoft Authenticator, 阿里云 App …) reads from the provisioning URI. A code of the step
before or after the current one is also accepted, because phones' clocks drift; `login`
stores the step of the code it accepted (officers.totp_last_step), and a code of that step
or an earlier one is refused, so a code seen over a shoulder or in a log cannot be used
again.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from datetime import datetime

import pyotp

from ..domain.errors import Invalid

ISSUER = "sirefund 税务端"
STEP_SECONDS = 30
#: Steps either side of the current one still accepted (clock drift of the officer's phone).
DRIFT_STEPS = 1
_CODE = re.compile(r"[0-9]{6}")
#: 160 bits, RFC 4226's recommended secret length: 32 base32 characters.
_SECRET_CHARS = 32
#: Shortest secret accepted from an operator (80 bits, RFC 4226's minimum).
_MIN_SECRET_BYTES = 10


def new_secret() -> str:
    return pyotp.random_base32(length=_SECRET_CHARS)


def check_secret(secret: str) -> str:
    """A base32 secret given by an operator (`officer add --totp-secret`), normalised to upper
    case without spaces or padding; `officer.totp_secret` when it is no base32 or too short."""
    text = "".join(secret.split()).upper().rstrip("=")
    try:
        raw = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) < _MIN_SECRET_BYTES:
        raise Invalid(
            "officer.totp_secret",
            "动态口令密钥应为至少16位的 Base32 字符串（A-Z、2-7）",
            "totp_secret",
        )
    return text


def provisioning_uri(secret: str, *, officer_code: str) -> str:
    """The otpauth:// URI an authenticator app scans (as a QR code) or takes typed in."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(
        name=officer_code, issuer_name=ISSUER
    )


def code_at(secret: str, at: datetime) -> str:
    """The code an authenticator shows at `at` (the demo prints it)."""
    return pyotp.TOTP(secret, interval=STEP_SECONDS).at(at)


def accepted_step(secret: str, code: str | None, *, at: datetime, after: int | None) -> int | None:
    """The time step whose code `code` is, within the drift either side of `at` and later than
    `after` (the step of the last code accepted); None when it is no such code."""
    if code is None or not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = totp.timecode(at)
    # Every candidate is compared (in constant time), so timing says nothing about which matched.
    matched = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and (after is None or step > after):
            matched = step
    return matched
