"""One set of labels everywhere (issue 10, part 9): an application's history lines name its
states with the very labels the application itself shows — the medical ones (医保核验中,
核验不通过) for a medical case, never 人社 — on the applicant's API, the officer's API, the
officer's 处理记录 page and the applicant's PC (电子税务局) and phone (楚税通) progress pages.

Every transition of domain/workflow.TRANSITIONS is walked for each kind (pension, unit,
medical): one path per transition, from submission, each step checked on every surface.
"""

from __future__ import annotations

import html as html_lib
import re
from collections import deque
from datetime import date, timedelta

import pytest

from sirefund.domain import workflow
from sirefund.domain.workflow import TRANSITIONS, ApplicationKind
from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.services import accounts, applications
from sirefund.services.applications import Actor
from tests import factories as f
from tests.web.officer_helpers import medical_app, pension_app, unit_app

API = "/api/v1"
OFFICER = "OF0901"


def _paths() -> list[list[S]]:
    """One path from submission through each transition of the machine, shortest first,
    without the paths that are the beginning of another (they are walked as part of it)."""
    came_from: dict[S, list[S]] = {S.PENDING_REVIEW: [S.PENDING_REVIEW]}
    todo = deque([S.PENDING_REVIEW])
    while todo:
        here = todo.popleft()
        for nxt in sorted(TRANSITIONS[here]):
            if nxt not in came_from:
                came_from[nxt] = [*came_from[here], nxt]
                todo.append(nxt)
    paths = [[*came_from[a], b] for a in sorted(TRANSITIONS) for b in sorted(TRANSITIONS[a])]
    return [p for p in paths if not any(q != p and q[: len(p)] == p for q in paths)]


PATHS = _paths()


def test_the_walk_covers_every_transition_of_the_machine():
    walked = {(a, b) for p in PATHS for a, b in zip(p, p[1:], strict=False)}
    assert walked == {(a, b) for a, nxt in TRANSITIONS.items() for b in nxt}


def _actor(kind: ApplicationKind, app, current: S, target: S) -> tuple[Actor, dict, str]:
    """Who makes ``current -> target`` and what they record, as the services do."""
    owner = Actor.unit(app.unit_id) if kind == ApplicationKind.UNIT_PENSION else None
    owner = owner or Actor.person(app.person_id)
    first = "medical_security" if kind == ApplicationKind.MEDICAL else "hrss"
    refused = (
        "核验不通过：无重复缴费记录" if kind == ApplicationKind.MEDICAL else "人社退回：已享受待遇"
    )
    paid = {"bank_result": "退付成功", "refund_date": date(2026, 3, 12)}
    moves = {
        S.CANCELLED: (owner, {}, "申请人撤销"),
        S.PENDING_REVIEW: (owner, {}, "补正后重新提交"),
        S.REJECTED: (Actor.officer(OFFICER), {"review_opinion": "信息不符"}, "审核不通过"),
        S.RETURNED: (Actor.officer(OFFICER), {"review_opinion": "信息不符"}, "退回补正"),
        S.APPROVED: (Actor.officer(OFFICER), {}, "审核通过"),
        S.LAPSED: (Actor.system(), {}, "逾期未补正"),
        S.AGENCY_REJECTED: (Actor.agency(first), {"agency_message": refused}, refused),
        S.AT_AGENCY: (Actor.agency(first), {}, "已受理"),
        S.REFUNDED: (Actor.agency("bank"), paid, "银行退付成功"),
        S.REFUND_FAILED: (
            Actor.agency("bank"),
            {"bank_result": "退付失败：账户已销户"},
            "退付失败",
        ),
    }
    if current == S.REFUND_FAILED:
        return owner, {}, "重新提交账户"
    return moves[target]


def _text(page: str) -> str:
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def _status_tags(page: str, status: S) -> list[str]:
    """The labels of the page's status tags for ``status`` (macros.status_tag)."""
    return re.findall(rf'<span class="status status-{status.value}">([^<]*)</span>', page)


def _history_rows(page: str) -> list[tuple[str, str]]:
    """(原状态, 新状态) of each line of the officer's 处理记录 table."""
    table = page.split('class="grid oc-history"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r"<tr>\s*<td>.*?</td>\s*<td>.*?</td>\s*<td>(.*?)</td>\s*<td>(.*?)</td>", table, flags=re.S
    )
    return [(html_lib.unescape(a).strip(), html_lib.unescape(b).strip()) for a, b in rows]


RAW = re.compile(r"hrss|medical_security|bank|HTTP")


