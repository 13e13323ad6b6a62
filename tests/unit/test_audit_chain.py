"""The audit hash chain's pure rules (domain/audit.py): the canonical form, the digest, and the
walk that names the first row changed, deleted or inserted — no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from sirefund.domain.audit import (
    GENESIS_HASH,
    ChainRow,
    canonical_details,
    digest_of,
    instant,
    scrub,
    walk,
)

START = datetime(2026, 3, 10, 1, 30, tzinfo=UTC)


def chain(n: int) -> list[ChainRow]:
    rows: list[ChainRow] = []
    prev = GENESIS_HASH
    for i in range(1, n + 1):
        row = ChainRow(
            i,
            START + timedelta(seconds=i),
            "officer",
            "REV01",
            "reveal",
            i,
            7,
            None,
            None,
            "10.0.0.1",
            canonical_details({"i": i}),
            prev,
            "",
        )
        prev = digest_of(row)
        rows.append(replace(row, row_hash=prev))
    return rows


def head(rows: list[ChainRow]) -> tuple[int, str]:
    return rows[-1].id, rows[-1].row_hash


def test_an_intact_chain_walks_to_its_end():
    rows = chain(10)
    result = walk(rows, checkpoints={5: [rows[4].row_hash]}, head=head(rows))
    assert result.broken is None
    assert (result.rows, result.last_id, result.checkpoints_checked) == (10, 10, 1)


def test_an_empty_log_is_intact():
    assert walk([], checkpoints={}, head=None).broken is None


def test_a_changed_row_is_named():
    rows = chain(10)
    rows[3] = replace(rows[3], action="login.success")
    broken = walk(rows, checkpoints={}, head=head(rows)).broken
    assert broken is not None and (broken.audit_id, broken.kind) == (4, "changed")


def test_a_deleted_row_is_named_by_the_gap_it_leaves():
    rows = chain(10)
    del rows[6]
    broken = walk(rows, checkpoints={}, head=(10, chain(10)[-1].row_hash)).broken
    assert broken is not None and (broken.audit_id, broken.kind) == (7, "deleted")


def test_an_inserted_row_with_a_correct_hash_is_named():
    rows = chain(10)
    forged = replace(rows[4], action="login.failure", prev_hash=rows[4].row_hash)
    forged = replace(forged, row_hash=digest_of(forged))
    renumbered = [*rows[:5], replace(forged, id=6), *(replace(r, id=r.id + 1) for r in rows[5:])]
    broken = walk(renumbered, checkpoints={}, head=(11, rows[-1].row_hash)).broken
    assert broken is not None and (broken.audit_id, broken.kind) == (6, "inserted")


def test_the_newest_rows_deleted_are_seen_by_the_head_and_by_an_anchor():
    rows = chain(10)
    by_head = walk(rows[:8], checkpoints={}, head=head(rows)).broken
    by_anchor = walk(rows[:8], checkpoints={10: [rows[-1].row_hash]}, head=None).broken
    for broken in (by_head, by_anchor):
        assert broken is not None and (broken.audit_id, broken.kind) == (9, "deleted")


def test_the_instant_hashed_is_utc_whatever_the_offset_or_naivety():
    china = START.astimezone(timezone(timedelta(hours=8)))
    assert (
        instant(china) == instant(START.replace(tzinfo=None)) == "2026-03-10T01:30:00.000000+00:00"
    )


def test_details_are_canonical_and_long_numbers_are_masked():
    assert canonical_details({"b": 1, "a": "x"}) == '{"a":"x","b":1}'
    assert scrub({"id": "42070319580312023X", "phone": "13812341234", "short": "1234567"}) == {
        "id": "**************023X",
        "phone": "*******1234",
        "short": "1234567",
    }
