"""The audit log's hash chain as pure rules: the canonical content of a row, its SHA-256,
and the walk that finds the first row changed, deleted or inserted.

A row's hash covers everything it says (when, who, what, about whom, from where, details)
and the previous row's hash, so changing any row changes every hash after it. Row ids are
consecutive (the writer assigns them from the chain head), so a gap is a deletion. The row id
itself is not hashed: it is where a row is stored, the chain is what it says.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from .labelled import LabelledEnum

GENESIS_HASH = "0" * 64
#: A periodic checkpoint (anchor) is written at every row whose id is a multiple of this.
CHECKPOINT_EVERY = 1000


class AuditAction(LabelledEnum):
    """What an audit row records, with the label the 税务端 shows."""

    APPLICATION_TRANSITION = "application.transition", "申请状态变更"
    REVEAL = "reveal", "查看完整信息"
    DEPOSIT_ACCOUNT_SAVE = "deposit_account.save", "存款账户账号报告"
    REGISTER_PERSON = "register.person", "自然人注册"
    REGISTER_UNIT = "register.unit", "单位注册"
    LOGIN_SUCCESS = "login.success", "登录成功"
    LOGIN_FAILURE = "login.failure", "登录失败"
    OFFICER_CREATE = "officer.create", "新增税务人员"
    OFFICER_TOTP_RESET = "officer.totp_reset", "重置动态口令"
    DISPATCH_RETRY = "dispatch.retry", "派发重试"
    IMPORT_RUN = "import.run", "数据导入"
    HEIR_CLAIM_TRANSITION = "heir_claim.transition", "继承人代办状态变更"


# Eleven or more digits in a row (an ID number, a phone, a card number), an optional X.
_LONG_NUMBER = re.compile(r"\d{11,}[Xx]?")


def _mask_number(match: re.Match[str]) -> str:
    text = match.group(0)
    return "*" * (len(text) - 4) + text[-4:]


def scrub(value: object) -> object:
    """``value`` with every run of eleven or more digits masked but for its last four: a
    safety net, so that no ID, phone or card number reaches the log in clear even when a
    caller passes one by mistake."""
    if isinstance(value, str):
        return _LONG_NUMBER.sub(_mask_number, value)
    if isinstance(value, Mapping):
        return {str(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def canonical_details(details: Mapping[str, object] | None) -> str:
    """The details as stored and hashed: JSON with sorted keys, no spaces, scrubbed."""
    return json.dumps(
        scrub(dict(details or {})), ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )


def instant(at: datetime) -> str:
    """An instant as hashed: UTC, microseconds (what both databases keep). A naive value is
    UTC (SQLite hands them back so)."""
    if at.tzinfo is None:
        return at.isoformat(timespec="microseconds") + "+00:00"
    return at.astimezone(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True, slots=True)
class AuditRow:
    """What one stored audit row says: who, when, what, about whom, from where; `details` is
    the canonical JSON (no ID, phone or card number in it)."""

    id: int
    at: datetime
    actor_kind: str
    actor_id: str | None
    action: str
    application_id: int | None
    person_id: int | None
    unit_id: int | None
    officer_id: int | None
    address: str | None
    details: str


@dataclass(frozen=True, slots=True)
class ChainRow(AuditRow):
    """One stored audit row, as the chain sees it: with its hashes."""

    prev_hash: str
    row_hash: str


#: What a row's hash covers, in the order hashed: all it says but its id, then the previous
#: row's hash (the keyword arguments of `row_digest`).
HASHED_FIELDS = (
    "at",
    "actor_kind",
    "actor_id",
    "action",
    "application_id",
    "person_id",
    "unit_id",
    "officer_id",
    "address",
    "details",
    "prev_hash",
)


# One encoder for every row: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def row_digest(
    *,
    at: datetime,
    actor_kind: str,
    actor_id: str | None,
    action: str,
    application_id: int | None,
    person_id: int | None,
    unit_id: int | None,
    officer_id: int | None,
    address: str | None,
    details: str,
    prev_hash: str,
) -> str:
    """SHA-256 (hex) of a row's canonical content: a JSON array of its fields in a fixed order."""
    content = _ENCODER.encode(
        [
            instant(at),
            actor_kind,
            actor_id,
            action,
            application_id,
            person_id,
            unit_id,
            officer_id,
            address,
            details,
            prev_hash,
        ]
    )
    return hashlib.sha256(content.encode()).hexdigest()


