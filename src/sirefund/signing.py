"""HMAC-SHA256 signatures for the messages we exchange with the agencies.

Both directions use the same scheme and the same shared secret
(`Settings.resolved_callback_secret()`):

    X-Sirefund-Timestamp: <unix seconds>
    X-Sirefund-Signature: hex(HMAC-SHA256(secret, "<timestamp>." + body))

The timestamp is inside the signed text so a captured message cannot be replayed with a
fresh timestamp, and the receiver refuses timestamps more than `tolerance` seconds away from
its own clock, so an old captured message cannot be replayed at all.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime

TIMESTAMP_HEADER = "X-Sirefund-Timestamp"
SIGNATURE_HEADER = "X-Sirefund-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The hex signature of `body` sent at `timestamp` (unix seconds, as text)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return mac.hexdigest()


def signed_headers(secret: str, body: bytes, *, at: datetime) -> dict[str, str]:
    """Headers that authenticate `body` as sent at `at`."""
    timestamp = str(int(at.timestamp()))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


@dataclass(frozen=True)
class Verdict:
    ok: bool
    # "missing" | "malformed_timestamp" | "stale" | "bad_signature" | "" when ok
    reason: str = ""


def verify(
    secret: str,
    *,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    at: datetime,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
) -> Verdict:
    """Check a signed message received at `at`. Never raises; says why it refused."""
    if not timestamp or not signature:
        return Verdict(False, "missing")
    try:
        sent = int(timestamp)
    except ValueError:
        return Verdict(False, "malformed_timestamp")
    if abs(at.timestamp() - sent) > tolerance_seconds:
        return Verdict(False, "stale")
    expected = sign(secret, timestamp, body)
    # Constant-time comparison: a timing oracle would let a forger guess byte by byte.
    if not hmac.compare_digest(expected, signature.strip().lower()):
        return Verdict(False, "bad_signature")
    return Verdict(True)
