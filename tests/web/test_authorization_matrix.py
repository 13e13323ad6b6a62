"""Object-level authorization, route by route: every API route that takes an id, called by the
owner, by someone of the same kind who does not own it, by the wrong kinds of account and
anonymously, answers exactly the status of the matrix below (api.md "Conventions"):

- another person's / unit's object, or an officer's application outside the region: 404, with
  the same body as an id that does not exist (never reveal that it exists);
- the wrong kind of account (a unit on person routes, a person on unit routes, an officer on
  applicant routes, an applicant on officer routes): 403;
- anonymous: 401; agency callbacks accept only a valid signature (401 otherwise).

The routes are enumerated from the app itself: a new route with a path parameter that is not
in MATRIX fails `test_every_api_route_with_a_path_parameter_is_in_the_matrix`.
Runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from sirefund import outbox
from sirefund.domain.agencies import OPERATIONS, Agency
from sirefund.domain.workflow import ApplicationStatus as S
from sirefund.models import (
    Application,
    DepositAccountReport,
    HeirClaim,
    Notification,
    Officer,
    OutboxMessage,
    Unit,
)
from sirefund.services import applications, dispatches
from sirefund.services.applications import Actor
from sirefund.signing import signed_headers
from tests import factories as f

API = "/api/v1"
ACCOUNT = "6228480402564890018"
REGION = "420703"  # 鄂州市华容区: where every applicant of the world lives
OFFICER_REGION = "420700"  # 鄂州市: the officer whose scope covers REGION
ELSEWHERE = "420100"  # 武汉市: an officer whose scope does not

# Ids that exist nowhere: what "not found" looks like, to compare "not yours" against.
MISSING_INT = 987_654_321
MISSING_STR = "UP99999999"


# --------------------------------------------------------------------------- the matrix


@dataclass(frozen=True)
class Row:
    """One route: whose it is, which object of the world its id names, what the owner gets.

    `audience` fixes who the owner is and what everyone else gets (AUDIENCES). `again` is
    what the owner gets on repeating the call (409 once a cancel or decision is done).
    """

    audience: str  # person | unit | officer | agency
    target: str  # key of World.ids
    owner: int
    again: int | None = None
    body: dict[str, Any] | None = None
    missing: Any = MISSING_INT
    overrides: dict[str, int] = field(default_factory=dict)


_REPORT_DRAFT = {
    "handler_name": "邱世贵",
    "report_date": "2026-03-10",
    "accounts": [],
    "submit": False,
}

_CORRECTED = {
    "bank_account_type": "bank_card",
    "bank_account_no": "6228480402564890026",
    "bank_category": "103",
}
_CORRECTED_PERSON = {**_CORRECTED, "bank_account_name": "邱世贵"}
_CORRECTED_UNIT = {**_CORRECTED, "bank_account_name": "华容区庙岭镇新庙村村民委员会"}

_CONTACT = {"contact_name": "王会计", "contact_phone": "13700001111"}

MATRIX: dict[tuple[str, str], Row] = {
    # Pension, person
    ("GET", "/pension/refunds/{application_id}"): Row("person", "pension_app", 200, again=200),
    ("POST", "/pension/refunds/{application_id}/cancel"): Row(
        "person", "pension_app", 200, again=409
    ),
    # Medical, person
    ("GET", "/medical/refunds/{application_id}"): Row("person", "medical_app", 200, again=200),
    ("POST", "/medical/refunds/{application_id}/cancel"): Row(
        "person", "medical_app", 200, again=409
    ),
    ("GET", "/deposit-account-reports/{report_id}"): Row("person", "draft_report", 200, again=200),
    ("PUT", "/deposit-account-reports/{report_id}"): Row(
        "person", "draft_report", 200, again=200, body=_REPORT_DRAFT
    ),
    # Pension, unit
    ("GET", "/unit/payments/{unit_payment_id}/persons"): Row(
        "unit", "unit_payment", 200, again=200, missing=MISSING_STR
    ),
    ("GET", "/unit/refunds/{application_id}/persons"): Row("unit", "unit_app", 200, again=200),
    ("POST", "/unit/refunds/{application_id}/cancel"): Row("unit", "unit_app", 200, again=409),
    # 重新提交账户 after 退付失败: the owner once (200), then the case waits at the bank (409).
    ("POST", "/pension/refunds/{application_id}/reissue"): Row(
        "person", "failed_pension_app", 200, again=409, body=_CORRECTED_PERSON
    ),
    ("POST", "/unit/refunds/{application_id}/reissue"): Row(
        "unit", "failed_unit_app", 200, again=409, body=_CORRECTED_UNIT
    ),
    ("POST", "/medical/refunds/{application_id}/reissue"): Row(
        "person", "failed_medical_app", 200, again=409, body={"deposit_account_id": "account"}
    ),
    # 补正 of a returned case: the owner once (200), then it is pending again (409).
    ("PUT", "/pension/refunds/{application_id}"): Row(
        "person", "returned_pension_app", 200, again=409, body=_CONTACT
    ),
    ("PUT", "/unit/refunds/{application_id}"): Row(
        "unit", "returned_unit_app", 200, again=409, body=_CONTACT
    ),
    ("PUT", "/medical/refunds/{application_id}"): Row(
        "person", "returned_medical_app", 200, again=409, body={"handler_phone": "13900001111"}
    ),
    # Officer
    ("POST", "/officer/applications/{application_id}/return"): Row(
        "officer",
        "pension_app",
        200,
        again=409,
        body={"opinion": "请补正联系电话", "fields": ["contact"]},
    ),
    ("GET", "/officer/applications/{application_id}"): Row(
        "officer", "pension_app", 200, again=200
    ),
    ("POST", "/officer/applications/{application_id}/reveal"): Row(
        "officer",
        "pension_app",
        200,
        again=200,
        body={"field": "id_number", "reason": "缴费人来电核对身份"},
    ),
    ("POST", "/officer/applications/{application_id}/approve"): Row(
        "officer", "pension_app", 200, again=409, body={"opinion": "同意退费"}
    ),
    ("POST", "/officer/applications/{application_id}/reject"): Row(
        "officer", "pension_app", 200, again=409, body={"opinion": "缴费记录已到账"}
    ),
    ("POST", "/officer/dispatches/{message_id}/retry"): Row(
        "officer", "failed_dispatch", 202, again=409
    ),
    # Printed documents: the applicant's, and any officer's whose region covers the payer; for
    # everyone else (another unit too) "not yours" is 404. The certificate waits for the refund.
    ("GET", "/applications/{application_id}/receipt.pdf"): Row(
        "person",
        "pension_app",
        200,
        again=200,
        overrides={"unit": 404, "officer": 200, "officer_elsewhere": 404},
    ),
    ("GET", "/applications/{application_id}/certificate.pdf"): Row(
        "person",
        "pension_app",
        409,
        again=409,
        overrides={"unit": 404, "officer": 409, "officer_elsewhere": 404},
    ),
    # 消息中心: a person's or unit's own notices; anyone else's is "not there" (404), even
    # for a unit or an officer (who have notices of their own, or none).
    ("POST", "/notifications/{notification_id}/read"): Row(
        "person",
        "notification",
        204,
        again=204,
        overrides={"unit": 404, "officer": 404, "officer_elsewhere": 404},
    ),
    # 继承人代办: a person's own claim; anyone else's is "not there".
    ("GET", "/heir-claims/{claim_id}"): Row("person", "heir_claim", 200, again=200),
    # Agencies: the signature is the credential; no login of ours is one.
    ("POST", "/callbacks/{agency}"): Row("agency", "agency", 200, again=200, missing="nowhere"),
}

# What each actor gets on a route of each audience, unless the row says otherwise. The owner
# is: the person who applied / reported, the unit that saved the batch, the officer whose
# region covers the application, the agency that was sent the request.
AUDIENCES: dict[str, dict[str, int]] = {
    "person": {
        "anonymous": 401,
        "person": 404,
        "unit": 403,
        "officer": 403,
        "officer_elsewhere": 403,
    },
    "unit": {
        "anonymous": 401,
        "person": 403,
        "unit": 404,
        "officer": 403,
        "officer_elsewhere": 403,
    },
    # The officer whose region covers the application is the owner here.
    "officer": {"anonymous": 401, "person": 403, "unit": 403, "officer_elsewhere": 404},
    "agency": {
        "anonymous": 401,
        "person": 401,
        "unit": 401,
        "officer": 401,
        "officer_elsewhere": 401,
    },
}


def actors(row: Row) -> list[str]:
    """Everyone who calls the route, the owner last."""
    return [*AUDIENCES[row.audience], "owner"]


def expected(row: Row, actor: str) -> int:
    if actor == "owner":
        return row.owner
    return row.overrides.get(actor, AUDIENCES[row.audience][actor])


# --------------------------------------------------------------------------- the world


@dataclass
class World:
    ids: dict[str, Any]
    headers: dict[str, dict[str, str]]  # actor -> request headers (owner is per audience)
    owners: dict[str, str]  # audience -> actor key in `accounts`


def _application(s, **values) -> Application:
    app = Application(
        bank_account_type="bank_card",
        bank_account_no=ACCOUNT,
        bank_category="103",
        contact_name="邱世贵",
        contact_phone="13812341234",
        **values,
    )
    return applications.create(s, application=app, actor=Actor.person(values["person_id"]), at=f.AT)


def _failed_copy(s, app: Application, officer: Officer, *, returned: bool = False) -> int:
    """Another application like ``app`` (same payer, a payment of its own), walked through
    approval and the agency to a failed payout (or, ``returned``, returned for correction
    of its contact)."""
    if app.kind == "pension":
        pay = f.make_pension_payment(s, app.person, year=2022)
        refs = {"pension_payment_id": pay.payment_id}
    elif app.kind == "medical":
        reg = f.make_registration(s, app.person)
        # The same amounts as the original's payment: the copy asks what it asks.
        mp = f.make_medical_payment(s, reg, medical_fen=30000, ltc_fen=5000)
        refs = {"medical_payment_id": mp.payment_id, "registration_id": reg.registration_id}
    else:
        up, (line,) = f.make_unit_payment(s, s.get(Unit, app.unit_id), [app.person], year=2022)
        refs = {"unit_line_id": line.line_id}
    copy = Application(
        **{
            c: getattr(app, c)
            for c in (
                "kind",
                "channel",
                "person_id",
                "unit_id",
                "region_code",
                "batch_id",
                "amount_fen",
                "payment_year",
                "period_start",
                "period_end",
                "bank_account_type",
                "bank_account_no",
                "bank_account_name",
                "bank_category",
                "contact_name",
                "contact_phone",
                "payment_month",
                "deposit_account_id",
                "handler_phone",
                "reason_code",
            )
        },
        **refs,
    )
    f.submit(s, copy)
    if returned:
        f.return_for_correction(
            s, copy.id, officer=officer, fields=("contact",), opinion="联系电话无法接通"
        )
    else:
        f.fail_payout(s, copy.id)
    return copy.id


@pytest.fixture
def world(session_factory, login, clock) -> World:
    """Two persons, two units and two officers; every object belongs to the first of each:
    邱世贵's pension and medical applications and draft deposit account report, the village's
    unit payment and batch (whose one line is 邱世贵's), a failed dispatch of the pension
    application, and the HRSS request that an agency may answer."""
    with session_factory() as s, s.begin():
        owner = f.make_person(s, name="邱世贵", region=REGION)
        other = f.make_person(s, name="王小明", region=REGION)
        unit = f.make_unit(s, region=REGION)
        other_unit = f.make_unit(s, name="华容区庙岭镇东港村村民委员会", region=REGION)
        officer = f.make_officer(s, region=OFFICER_REGION)
        elsewhere = f.make_officer(s, region=ELSEWHERE)
        # Objects of the others too, so that "not yours" is never "you have nothing".
        f.make_pension_payment(s, other)
        f.make_unit_payment(s, other_unit, [other])

        pay = f.make_pension_payment(s, owner)
        pension_app = _application(
            s,
            kind="pension",
            channel="web",
            person_id=owner.id,
            region_code=REGION,
            pension_payment_id=pay.payment_id,
            amount_fen=pay.amount_fen,
            payment_year=pay.payment_year,
            period_start=pay.period_start,
            period_end=pay.period_end,
        )

        reg = f.make_registration(s, owner)
        mp = f.make_medical_payment(s, reg, medical_fen=30000, ltc_fen=5000)
        acct = f.make_submitted_account(s, owner)
        medical_app = _application(
            s,
            kind="medical",
            channel="web",
            person_id=owner.id,
            region_code=REGION,
            medical_payment_id=mp.payment_id,
            registration_id=reg.registration_id,
            deposit_account_id=acct.id,
            amount_fen=mp.refund_amount_fen,
            payment_year=mp.insurance_year,
            period_start=mp.period_start,
            period_end=mp.period_end,
            handler_phone="13912345678",
            reason_code="duplicate_payment",
        )

        draft = DepositAccountReport(
            person_id=owner.id, handler_name="邱世贵", state="draft", created_at=f.AT
        )
        s.add(draft)

        up, (line,) = f.make_unit_payment(s, unit, [owner])
        unit_app = f.submit(
            s,
            f.unit_application(
                s,
                unit,
                up,
                line,
                region_code=REGION,
                # The unit's own account: a payee sharing the person's would be a 风险提示.
                bank_account_no="6228480402564890026",
                bank_category="314",
                contact_name="村会计",
                contact_phone="027-87654321",
            ),
        )

        # A second pension application, approved, with its HRSS request: one failed dispatch
        # to retry, and one the agency may answer by callback.
        pay2 = f.make_pension_payment(s, owner, year=2024)
        sent = _application(
            s,
            kind="pension",
            channel="web",
            person_id=owner.id,
            region_code=REGION,
            pension_payment_id=pay2.payment_id,
            amount_fen=pay2.amount_fen,
            payment_year=pay2.payment_year,
            period_start=pay2.period_start,
            period_end=pay2.period_end,
        )
        applications.transition(
            s, application=sent, target=S.APPROVED, actor=Actor.officer(officer.code), at=f.AT
        )
        failed = dispatches.enqueue_for_approval(s, application=sent, at=f.AT)
        failed.state, failed.attempts, failed.last_error = "failed", 8, "HTTP 400"
        # The database allows one request per application and agency: the callback's
        # request belongs to a third application.
        pay3 = f.make_pension_payment(s, owner, year=2023)
        waiting = _application(
            s,
            kind="pension",
            channel="web",
            person_id=owner.id,
            region_code=REGION,
            pension_payment_id=pay3.payment_id,
            amount_fen=pay3.amount_fen,
            payment_year=pay3.payment_year,
            period_start=pay3.period_start,
            period_end=pay3.period_end,
        )
        applications.transition(
            s, application=waiting, target=S.APPROVED, actor=Actor.officer(officer.code), at=f.AT
        )
        answered = outbox.enqueue(
            s,
            application=waiting,
            agency=Agency.HRSS,
            operation=OPERATIONS[Agency.HRSS],
            payload={"application_id": waiting.id},
            at=f.AT,
        )
        # One application of each kind whose payout failed (退付失败), to be re-issued.
        failed_apps = {}
        for key, kind_app in (
            ("failed_pension_app", pension_app),
            ("failed_medical_app", medical_app),
            ("failed_unit_app", unit_app),
        ):
            failed_apps[key] = _failed_copy(s, kind_app, officer)
        # And one of each returned for correction (退回补正) of its contact.
        for key, kind_app in (
            ("returned_pension_app", pension_app),
            ("returned_medical_app", medical_app),
            ("returned_unit_app", unit_app),
        ):
            failed_apps[key] = _failed_copy(s, kind_app, officer, returned=True)
        claim = HeirClaim(
            heir_person_id=owner.id,
            relationship="child",
            deceased_id_number=f.resident_id(REGION),
            deceased_name="邱老汉",
            death_date=f.AT.date(),
            status="verified",
            created_at=f.AT,
            updated_at=f.AT,
        )
        s.add(claim)
        s.flush()
        ids = {
            **failed_apps,
            "heir_claim": claim.id,
            "account": acct.id,
            "pension_app": pension_app.id,
            "medical_app": medical_app.id,
            "draft_report": draft.id,
            "unit_payment": up.unit_payment_id,
            "unit_app": unit_app.id,
            "failed_dispatch": failed.id,
            "agency": "hrss",
            "request_id": answered.request_id,
            "notification": s.execute(
                select(Notification.id).where(
                    Notification.recipient_kind == "person",
                    Notification.recipient_id == owner.id,
                )
            )
            .scalars()
            .first(),
        }
        accounts = {
            "owner_person": ("person", owner.id),
            "person": ("person", other.id),
            "owner_unit": ("unit", unit.id),
            "unit": ("unit", other_unit.id),
            "officer": ("officer", officer.id),
            "officer_elsewhere": ("officer", elsewhere.id),
        }
    headers = {key: login(kind, account_id) for key, (kind, account_id) in accounts.items()}
    headers["anonymous"] = {}
    return World(
        ids=ids,
        headers=headers,
        owners={"person": "owner_person", "unit": "owner_unit", "officer": "officer"},
    )


# --------------------------------------------------------------------------- calling


def _actor_headers(world: World, row: Row, actor: str) -> dict[str, str]:
    """Who calls. On person routes `person` is another person; on unit routes `unit` is
    another unit and `person` is 邱世贵 himself, whose line the unit's batch holds; on officer
    routes `person` and `unit` are the applicant and the unit that applied."""
    if actor == "owner":
        return world.headers[world.owners[row.audience]] if row.audience != "agency" else {}
    if row.audience == "unit" and actor == "person":
        return world.headers["owner_person"]
    if row.audience == "officer" and actor in ("person", "unit"):
        return world.headers[f"owner_{actor}"]
    return world.headers[actor]


def _call(
    client,
    world: World,
    method: str,
    template: str,
    row: Row,
    actor: str,
    target: Any | None = None,
):
    value = world.ids[row.target] if target is None else target
    name = template[template.index("{") + 1 : template.index("}")]
    url = API + template.replace("{" + name + "}", str(value))
    headers = dict(_actor_headers(world, row, actor))
    content = None
    if row.audience == "agency":
        # The agency's answer to a request we sent it. Only the owner signs it.
        content = json.dumps({"request_id": world.ids["request_id"], "status": "received"}).encode()
        headers["Content-Type"] = "application/json"
        if actor == "owner":
            headers.update(
                signed_headers(
                    client.app.state.settings.resolved_callback_secret(),
                    content,
                    at=client.app.state.clock.now(),
                )
            )
    elif row.body is not None:
        # A body value naming an object of the world ("account") is that object's id.
        body = {k: world.ids.get(v, v) if isinstance(v, str) else v for k, v in row.body.items()}
        content = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return client.request(method, url, content=content, headers=headers)


def _routes(app) -> list[Any]:
    """Every route of the app with its full path. FastAPI >= 0.16x keeps included routers
    as nodes of app.routes and flattens them with iter_route_contexts; older ones list the
    routes themselves."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # an older FastAPI: app.routes is already flat
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def _api_routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in _routes(app):
        path, methods = getattr(route, "path", None), getattr(route, "methods", None)
        if path and methods and path.startswith(API + "/") and "{" in path:
            for method in set(methods) - {"HEAD", "OPTIONS"}:
                found.add((method, path[len(API) :]))
    return found


# --------------------------------------------------------------------------- tests


def test_every_api_route_with_a_path_parameter_is_in_the_matrix(app):
    routes = _api_routes(app)
    missing = sorted(routes - MATRIX.keys())
    assert not missing, f"routes with a path parameter and no row in MATRIX: {missing}"
    stale = sorted(MATRIX.keys() - routes)
    assert not stale, f"MATRIX rows for routes the app no longer has: {stale}"


@pytest.mark.parametrize(("method", "template"), sorted(MATRIX), ids=lambda v: v)
def test_each_caller_gets_the_status_of_the_matrix(client, world, method, template):
    row = MATRIX[(method, template)]
    got = {}
    # The owner goes last: if any other caller could act on the object (cancel, decide,
    # retry), the owner's own call would then find it changed and fail.
    for actor in actors(row):
        r = _call(client, world, method, template, row, actor)
        got[actor] = r.status_code
        if r.status_code >= 400:
            err = r.json()["error"]
            assert set(err) >= {"code", "message", "field"} and err["message"], (actor, r.text)
    want = {actor: expected(row, actor) for actor in actors(row)}
    assert got == want
    if row.again is not None:
        r = _call(client, world, method, template, row, "owner")
        assert r.status_code == row.again, r.text


@pytest.mark.parametrize(
    ("method", "template"),
    sorted(k for k, row in MATRIX.items() if 404 in AUDIENCES[row.audience].values()),
    ids=lambda v: v,
)
def test_not_yours_looks_exactly_like_not_there(client, world, method, template):
    row = MATRIX[(method, template)]
    stranger = next(a for a, status in AUDIENCES[row.audience].items() if status == 404)
    theirs = _call(client, world, method, template, row, stranger)
    nothing = _call(client, world, method, template, row, stranger, target=row.missing)
    assert theirs.status_code == nothing.status_code == 404
    assert theirs.json() == nothing.json()


def test_an_owner_id_of_another_kind_is_not_found_on_each_kinds_route(client, world):
    """A pension route does not serve a medical application and the reverse, even to their
    owner: each route answers only for objects of its own kind."""
    person = world.headers["owner_person"]
    ids = world.ids
    cases = [
        ("GET", f"/pension/refunds/{ids['medical_app']}", person),
        ("GET", f"/pension/refunds/{ids['unit_app']}", person),
        ("POST", f"/pension/refunds/{ids['medical_app']}/cancel", person),
        ("GET", f"/medical/refunds/{ids['pension_app']}", person),
        ("POST", f"/medical/refunds/{ids['pension_app']}/cancel", person),
        ("POST", f"/medical/refunds/{ids['unit_app']}/cancel", person),
        ("GET", f"/unit/refunds/{ids['pension_app']}/persons", world.headers["owner_unit"]),
        ("POST", f"/unit/refunds/{ids['pension_app']}/cancel", world.headers["owner_unit"]),
    ]
    got = {
        (m, p): client.request(m, API + p, headers=person_or_unit).status_code
        for m, p, person_or_unit in cases
    }
    assert got == {(m, p): 404 for m, p, _ in cases}


def test_the_agency_callback_for_another_agency_is_not_found(client, world, session_factory):
    """A correctly signed answer posted as the wrong agency names a request that agency was
    never sent: 404, and the request stays unanswered."""
    content = json.dumps({"request_id": world.ids["request_id"], "status": "paid"}).encode()
    headers = {
        "Content-Type": "application/json",
        **signed_headers(
            client.app.state.settings.resolved_callback_secret(),
            content,
            at=client.app.state.clock.now(),
        ),
    }
    r = client.post(f"{API}/callbacks/bank", content=content, headers=headers)
    assert r.status_code == 404, r.text
    with session_factory() as s:
        state = s.execute(
            select(OutboxMessage.state).where(OutboxMessage.request_id == world.ids["request_id"])
        ).scalar_one()
    assert state == "pending"


def test_matrix_calls_by_others_leave_the_objects_untouched(client, world, session_factory):
    """Every refused call of the matrix, then the objects: still pending, the failed dispatch
    still failed, the draft still a draft."""
    for (method, template), row in sorted(MATRIX.items()):
        for actor in actors(row)[:-1]:
            _call(client, world, method, template, row, actor)
    ids = world.ids
    with session_factory() as s:
        statuses = {
            key: s.get(Application, ids[key]).status
            for key in ("pension_app", "medical_app", "unit_app")
        }
        dispatch = s.get(OutboxMessage, ids["failed_dispatch"]).state
        report = s.get(DepositAccountReport, ids["draft_report"])
        answered = s.execute(
            select(OutboxMessage.state).where(OutboxMessage.request_id == ids["request_id"])
        ).scalar_one()
    assert statuses == dict.fromkeys(statuses, "pending_review")
    assert dispatch == "failed"
    assert (report.state, report.report_date) == ("draft", None)
    assert answered == "pending"