def digest_of(row: ChainRow) -> str:
    return row_digest(**{name: getattr(row, name) for name in HASHED_FIELDS})


BreakKind = Literal["changed", "deleted", "inserted"]


@dataclass(frozen=True)
class ChainBreak:
    """The first place the chain is broken: the row (id) and what happened to it."""

    audit_id: int
    kind: BreakKind
    message: str


@dataclass(frozen=True)
class Walk:
    """What a walk of the chain found."""

    rows: int
    last_id: int
    last_hash: str
    checkpoints_checked: int
    broken: ChainBreak | None


def _row_break(
    row: ChainRow, *, prev_id: int, prev_hash: str, before_prev_hash: str | None
) -> ChainBreak | None:
    """Why `row` does not follow the row before it (`prev_id`, `prev_hash`), if it does not."""
    if digest_of(row) != row.row_hash:
        return ChainBreak(row.id, "changed", f"第 {row.id} 行的内容与其哈希不符：该行被修改")
    if row.prev_hash != prev_hash:
        if row.id > prev_id + 1:
            return ChainBreak(prev_id + 1, "deleted", f"{_span(prev_id + 1, row.id - 1)}被删除")
        if row.prev_hash == before_prev_hash:
            return ChainBreak(prev_id, "inserted", f"第 {prev_id} 行是插入的，不在原链中")
        changed = prev_id or row.id
        return ChainBreak(
            changed, "changed", f"第 {changed} 行被修改（哈希已重算，与下一行记录的不符）"
        )
    if row.id != prev_id + 1:
        return ChainBreak(row.id, "changed", f"第 {row.id} 行的编号被改动")
    return None


def _span(first: int, last: int) -> str:
    return f"第 {first} 行" if first >= last else f"第 {first} 至 {last} 行"


def _tail_break(
    *,
    rows: int,
    last_id: int,
    last_hash: str,
    anchored_ids: Iterable[int],
    head: tuple[int, str] | None,
) -> ChainBreak | None:
    """What the chain head and the anchors say about the end of the chain."""
    beyond = [audit_id for audit_id in anchored_ids if audit_id > last_id]
    head_id = head[0] if head is not None else 0
    if head_id > last_id or beyond:
        return ChainBreak(
            last_id + 1,
            "deleted",
            f"{_span(last_id + 1, max([*beyond, head_id]))}被删除（最新的记录不见了）",
        )
    if head is not None and head_id < last_id:
        return ChainBreak(
            head_id + 1,
            "inserted",
            f"第 {head_id + 1} 行起是绕过应用追加的（链头止于第 {head_id} 行）",
        )
    if head is not None and rows and head[1] != last_hash:
        return ChainBreak(last_id, "changed", f"第 {last_id} 行被修改（与链头记录的哈希不符）")
    return None


def walk(
    rows: Iterable[ChainRow],
    *,
    checkpoints: Mapping[int, Iterable[str]],
    head: tuple[int, str] | None,
) -> Walk:
    """Walk `rows` (ascending id) and stop at the first break.

    `checkpoints`: anchored hashes by row id; `head`: (last id, last hash) of the chain head
    row, which is how the newest rows' deletion, or rows appended behind the application's
    back, are seen. A row whose content does not match its hash was changed; a link that does
    not match over a gap in the ids means deleted rows; a row that links to the row before
    its predecessor means its predecessor was inserted; a link that does not match with no
    gap means the predecessor was changed and its hash recomputed; an anchor that does not
    match means the chain was rewritten from there on.
    """
    prev_id, prev_hash, before_prev_hash = 0, GENESIS_HASH, None
    count = anchors = 0
    for row in rows:
        broken = _row_break(
            row, prev_id=prev_id, prev_hash=prev_hash, before_prev_hash=before_prev_hash
        )
        for anchored in checkpoints.get(row.id, ()):
            anchors += 1
            if broken is None and anchored != row.row_hash:
                broken = ChainBreak(
                    row.id, "changed", f"第 {row.id} 行与锚点记录的哈希不符：链被重写"
                )
        if broken is not None:
            return Walk(count, prev_id, prev_hash, anchors, broken)
        before_prev_hash, prev_hash, prev_id = prev_hash, row.row_hash, row.id
        count += 1
    broken = _tail_break(
        rows=count, last_id=prev_id, last_hash=prev_hash, anchored_ids=checkpoints, head=head
    )
    return Walk(count, prev_id, prev_hash, anchors, broken)
