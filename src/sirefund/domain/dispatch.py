"""The life of a request to an agency (an outbox message) as data, like workflow.py is for
applications: the states, the moves between them, and their names on screen.

    pending --claim--> sending --ok--------> done     (the agency has it; results follow)
       ^                  |  --transient--> pending  (backoff; `failed` after the last attempt)
       |                  |  --permanent--> failed   (shown in the dispatch monitor)
       |                  |  --timeout----> unknown  (maybe booked: ask, don't resend)
       |                  '--lease expires-> sending again, claimed by another worker, asking first
       '--------- retry (officer) ---------- failed

A callback or a poll proves the agency has the request, so pending, unknown and failed may
also move straight to done. The database keeps the values of these enums (no migration).
"""

from __future__ import annotations

from .errors import Conflict
from .labelled import LabelledEnum


class DispatchState(LabelledEnum):
    PENDING = "pending", "待发送"
    SENDING = "sending", "发送中"
    UNKNOWN = "unknown", "结果待确认"
    DONE = "done", "已送达"
    FAILED = "failed", "发送失败"


D = DispatchState

TRANSITIONS: dict[DispatchState, frozenset[DispatchState]] = {
    D.PENDING: frozenset({D.SENDING, D.DONE}),
    D.UNKNOWN: frozenset({D.SENDING, D.DONE}),
    # sending -> sending: the holder's lease ran out and another worker claims it.
    D.SENDING: frozenset({D.SENDING, D.PENDING, D.UNKNOWN, D.DONE, D.FAILED}),
    D.FAILED: frozenset({D.PENDING, D.UNKNOWN, D.DONE}),
    # A done message only has its next status query rescheduled; it never moves again.
    D.DONE: frozenset(),
}

# Due for a worker once next_attempt_at has passed: sent (pending) or asked about (unknown).
DUE = frozenset({D.PENDING, D.UNKNOWN})
# Marked done when the agency reports on the request. One in `sending` is left to its
# worker, which records the answer itself.
ACKNOWLEDGEABLE = frozenset({D.PENDING, D.UNKNOWN, D.FAILED})


class InvalidDispatchTransition(Conflict):
    def __init__(self, current: DispatchState, target: DispatchState) -> None:
        super().__init__("dispatch.invalid_transition", f"派发状态（{current.label}）不允许此操作")
        self.current = current
        self.target = target


def advance(current: DispatchState | str, target: DispatchState) -> DispatchState:
    """Return `target` if a message may move current -> target, else raise."""
    current = DispatchState(current)
    if target not in TRANSITIONS[current]:
        raise InvalidDispatchTransition(current, target)
    return target


class AttemptOutcome(LabelledEnum):
    """How one try went, as the attempt log (dispatch_attempts.outcome) records it."""

    OK = "ok", "成功"
    RETRY = "retry", "暂时失败"
    PERMANENT = "permanent", "被拒绝"
    UNKNOWN = "unknown", "结果未知"
