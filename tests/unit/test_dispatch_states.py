"""The life of a request to an agency is data (domain/dispatch.py): every move the outbox
makes is in the table, and nothing leaves `done`."""

from __future__ import annotations

import pytest

from sirefund.domain.agencies import Agency, Operation
from sirefund.domain.dispatch import (
    ACKNOWLEDGEABLE,
    DUE,
    TRANSITIONS,
    AttemptOutcome,
    DispatchState,
    InvalidDispatchTransition,
    advance,
)

D = DispatchState


def test_every_state_has_a_row_in_the_table_and_a_label():
    assert set(TRANSITIONS) == set(DispatchState)
    assert [s.label for s in DispatchState] == [
        "待发送",
        "发送中",
        "结果待确认",
        "已送达",
        "发送失败",
    ]
    assert [o.label for o in AttemptOutcome] == ["成功", "暂时失败", "被拒绝", "结果未知"]


def test_the_agencies_and_what_we_ask_them_have_their_chinese_names():
    assert [a.label for a in Agency] == ["人社", "医保", "银行"]
    assert [o.label for o in Operation] == ["退费申请", "核验申请", "退付指令"]


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (D.PENDING, D.SENDING),  # claimed
        (D.UNKNOWN, D.SENDING),  # claimed to ask
        (D.SENDING, D.SENDING),  # lease expired, another worker claims it
        (D.SENDING, D.DONE),  # the agency has it
        (D.SENDING, D.PENDING),  # transient error, or handed back by a stopping worker
        (D.SENDING, D.UNKNOWN),  # timeout
        (D.SENDING, D.FAILED),  # refused, or out of attempts
        (D.FAILED, D.PENDING),  # an officer's retry
        (D.FAILED, D.UNKNOWN),  # an officer's retry after an unknown outcome
    ],
)
def test_the_moves_the_outbox_makes_are_allowed(current, target):
    assert advance(current, target) is target


def test_a_report_from_the_agency_may_finish_any_message_not_being_sent():
    assert all(advance(state, D.DONE) is D.DONE for state in ACKNOWLEDGEABLE)
    assert D.SENDING not in ACKNOWLEDGEABLE
    assert all(D.SENDING in TRANSITIONS[state] for state in DUE)


@pytest.mark.parametrize(
    ("current", "target"),
    [(D.DONE, D.PENDING), (D.DONE, D.SENDING), (D.FAILED, D.SENDING), (D.PENDING, D.FAILED)],
)
def test_other_moves_are_refused(current, target):
    with pytest.raises(InvalidDispatchTransition) as err:
        advance(current, target)
    assert err.value.code == "dispatch.invalid_transition"
