"""The payee rules and the payout-failure loop through the API (api.md: `bank_account_name` on
POST /pension/refunds, POST /{kind}/refunds/{id}/reissue), and what officers see of the
account a refund is paid into. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from sirefund.domain.agencies import Agency, AgencyResult
from sirefund.models import Application, DepositAccount, OutboxMessage, SecurityEvent
from sirefund.services import applications, settlement
from tests import factories as f
from tests.integration import approvals
from tests.integration.conftest import messages_of
from tests.web.refund_requests import API, BANK, UNIT_NAME, apply, apply_medical, apply_unit

GOOD_CARD = BANK["bank_account_no"]
CORRECTED = "6228480402564890026"


def corrected(name: str = "邱世贵", no: str = CORRECTED) -> dict[str, object]:
    return {
        "bank_account_type": "bank_card",
        "bank_account_no": no,
        "bank_account_name": name,
        "bank_category": "103",
    }


@pytest.fixture
def payer(seed):
    def build(s):
        p = f.make_person(s, name="邱世贵")
        pays = [f.make_pension_payment(s, p).payment_id for _ in range(3)]
        return p.id, pays

    return seed(build)


# --------------------------------------------------------------------------- payee = holder


def test_a_person_cannot_send_their_refund_to_an_account_in_someone_elses_name(
    client, login, payer, session_factory
):
    person_id, pays = payer
    r = client.post(
        f"{API}/pension/refunds",
        json={"payment_ids": [pays[0]], **BANK, "bank_account_name": "张三"},
        headers=login("person", person_id),
    )
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "bank_account_name.not_payer",
        "message": "退费只能退至缴费人本人的银行账户：银行账户名称须与缴费人姓名一致",
        "field": "bank_account_name",
    }
    with session_factory() as s:
        assert s.execute(select(Application.id)).first() is None


def test_the_account_name_of_a_person_refund_is_the_payers_name_given_or_not(
    client, login, payer, session_factory
):
    person_id, pays = payer
    headers = login("person", person_id)
    given = apply(client, headers, pays[0], bank_account_name=" 邱世贵 ")
    implied = apply(client, headers, pays[1])
    with session_factory() as s:
        names = {s.get(Application, a["id"]).bank_account_name for a in (given, implied)}
    assert names == {"邱世贵"}


def test_a_unit_cannot_send_its_refund_to_an_account_not_in_its_name(client, login, seed):
    def build(s):
        unit = f.make_unit(s, name=UNIT_NAME)
        up, lines = f.make_unit_payment(
            s, unit, [f.make_person(s)], payment_type="collective_subsidy"
        )
        return unit.id, up.unit_payment_id, lines[0].line_id

    unit_id, payment, line = seed(build)
    body = {
        "unit_payment_id": payment,
        "line_ids": [line],
        "payment_month": 1,
        **BANK,
        "bank_account_name": "王会计",
    }
    r = client.post(f"{API}/unit/refund-batches", json=body, headers=login("unit", unit_id))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "bank_account_name.not_unit"
    assert r.json()["error"]["field"] == "bank_account_name"


# --------------------------------------------------------------------------- re-issue


def test_a_failed_payout_is_reissued_to_a_corrected_account_and_only_the_bank_is_asked_again(
    client, login, payer, seed, session_factory
):
    person_id, pays = payer
    headers = login("person", person_id)
    app_id = apply(client, headers, pays[0])["id"]
    seed(lambda s: f.fail_payout(s, app_id))

    shown = client.get(f"{API}/pension/refunds/{app_id}", headers=headers).json()
    assert (shown["status"], shown["refund_status_label"]) == ("refund_failed", "退付失败")
    assert shown["bank_result"] == "退付失败：户名与账号不符"

    r = client.post(f"{API}/pension/refunds/{app_id}/reissue", json=corrected(), headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["refund_status_label"]) == ("at_agency", "人社退费中")
    assert body["bank_account_masked"].endswith("0026")
    assert body["bank_result"] is None
    last = body["history"][-1]
    assert (last["from_status"], last["to_status"], last["actor_kind"]) == (
        "refund_failed",
        "at_agency",
        "person",
    )
    assert (
        "0018" in last["reason"] and "0026" in last["reason"] and "户名与账号不符" in last["reason"]
    )

    sent = messages_of(session_factory, app_id)
    assert [m.agency for m in sent] == ["hrss", "bank", "bank"]
    old, new = sent[1], sent[2]
    assert old.superseded_at is not None and new.superseded_at is None
    assert new.request_id != old.request_id
    assert new.payload["account"] == {
        "no": CORRECTED,
        "name": "邱世贵",
        "type": "bank_card",
        "bank_category": "103",
    }

    # A second re-issue while the bank decides is a state conflict.
    again = client.post(
        f"{API}/pension/refunds/{app_id}/reissue", json=corrected(), headers=headers
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "application.not_reissuable"


def test_a_case_whose_payout_has_not_failed_cannot_be_reissued(client, login, payer):
    person_id, pays = payer
    headers = login("person", person_id)
    app_id = apply(client, headers, pays[0])["id"]
    r = client.post(f"{API}/pension/refunds/{app_id}/reissue", json=corrected(), headers=headers)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "application.not_reissuable"


def test_nobody_but_the_applicant_can_reissue_and_never_to_another_name(
    client, login, payer, seed, session_factory
):
    person_id, pays = payer
    app_id = apply(client, login("person", person_id), pays[0])["id"]
    seed(lambda s: f.fail_payout(s, app_id))
    # Someone who knows the payer's name, with an account of their own; and a unit.
    intruder, unit = seed(lambda s: (f.make_person(s, name="邱世贵").id, f.make_unit(s).id))
    url = f"{API}/pension/refunds/{app_id}/reissue"

    r = client.post(url, json=corrected(), headers=login("person", intruder))
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "application.not_found"
    assert client.post(url, json=corrected(), headers=login("unit", unit)).status_code == 403
    assert client.post(url, json=corrected()).status_code == 401
    r = client.post(url, json=corrected(name="张三"), headers=login("person", person_id))
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "bank_account_name.not_payer"
    r = client.post(
        url,
        json={**corrected(), "bank_account_no": "6228480402564890019"},
        headers=login("person", person_id),
    )
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "bank_account_no"

    assert [m.agency for m in messages_of(session_factory, app_id)] == ["hrss", "bank"]
    with session_factory() as s:
        assert s.get(Application, app_id).status == "refund_failed"


def test_a_unit_reissues_its_own_failed_payout_and_no_other_unit_can(
    client, login, seed, session_factory
):
    def build(s):
        unit = f.make_unit(s, name=UNIT_NAME)
        other = f.make_unit(s, name="另一村民委员会")
        up, lines = f.make_unit_payment(
            s, unit, [f.make_person(s)], payment_type="collective_subsidy"
        )
        return unit.id, other.id, up.unit_payment_id, lines[0].line_id

    unit_id, other_id, payment, line = seed(build)
    (app_id,) = apply_unit(client, login("unit", unit_id), payment, [line])
    seed(lambda s: f.fail_payout(s, app_id, reason="账户已销户"))
    (row,) = client.get(f"{API}/unit/refunds", headers=login("unit", unit_id)).json()["items"]
    assert (row["hrss_status_label"], row["bank_result"]) == ("退付失败", "退付失败：账户已销户")
    url = f"{API}/unit/refunds/{app_id}/reissue"
    assert (
        client.post(url, json=corrected(UNIT_NAME), headers=login("unit", other_id)).status_code
        == 404
    )
    r = client.post(url, json=corrected("王会计"), headers=login("unit", unit_id))
    assert r.json()["error"]["code"] == "bank_account_name.not_unit"
    r = client.post(url, json=corrected(UNIT_NAME), headers=login("unit", unit_id))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "at_agency"
    progress = client.get(f"{API}/unit/refunds", headers=login("unit", unit_id)).json()
    assert progress["items"][0]["status"] == "at_agency"
    assert [m.agency for m in messages_of(session_factory, app_id)] == ["hrss", "bank", "bank"]


def test_a_medical_refund_is_reissued_to_one_of_the_persons_own_deposit_accounts(
    client, login, seed, session_factory
):
    def build(s):
        p = f.make_person(s, name="邱世贵")
        reg = f.make_registration(s, p)
        pay = f.make_medical_payment(s, reg, year=2026)
        acct = f.make_submitted_account(s, p)
        other = f.make_submitted_account(s, p, account_no=CORRECTED)
        stranger = f.make_submitted_account(
            s, f.make_person(s, name="李四"), account_no="6228480402564890034"
        )
        return p.id, reg.registration_id, pay.payment_id, acct.id, other.id, stranger.id

    person_id, reg, pay, acct, other, stranger = seed(build)
    headers = login("person", person_id)
    app_id = apply_medical(client, headers, payment=pay, registration=reg, account=acct)
    seed(lambda s: f.fail_payout(s, app_id, reason="账户冻结"))
    url = f"{API}/medical/refunds/{app_id}/reissue"
    r = client.post(url, json={"deposit_account_id": stranger}, headers=headers)
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "deposit_account.not_found"
    r = client.post(url, json={"deposit_account_id": other}, headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["refund_status_label"]) == ("at_agency", "医保核验中")
    sent = messages_of(session_factory, app_id)
    assert [m.agency for m in sent] == ["medical_security", "bank", "bank"]
    assert sent[-1].payload["account"]["no"] == CORRECTED


# --------------------------------------------------------------------------- officers


def test_officers_see_and_reveal_the_account_the_payout_uses_and_are_told_it_changed(
    client, login, seed, session_factory
):
    """Issue 9 part 4: the payout uses the account copied at submission; the officer's detail
    and reveal must show that one, not the person's deposit account as changed since."""

    def build(s):
        p = f.make_person(s, name="邱世贵")
        reg = f.make_registration(s, p)
        pay = f.make_medical_payment(s, reg, year=2026)
        acct = f.make_submitted_account(s, p)
        officer = f.make_officer(s)
        return p.id, reg.registration_id, pay.payment_id, acct.id, officer.id

    person_id, reg, pay, acct, officer_id = seed(build)
    app_id = apply_medical(
        client, login("person", person_id), payment=pay, registration=reg, account=acct
    )
    officer = login("officer", officer_id)
    detail = client.get(f"{API}/officer/applications/{app_id}", headers=officer).json()
    assert detail["bank_account"]["account_no_masked"].endswith("0018")
    assert detail["bank_account"]["changed_after_submission"] is False

    # The person changes (变更) that deposit account after submitting: the row is edited.
    with session_factory() as s, s.begin():
        row = s.get(DepositAccount, acct)
        row.account_no, row.operation_type = CORRECTED, "change"

    detail = client.get(f"{API}/officer/applications/{app_id}", headers=officer).json()
    account = detail["bank_account"]
    assert account["account_no_masked"].endswith("0018")
    assert account["changed_after_submission"] is True
    assert account["current_no_masked"].endswith("0026")
    revealed = client.post(
        f"{API}/officer/applications/{app_id}/reveal",
        json={"field": "bank_account_no", "reason": "核对退费账户"},
        headers=officer,
    )
    assert revealed.json()["value"] == GOOD_CARD
    with session_factory() as s:
        assert s.execute(select(SecurityEvent.kind)).scalars().all() == ["reveal"]

    # Approved, the bank is ordered to pay exactly what the officer saw.
    with session_factory() as s, s.begin():
        approvals.approve(s, applications.get(s, app_id), at=f.AT)
    verify = messages_of(session_factory, app_id)[0]
    with session_factory() as s, s.begin():
        settlement.apply_result(
            s,
            agency=Agency.MEDICAL_SECURITY,
            result=AgencyResult(request_id=verify.request_id, status="passed"),
            at=f.AT,
        )
    assert messages_of(session_factory, app_id)[-1].payload["account"]["no"] == GOOD_CARD


def test_an_officer_cannot_resend_a_payout_that_a_reissue_replaced(
    client, login, payer, seed, session_factory
):
    person_id, pays = payer
    headers = login("person", person_id)
    app_id = apply(client, headers, pays[0])["id"]
    seed(lambda s: f.fail_payout(s, app_id))
    client.post(f"{API}/pension/refunds/{app_id}/reissue", json=corrected(), headers=headers)
    old = messages_of(session_factory, app_id)[1]
    # Even if the old payout had ended up failed (its worker's last word), it stays retired.
    with session_factory() as s, s.begin():
        s.get(OutboxMessage, old.id).state = "failed"
    officer = seed(lambda s: f.make_officer(s).id)
    r = client.post(f"{API}/officer/dispatches/{old.id}/retry", headers=login("officer", officer))
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "dispatch.superseded"