def _no_raw_codes(payload) -> None:
    """No agency code or transport text in a label a person reads."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if isinstance(value, str) and (
                key.endswith("_label") or key in ("actor", "reason_label")
            ):
                assert not RAW.search(value), f"{key}={value!r}"
            _no_raw_codes(value)
    elif isinstance(payload, list):
        for item in payload:
            _no_raw_codes(item)


BUILD = {
    ApplicationKind.PENSION: pension_app,
    ApplicationKind.UNIT_PENSION: unit_app,
    ApplicationKind.MEDICAL: medical_app,
}
PAGES = {
    ApplicationKind.PENSION: (
        "/etax/pension/progress?year=2025",
        "/m/pension?view=progress&year=2025",
    ),
    ApplicationKind.MEDICAL: (
        "/etax/medical/progress?insurance_year=2026",
        "/m/medical/query?view=progress&insurance_year=2026",
    ),
    ApplicationKind.UNIT_PENSION: ("/etax/unit/progress?year=2025",),
}


@pytest.fixture
def cookie_of(session_factory, clock, settings):
    def _cookie(kind: str, account_id: int) -> dict[str, str]:
        with session_factory() as s, s.begin():
            token, _ = accounts.create_session(
                s, kind=kind, account_id=account_id, at=clock.now(), settings=settings
            )
        return {"sirefund_session": token}

    return _cookie


def _applicant_row(client, kind, app, headers) -> dict:
    if kind == ApplicationKind.PENSION:
        r = client.get(f"{API}/pension/refunds/{app.id}", headers=headers)
    elif kind == ApplicationKind.MEDICAL:
        r = client.get(f"{API}/medical/refunds/{app.id}", headers=headers)
    else:
        r = client.get(f"{API}/unit/refunds", params={"year": 2025}, headers=headers)
        assert r.status_code == 200, r.text
        return next(row for row in r.json()["items"] if row["id"] == app.id)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("kind", list(ApplicationKind))
@pytest.mark.parametrize("path", PATHS, ids=lambda p: "-".join(s.value for s in p))
def test_every_history_line_reads_like_the_application_on_every_surface(
    client, seed, login, cookie_of, session_factory, clock, kind, path
):
    officer = seed(lambda s: f.make_officer(s, code=OFFICER, region="420000").id)
    app = seed(BUILD[kind])
    owner = (
        ("unit", app.unit_id) if kind == ApplicationKind.UNIT_PENSION else ("person", app.person_id)
    )
    mine, theirs = login(*owner), login("officer", officer)
    pages, officer_cookie = cookie_of(*owner), cookie_of("officer", officer)
    kind_labels = {workflow.labels(s, kind).refund_status for s in S}
    at = clock.now()
    for current, target in zip(path, path[1:], strict=False):
        at += timedelta(minutes=1)
        with session_factory() as s, s.begin():
            actor, values, reason = _actor(kind, app, current, target)
            applications.transition(
                s,
                application=applications.get(s, app.id),
                target=target,
                actor=actor,
                at=at,
                reason=reason,
                values=values,
            )
        label = workflow.labels(target, kind).refund_status
        step = f"{kind}: {current} -> {target}"

        # The applicant's API: the application's own label, and (pension, medical) its history.
        row = _applicant_row(client, kind, app, mine)
        assert row["refund_status_label"] == label, step
        _no_raw_codes(row)
        if "history" in row:
            assert row["history"][-1]["to_label"] == label, step
            assert {h["to_label"] for h in row["history"]} <= kind_labels, step

        # The officer's API and page: the application and every line of its history.
        detail = client.get(f"{API}/officer/applications/{app.id}", headers=theirs)
        assert detail.status_code == 200, detail.text
        body = detail.json()
        assert body["application"]["refund_status_label"] == label, step
        assert body["history"][-1]["to_label"] == label, step
        assert [(h["from_label"], h["to_label"]) for h in body["history"]] == [
            (
                workflow.labels(h["from_status"], kind).refund_status if h["from_status"] else None,
                workflow.labels(h["to_status"], kind).refund_status,
            )
            for h in body["history"]
        ], step
        _no_raw_codes(body)
        client.cookies.clear()
        client.cookies.update(officer_cookie)
        page = client.get(f"/officer/applications/{app.id}").text
        assert _status_tags(page, target) == [label], step
        assert _history_rows(page)[-1] == (workflow.labels(current, kind).refund_status, label), (
            step
        )

        # The applicant's pages: the same label (the unit's progress shows 人社处理状态).
        client.cookies.clear()
        client.cookies.update(pages)
        for url in PAGES[kind]:
            shown = client.get(url)
            assert shown.status_code == 200, (url, shown.text[:300])
            if kind == ApplicationKind.UNIT_PENSION and target != S.REFUND_FAILED:
                assert row["hrss_status_label"] in _text(shown.text), (url, step)
            else:
                assert _status_tags(shown.text, target)[:1] == [label], (url, step)
            assert "HTTP" not in _text(shown.text) and "hrss" not in _text(shown.text)
        client.cookies.clear()


@pytest.mark.parametrize(
    ("kind", "status", "label"),
    [
        (ApplicationKind.MEDICAL, S.APPROVED, "医保核验中"),
        (ApplicationKind.MEDICAL, S.AT_AGENCY, "医保核验中"),
        (ApplicationKind.MEDICAL, S.AGENCY_REJECTED, "核验不通过"),
        (ApplicationKind.PENSION, S.AGENCY_REJECTED, "人社退回"),
        (ApplicationKind.UNIT_PENSION, S.AT_AGENCY, "人社退费中"),
        (ApplicationKind.PENSION, S.CANCELLED, "已撤销"),
    ],
)
def test_the_labels_follow_the_table_of_domain_md(kind, status, label):
    assert workflow.labels(status, kind).refund_status == label


def test_a_cancelled_application_leaves_its_payment_not_applied_for():
    assert workflow.labels(S.CANCELLED).refund_status == "已撤销"
    assert workflow.payment_labels(S.CANCELLED).refund_status == "未申请"
    assert workflow.payment_labels(None).refund_status == "未申请"
    assert (
        workflow.payment_labels(S.AGENCY_REJECTED, ApplicationKind.MEDICAL).refund_status
        == "核验不通过"
    )


def test_a_forbidden_move_of_a_medical_case_names_its_state_in_medical_words():
    with pytest.raises(workflow.InvalidTransition) as raised:
        workflow.advance(S.AT_AGENCY, S.CANCELLED, ApplicationKind.MEDICAL)
    assert "医保核验中" in raised.value.message and "人社" not in raised.value.message
