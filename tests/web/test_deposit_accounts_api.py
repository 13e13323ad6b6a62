"""存款账户账号报告 through the API: each test is one rule of domain.md "Deposit account
report" / manual 2.1 step 3 and 2.2 steps 4-5. Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from sirefund.services import deposit_accounts
from tests import factories as f

GOOD_CARD = "6228480402564890018"  # passes Luhn
OTHER_CARD = "6217002870012345672"  # passes Luhn
BAD_CARD = "6228480402564890019"  # a UnionPay card number failing Luhn
CHANGE_HINT = deposit_accounts.CHANGE_DATE_HINT


@pytest.fixture
def person(seed):
    return seed(lambda s: f.make_person(s, name="邱世贵").id)


@pytest.fixture
def headers(person, login):
    return login("person", person)


def row(**overrides):
    base = {
        "operation_type": "add",
        "account_nature": "1110",
        "issue_date": "2026-03-10",
        "division_code": "420700",
        "bank_category": "103",
        "bank_branch": "中国农业银行股份有限公司鄂州鄂城支行",
        "account_name": "邱世贵",
        "account_no": GOOD_CARD,
        "currency": "156",
        "preferred_tax_account": True,
        "general_refund_account": True,
        "export_refund_account": False,
        "opened_on": "2020-01-01",
    }
    base.update(overrides)
    return base


def report(*rows, submit=True, **overrides):
    body = {
        "handler_name": "邱世贵",
        "report_date": "2026-03-10",
        "accounts": list(rows),
        "submit": submit,
    }
    body.update(overrides)
    return body


def submit_new(client, headers, *rows):
    r = client.post("/api/v1/deposit-account-reports", json=report(*rows), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def error(r):
    return r.json()["error"]


# --------------------------------------------------------------------------- 暂存 / 提交


def test_draft_allows_incomplete_rows_then_submit_validates_every_required_field(client, headers):
    draft = client.post(
        "/api/v1/deposit-account-reports",
        headers=headers,
        json=report(
            {"bank_category": "103", "account_no": "62284804"}, submit=False, handler_name=None
        ),
    )
    assert draft.status_code == 201, draft.text
    body = draft.json()
    assert body["state"] == "draft" and body["state_label"] == "暂存"
    assert body["accounts"][0]["account_no"] == "62284804"  # the owner's own draft, as typed
    assert client.get("/api/v1/deposit-accounts", headers=headers).json()["items"] == []

    submit = client.put(
        f"/api/v1/deposit-account-reports/{body['report_id']}",
        headers=headers,
        json=report(
            {"account_id": body["accounts"][0]["account_id"], "bank_category": "103"},
            handler_name=None,
        ),
    )
    assert submit.status_code == 422
    err = error(submit)
    fields = {e["field"] for e in err["errors"]}
    assert {
        "accounts.0.account_nature",
        "accounts.0.issue_date",
        "accounts.0.division_code",
        "accounts.0.bank_branch",
        "accounts.0.account_name",
        "accounts.0.account_no",
        "accounts.0.opened_on",
        "handler_name",
    } <= fields
    assert "accounts.0.permit_no" not in fields  # optional for persons
    assert err["field"] == "accounts.0.account_nature" and err["message"] == "请选择账户性质"

    done = client.put(
        f"/api/v1/deposit-account-reports/{body['report_id']}",
        headers=headers,
        json=report(row(account_id=body["accounts"][0]["account_id"])),
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "submitted" and done.json()["state_label"] == "已提交"
    accounts = client.get("/api/v1/deposit-accounts", headers=headers).json()["items"]
    assert [a["account_no_masked"] for a in accounts] == ["***************0018"]
    assert accounts[0]["division_name"] == "鄂州市"
    assert accounts[0]["bank_category_label"] == "中国农业银行"


def test_submitting_a_report_without_rows_is_refused(client, headers):
    r = client.post("/api/v1/deposit-account-reports", json=report(), headers=headers)
    assert r.status_code == 422
    assert error(r)["code"] == "deposit_account.rows_required"


def test_handler_and_report_date_are_required_on_submit_not_on_draft(client, headers):
    bare = report(row(), handler_name=None, report_date=None)
    assert (
        client.post(
            "/api/v1/deposit-account-reports", headers=headers, json={**bare, "submit": False}
        ).status_code
        == 201
    )
    r = client.post("/api/v1/deposit-account-reports", headers=headers, json=bare)
    assert r.status_code == 422
    assert [e["field"] for e in error(r)["errors"]] == ["handler_name", "report_date"]
    assert error(r)["message"] == "请填写经办人"


def test_a_future_report_date_is_refused(client, headers):
    r = client.post(
        "/api/v1/deposit-account-reports",
        headers=headers,
        json=report(row(), report_date="2026-03-11"),
    )
    assert r.status_code == 422 and error(r)["field"] == "report_date"


# --------------------------------------------------------------------------- row rules


def test_account_name_must_equal_the_persons_name(client, headers):
    r = client.post(
        "/api/v1/deposit-account-reports", headers=headers, json=report(row(account_name="李伊岚"))
    )
    assert r.status_code == 422
    assert error(r) | {"errors": None} == {
        "code": "deposit_account.name_mismatch",
        "message": "账户名称必须与退费人名称一致",
        "field": "accounts.0.account_name",
        "errors": None,
    }


def test_a_draft_is_checked_when_saved_not_only_at_submit(client, headers):
    """暂存 keeps incomplete rows, but what a row holds must be right (issue 10, part 9)."""
    r = client.post(
        "/api/v1/deposit-account-reports",
        headers=headers,
        json=report(row(account_name="李伊岚", opened_on="2099-01-01"), submit=False),
    )
    assert r.status_code == 422
    assert {(e["field"], e["code"]) for e in error(r)["errors"]} == {
        ("accounts.0.account_name", "deposit_account.name_mismatch"),
        ("accounts.0.opened_on", "deposit_account.opened_on_future"),
    }
    r = client.post(
        "/api/v1/deposit-account-reports",
        headers=headers,
        json=report({"operation_type": "add", "account_name": "", "account_no": ""}, submit=False),
    )
    assert r.status_code == 201, r.text  # an incomplete row is still kept


def test_currency_can_only_be_156_even_in_a_draft(client, headers):
    for submit in (False, True):
        r = client.post(
            "/api/v1/deposit-account-reports",
            headers=headers,
            json=report(row(currency="840"), submit=submit),
        )
        assert r.status_code == 422
        assert error(r)["code"] == "deposit_account.currency"
        assert error(r)["message"] == "币种只能选择人民币"
        assert error(r)["field"] == "accounts.0.currency"


def test_errors_name_the_row_and_the_field(client, headers):
    r = client.post(
        "/api/v1/deposit-account-reports",
        headers=headers,
        json=report(row(), row(account_no="12AB", bank_category="999")),
    )
    assert r.status_code == 422
    fields = [e["field"] for e in error(r)["errors"]]
    assert fields == ["accounts.1.bank_category", "accounts.1.account_no"]
    assert error(r)["field"] == "accounts.1.bank_category"


def test_unknown_codes_are_refused_with_the_field(client, headers):
    r = client.post(
        "/api/v1/deposit-account-reports",
        headers=headers,
        json=report(row(account_nature="1111", division_code="42A700"), submit=False),
    )
    assert r.status_code == 422
    assert [e["field"] for e in error(r)["errors"]] == [
        "accounts.0.account_nature",
        "accounts.0.division_code",
    ]


def test_a_division_outside_hubei_is_accepted_but_named_only_when_known(client, headers):
    submit_new(client, headers, row(division_code="110105"))
    [account] = client.get("/api/v1/deposit-accounts", headers=headers).json()["items"]
    assert account["division_code"] == "110105" and account["division_name"] is None


def test_a_unionpay_card_failing_luhn_needs_confirmation(client, headers):
    r = client.post(
        "/api/v1/deposit-account-reports", headers=headers, json=report(row(account_no=BAD_CARD))
    )
    assert r.status_code == 422 and error(r)["code"] == "bank_account.luhn"
    assert error(r)["field"] == "accounts.0.account_no"
    submit_new(client, headers, row(account_no=BAD_CARD, account_no_confirmed=True))


def test_an_account_opened_in_the_future_is_refused(client, headers):
    r = client.post(
        "/api/v1/deposit-account-reports", headers=headers, json=report(row(opened_on="2026-04-01"))
    )
    assert r.status_code == 422 and error(r)["field"] == "accounts.0.opened_on"


def test_new_rows_cannot_be_changes_or_deletions(client, headers):
    r = client.post(
        "/api/v1/deposit-account-reports",
        headers=headers,
        json=report(row(operation_type="delete")),
    )
    assert r.status_code == 422
    assert error(r)["code"] == "deposit_account.not_saved"
    assert error(r)["field"] == "accounts.0.operation_type"


def test_oversize_strings_and_lists_are_refused_with_422(client, headers):
    r = client.post(
        "/api/v1/deposit-account-reports", headers=headers, json=report(row(bank_branch="银" * 101))
    )
    assert r.status_code == 422 and error(r)["field"] == "accounts.0.bank_branch"
    r = client.post(
        "/api/v1/deposit-account-reports",
        headers=headers,
        json=report(*[row()] * (deposit_accounts.MAX_ROWS + 1)),
    )
    assert r.status_code == 422 and error(r)["field"] == "accounts"


# --------------------------------------------------------------------------- changing a submitted report


def test_change_date_is_required_when_a_saved_accounts_number_changes(client, headers):
    saved = submit_new(client, headers, row())
    account_id = saved["accounts"][0]["account_id"]
    url = f"/api/v1/deposit-account-reports/{saved['report_id']}"

    r = client.put(
        url, headers=headers, json=report(row(account_id=account_id, account_no=OTHER_CARD))
    )
    assert r.status_code == 422
    assert error(r)["code"] == "deposit_account.change_date_required"
    assert error(r)["field"] == "accounts.0.changed_on"
    assert error(r)["message"] == CHANGE_HINT

    r = client.put(
        url,
        headers=headers,
        json=report(row(account_id=account_id, account_no=OTHER_CARD, changed_on="2026-03-10")),
    )
    assert r.status_code == 200, r.text
    changed = r.json()["accounts"][0]
    assert changed["account_id"] == account_id
    assert changed["operation_type"] == "change" and changed["operation_type_label"] == "变更"
    assert changed["account_no"] is None  # submitted: masked only
    assert changed["account_no_masked"].endswith("5672")


@pytest.mark.parametrize(
    "field,value",
    [("bank_branch", "中国农业银行股份有限公司鄂州华容支行"), ("permit_no", "J5210000123401")],
)
def test_change_date_is_required_when_a_saved_accounts_bank_or_permit_changes(
    client, headers, field, value
):
    saved = submit_new(client, headers, row())
    r = client.put(
        f"/api/v1/deposit-account-reports/{saved['report_id']}",
        headers=headers,
        json=report(row(account_id=saved["accounts"][0]["account_id"], **{field: value})),
    )
    assert r.status_code == 422 and error(r)["code"] == "deposit_account.change_date_required"


def test_a_saved_account_sent_back_masked_keeps_its_number_and_needs_no_change_date(
    client, headers
):
    saved = submit_new(client, headers, row())
    shown = saved["accounts"][0]
    r = client.put(
        f"/api/v1/deposit-account-reports/{saved['report_id']}",
        headers=headers,
        json=report(
            row(account_id=shown["account_id"], account_no=shown["account_no_masked"], note="备注")
        ),
    )
    assert r.status_code == 200, r.text
    assert r.json()["accounts"][0]["operation_type"] == "add"
    assert r.json()["accounts"][0]["account_no_masked"] == "***************0018"


def test_a_row_with_operation_delete_retires_the_account(client, headers):
    saved = submit_new(client, headers, row())
    account_id = saved["accounts"][0]["account_id"]
    r = client.put(
        f"/api/v1/deposit-account-reports/{saved['report_id']}",
        headers=headers,
        json=report({"account_id": account_id, "operation_type": "delete"}, row()),
    )
    assert r.status_code == 200, r.text
    deleted, added = r.json()["accounts"]
    assert deleted["retired"] is True and deleted["in_force"] is False
    assert deleted["operation_type_label"] == "删除"
    in_force = client.get("/api/v1/deposit-accounts", headers=headers).json()["items"]
    assert [a["account_id"] for a in in_force] == [added["account_id"]]


def test_a_deleted_account_cannot_be_revived(client, headers):
    saved = submit_new(client, headers, row())
    account_id = saved["accounts"][0]["account_id"]
    url = f"/api/v1/deposit-account-reports/{saved['report_id']}"
    client.put(
        url, headers=headers, json=report({"account_id": account_id, "operation_type": "delete"})
    )
    r = client.put(url, headers=headers, json=report(row(account_id=account_id)))
    assert r.status_code == 422 and error(r)["code"] == "deposit_account.retired"


def test_a_submitted_account_cannot_be_dropped_without_a_delete_row(client, headers):
    saved = submit_new(client, headers, row())
    r = client.put(
        f"/api/v1/deposit-account-reports/{saved['report_id']}", headers=headers, json=report(row())
    )
    assert r.status_code == 422 and error(r)["code"] == "deposit_account.row_missing"


def test_a_submitted_report_is_updated_by_submitting_not_by_saving_a_draft(client, headers):
    saved = submit_new(client, headers, row())
    r = client.put(
        f"/api/v1/deposit-account-reports/{saved['report_id']}",
        headers=headers,
        json=report(row(account_id=saved["accounts"][0]["account_id"]), submit=False),
    )
    assert r.status_code == 409 and error(r)["code"] == "deposit_account_report.already_submitted"


def test_a_draft_save_replaces_its_rows(client, headers):
    draft = client.post(
        "/api/v1/deposit-account-reports",
        headers=headers,
        json=report(row(), row(account_no=OTHER_CARD), submit=False),
    ).json()
    keep = draft["accounts"][1]["account_id"]
    r = client.put(
        f"/api/v1/deposit-account-reports/{draft['report_id']}",
        headers=headers,
        json=report(row(account_id=keep, note="保留"), submit=False),
    )
    assert r.status_code == 200
    assert [(a["account_id"], a["note"]) for a in r.json()["accounts"]] == [(keep, "保留")]
    again = client.get(
        f"/api/v1/deposit-account-reports/{draft['report_id']}", headers=headers
    ).json()
    assert len(again["accounts"]) == 1


def test_a_row_cannot_point_at_an_account_of_another_report(client, headers):
    first = submit_new(client, headers, row())
    r = client.post(
        "/api/v1/deposit-account-reports",
        headers=headers,
        json=report(row(account_id=first["accounts"][0]["account_id"])),
    )
    assert r.status_code == 422 and error(r)["field"] == "accounts.0.account_id"


# --------------------------------------------------------------------------- who may see it


def test_another_persons_report_answers_404(client, headers, seed, login):
    saved = submit_new(client, headers, row())
    other = login("person", seed(lambda s: f.make_person(s, name="李伊岚").id))
    url = f"/api/v1/deposit-account-reports/{saved['report_id']}"
    assert client.get(url, headers=other).status_code == 404
    r = client.put(url, headers=other, json=report(row(account_name="李伊岚")))
    assert r.status_code == 404 and error(r)["code"] == "deposit_account_report.not_found"
    assert client.get("/api/v1/deposit-accounts", headers=other).json()["items"] == []
    assert client.get("/api/v1/deposit-account-reports", headers=other).json()["total"] == 0


def test_report_routes_answer_401_anonymous_and_403_to_units(client, seed, login):
    unit = login("unit", seed(lambda s: f.make_unit(s).id))
    for method, url in [
        ("get", "/api/v1/deposit-accounts"),
        ("get", "/api/v1/deposit-account-reports/1"),
        ("post", "/api/v1/deposit-account-reports"),
        ("put", "/api/v1/deposit-account-reports/1"),
    ]:
        kwargs = {"json": report(row())} if method in ("post", "put") else {}
        assert getattr(client, method)(url, **kwargs).status_code == 401
        assert getattr(client, method)(url, headers=unit, **kwargs).status_code == 403


def test_idempotency_key_replays_the_first_report(client, headers):
    key = {**headers, "Idempotency-Key": "report-1"}
    first = client.post("/api/v1/deposit-account-reports", headers=key, json=report(row()))
    second = client.post("/api/v1/deposit-account-reports", headers=key, json=report(row()))
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert client.get("/api/v1/deposit-account-reports", headers=headers).json()["total"] == 1
    other = client.post("/api/v1/deposit-account-reports", headers=key, json=report(row(note="x")))
    assert other.status_code == 422 and error(other)["code"] == "idempotency.key_reused"
