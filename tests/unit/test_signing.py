"""HMAC-SHA256 signatures over timestamp and body (signing.py)."""

from datetime import UTC, datetime, timedelta

from sirefund.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, signed_headers, verify

SECRET = "shared-secret-0123456789abcdef"
AT = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)


def _check(headers, body, at=AT, secret=SECRET):  # type: ignore[no-untyped-def]
    return verify(
        secret,
        timestamp=headers.get(TIMESTAMP_HEADER),
        signature=headers.get(SIGNATURE_HEADER),
        body=body,
        at=at,
    )


def test_a_signature_verifies_for_the_same_body_secret_and_a_nearby_time():
    headers = signed_headers(SECRET, b'{"a":1}', at=AT)
    assert _check(headers, b'{"a":1}', at=AT + timedelta(minutes=4, seconds=59)).ok


def test_a_changed_body_or_another_secret_is_a_bad_signature():
    headers = signed_headers(SECRET, b'{"a":1}', at=AT)
    assert _check(headers, b'{"a":2}').reason == "bad_signature"
    assert (
        _check(headers, b'{"a":1}', secret="another-secret-0123456789abc").reason == "bad_signature"
    )


def test_a_replayed_timestamp_changes_the_signature():
    headers = signed_headers(SECRET, b"{}", at=AT)
    headers[TIMESTAMP_HEADER] = str(int(AT.timestamp()) + 60)
    assert _check(headers, b"{}").reason == "bad_signature"


def test_timestamps_more_than_five_minutes_away_either_way_are_stale():
    headers = signed_headers(SECRET, b"{}", at=AT)
    assert _check(headers, b"{}", at=AT + timedelta(minutes=5, seconds=1)).reason == "stale"
    assert _check(headers, b"{}", at=AT - timedelta(minutes=5, seconds=1)).reason == "stale"


def test_missing_or_malformed_headers_are_refused_without_raising():
    assert _check({}, b"{}").reason == "missing"
    assert (
        _check({TIMESTAMP_HEADER: "yesterday", SIGNATURE_HEADER: "00"}, b"{}").reason
        == "malformed_timestamp"
    )
