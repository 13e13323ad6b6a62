"""统计分析 over HTTP: GET /api/v1/officer/stats and its .xlsx for supervisors only, the
region an officer may ask for, and the 税务端 page with its charts."""

from __future__ import annotations

import html
import io
import re

import pytest
from openpyxl import load_workbook

from tests import factories as f
from tests.web.officer_helpers import pension_app

API = "/api/v1/officer/stats"


@pytest.fixture
def world(seed):
    """Supervisors of the province and of 华容区, a reviewer; two applications in 华容区 and
    one in 武汉 (江岸区)."""

    def build(s):
        apps = [pension_app(s), pension_app(s), pension_app(s, region="420102")]
        return {
            "province": f.make_officer(s, region="420000", reviewer=False, supervisor=True).id,
            "county": f.make_officer(s, region="420703", reviewer=False, supervisor=True).id,
            "reviewer": f.make_officer(s, region="420000").id,
            "amounts": [a.amount_fen for a in apps],
        }

    return seed(build)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def test_a_supervisor_reads_the_figures_with_chinese_labels_and_yuan(client, login, world):
    reply = client.get(API, headers=login("officer", world["province"]))

    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["total"] == {"count": 3, "amount": _yuan(sum(world["amounts"]))}
    by_region = {b["key"]: b for b in body["by_region"]}
    assert by_region["420703"]["count"] == 2 and by_region["420703"]["label"] == "华容区"
    assert by_region["420102"]["count"] == 1
    assert body["by_status"] == [
        {
            "key": "pending_review",
            "label": "待审核",
            "count": 3,
            "amount": _yuan(sum(world["amounts"])),
        }
    ]
    assert body["by_month"][0]["key"] == "2026-03" and body["by_month"][0]["label"] == "2026年3月"
    assert set(body["days_to_refund"]) >= {"p50", "p90"}
    assert body["overdue"] == 0  # submitted today (2026-03-10)


def test_pending_cases_past_30_working_days_are_counted_overdue(client, login, world, clock):
    clock.advance(days=50)  # 2026-04-29: 35 working days after 2026-03-10 (清明 off)
    headers = login("officer", world["province"])

    assert client.get(API, headers=headers).json()["overdue"] == 3


def test_a_county_supervisor_never_sees_another_prefectures_figures(client, login, world):
    headers = login("officer", world["county"])

    mine = client.get(API, headers=headers).json()
    asked = client.get(API, params={"region": "420100"}, headers=headers)

    assert [b["key"] for b in mine["by_region"]] == ["420703"]
    assert mine["total"]["count"] == 2
    assert asked.status_code == 403
    assert asked.json()["error"]["code"] == "stats.region_out_of_scope"
    assert "420102" not in asked.text


@pytest.mark.parametrize("path", [API, API + ".xlsx", "/officer/stats", "/officer/stats.xlsx"])
def test_an_officer_without_the_supervisor_role_gets_403(client, login, world, path):
    reply = client.get(path, headers=login("officer", world["reviewer"]))

    assert reply.status_code == 403
    assert "420102" not in reply.text and "华容区" not in reply.text.replace("湖北省", "")


def test_a_wrong_date_or_region_is_422_with_a_chinese_message(client, login, world):
    headers = login("officer", world["province"])

    backwards = client.get(
        API, params={"date_from": "2026-04-01", "date_to": "2026-03-01"}, headers=headers
    )
    region = client.get(API, params={"region": "42x"}, headers=headers)

    assert backwards.status_code == 422 and "申请日期起不能晚于申请日期止" in backwards.text
    assert region.status_code == 422 and "行政区划代码应为6位数字" in region.text


def test_the_xlsx_holds_the_same_figures(client, login, world):
    reply = client.get(API + ".xlsx", headers=login("officer", world["province"]))

    assert reply.status_code == 200
    wb = load_workbook(io.BytesIO(reply.content))
    summary = {r[0]: r[1] for r in wb["概况"].iter_rows(values_only=True)}
    assert summary["申请笔数"] == 3
    regions = {r[1]: r[2] for r in wb["按地区"].iter_rows(min_row=2, values_only=True)}
    assert regions == {"420102": 1, "420703": 2}


def test_the_page_draws_the_charts_with_titles_and_text_alternatives(client, login, world):
    page = client.get("/officer/stats", headers=login("officer", world["province"]))

    assert page.status_code == 200
    assert page.text.count('role="img"') == 4
    assert "<style" not in page.text.split("<body", 1)[1]  # the CSP allows no inline style
    text = html.unescape(re.sub(r"<[^>]+>", " ", page.text))
    for words in (
        "统计分析",
        "按退费状态统计（笔数）",
        "按地区统计（笔数）",
        "华容区2笔",
        "导出Excel",
    ):
        assert words in text
