"""统计分析 as people read it: labels in Chinese, amounts in yuan, the JSON of
GET /officer/stats, its .xlsx, and the charts' geometry for the page's inline SVG.

The charts are drawn by the template (officer/stats.html) from the geometry computed here:
pygal and leather were considered, but both write a ``<style>`` element (pygal also
scripts) into the SVG, which the pages' Content-Security-Policy (``style-src 'self'``)
refuses; presentation attributes are allowed, so a few rectangles and a polyline it is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session

from ..domain import regions, workflow
from ..domain.money import format_yuan
from ..domain.workflow import ApplicationStatus as S
from ..services import statistics
from ..services.accounts import Principal
from ..services.statistics import Bucket, Rate, RegionStats, StatsFilters
from .officer_presenters import KIND_LABELS
from .xlsx_cells import row
from .xlsx_download import OfficerExport, XlsxDownload

FEN_PER_YUAN = 100

STATUS_LABELS = {
    S.PENDING_REVIEW: "待审核",
    S.APPROVED: "审核通过（待机构受理）",
    S.AT_AGENCY: "人社/医保处理中",
    S.REFUNDED: "退费成功",
    S.AGENCY_REJECTED: "人社退回/核验不通过",
    S.REFUND_FAILED: "退付失败",
    S.REJECTED: "税务退回",
    S.CANCELLED: "已撤销",
    S.RETURNED: "待补正",
    S.LAPSED: "逾期未补正",
}
_STATUSES = frozenset(s.value for s in S)
_KINDS = frozenset(k.value for k in workflow.ApplicationKind)
_CHANNELS = frozenset(c.value for c in workflow.Channel)
SECTIONS = (
    ("by_status", "按退费状态"),
    ("by_kind", "按险种"),
    ("by_channel", "按申请渠道"),
    ("by_region", "按地区"),
    ("by_month", "按申请月份"),
)


def _month_label(key: str) -> str:
    year, _, month = key.partition("-")
    return f"{year}年{int(month)}月" if month.isdigit() else key


def label(section: str, key: str) -> str:
    """The Chinese name of a bucket's key; an unknown key is shown as it is."""
    if section == "by_status" and key in _STATUSES:
        return STATUS_LABELS[S(key)]
    if section == "by_kind" and key in _KINDS:
        return KIND_LABELS[workflow.ApplicationKind(key)]
    if section == "by_channel" and key in _CHANNELS:
        return workflow.Channel(key).label
    if section == "by_region":
        return regions.division_name(key) or key
    if section == "by_month":
        return _month_label(key)
    return key


def _bucket(section: str, b: Bucket) -> dict[str, Any]:
    return {
        "key": b.key,
        "label": label(section, b.key),
        "count": b.count,
        "amount": format_yuan(b.amount_fen),
    }


def _rate(r: Rate) -> dict[str, Any]:
    return {
        "count": r.numerator,
        "of": r.denominator,
        "rate": None if r.ratio is None else round(r.ratio, 4),
    }


def percent(r: Rate) -> str:
    return "--" if r.ratio is None else f"{r.ratio * 100:.1f}%"


def stats(s: RegionStats) -> dict[str, Any]:
    """The JSON answer of GET /officer/stats."""
    return {
        "region": s.region,
        "region_name": regions.division_name(s.region) or s.region,
        "date_from": s.date_from.isoformat() if s.date_from else None,
        "date_to": s.date_to.isoformat() if s.date_to else None,
        "total": {"count": s.total.count, "amount": format_yuan(s.total.amount_fen)},
        **{name: [_bucket(name, b) for b in getattr(s, name)] for name, _ in SECTIONS},
        "days_to_refund": {
            "p50": s.days_to_refund_p50,
            "p90": s.days_to_refund_p90,
            "refunded": s.refunded_counted,
        },
        "overdue": s.overdue,
        "agency_refusal": _rate(s.agency_refusal),
        "payment_failure": _rate(s.payment_failure),
    }


def xlsx(s: RegionStats) -> bytes:
    """The same figures as a workbook: a sheet 概况 and one sheet per grouping."""
    wb = Workbook(write_only=True)
    summary = wb.create_sheet("概况")
    summary.column_dimensions["A"].width = 34
    summary.column_dimensions["B"].width = 20
    region = regions.division_name(s.region) or s.region
    dates = f"{s.date_from or '不限'} 至 {s.date_to or '不限'}"
    for values in (
        ("项目", "数值"),
        ("地区", region),
        ("申请日期", dates),
        ("申请笔数", s.total.count),
        ("申请金额（元）", Decimal(s.total.amount_fen) / FEN_PER_YUAN),
        (
            "申请至退费工作日（中位数）",
            s.days_to_refund_p50 if s.days_to_refund_p50 is not None else "--",
        ),
        (
            "申请至退费工作日（90%分位）",
            s.days_to_refund_p90 if s.days_to_refund_p90 is not None else "--",
        ),
        ("超过30个工作日未审核", s.overdue),
        ("人社/医保退回率", percent(s.agency_refusal)),
        ("银行退付失败率", percent(s.payment_failure)),
    ):
        summary.append(row(summary, values))
    for name, title in SECTIONS:
        ws = wb.create_sheet(title)
        ws.column_dimensions["A"].width = 28
        ws.append(row(ws, ("项目", "代码", "笔数", "金额（元）")))
        for b in getattr(s, name):
            amount = Decimal(b.amount_fen) / FEN_PER_YUAN
            ws.append(row(ws, (label(name, b.key), b.key, b.count, amount)))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- charts -------------------------------------------------------------------------------

#: Dark enough on white for text (contrast >= 4.5:1) and for bars (>= 3:1).
BAR_COLOUR = "#1f5f9e"
LINE_COLOUR = "#a13d12"
TEXT_COLOUR = "#222222"
GRID_COLOUR = "#8a8a8a"


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    count: int
    amount: str
    y: int  # top of the row
    width: int  # of the bar, in px


@dataclass(frozen=True, slots=True)
class BarChart:
    """Horizontal bars, one row per bucket: label on the left, count at the bar's end."""

    id: str
    title: str
    summary: str  # the text alternative: every figure, in words
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    bar_max: int
    row_height: int


@dataclass(frozen=True, slots=True)
class Point:
    label: str
    count: int
    x: int
    y: int


@dataclass(frozen=True, slots=True)
class LineChart:
    id: str
    title: str
    summary: str
    points: list[Point]
    polyline: str
    width: int
    height: int
    top: int
    bottom: int
    left: int
    max_count: int


_ROW = 30
_LABEL_W = 190
_BAR_MAX = 330
_CHART_W = 600


def bar_chart(chart_id: str, title: str, section: str, buckets: list[Bucket]) -> BarChart:
    biggest = max((b.count for b in buckets), default=0) or 1
    bars = [
        Bar(
            label=label(section, b.key),
            count=b.count,
            amount=format_yuan(b.amount_fen),
            y=i * _ROW,
            width=max(1, round(b.count * _BAR_MAX / biggest)) if b.count else 0,
        )
        for i, b in enumerate(buckets)
    ]
    words = "；".join(f"{b.label}{b.count}笔，{b.amount}元" for b in bars) or "无数据"
    return BarChart(
        id=chart_id,
        title=title,
        summary=f"{title}：{words}",
        bars=bars,
        width=_CHART_W,
        height=max(1, len(bars)) * _ROW + 10,
        label_width=_LABEL_W,
        bar_max=_BAR_MAX,
        row_height=_ROW,
    )


def line_chart(chart_id: str, title: str, buckets: list[Bucket]) -> LineChart:
    width, height, left, top, bottom, right = _CHART_W, 240, 50, 20, 200, 20
    biggest = max((b.count for b in buckets), default=0) or 1
    n = len(buckets)
    step = (width - left - right) / max(1, n - 1)
    points = [
        Point(
            label=_month_label(b.key),
            count=b.count,
            x=round(left + (i * step if n > 1 else (width - left - right) / 2)),
            y=round(bottom - b.count * (bottom - top) / biggest),
        )
        for i, b in enumerate(buckets)
    ]
    words = "；".join(f"{p.label}{p.count}笔" for p in points) or "无数据"
    return LineChart(
        id=chart_id,
        title=title,
        summary=f"{title}：{words}",
        points=points,
        polyline=" ".join(f"{p.x},{p.y}" for p in points),
        width=width,
        height=height,
        top=top,
        bottom=bottom,
        left=left,
        max_count=biggest,
    )


def charts(s: RegionStats) -> dict[str, Any]:
    return {
        "status": bar_chart("chart-status", "按退费状态统计（笔数）", "by_status", s.by_status),
        "kind": bar_chart("chart-kind", "按险种统计（笔数）", "by_kind", s.by_kind),
        "region": bar_chart("chart-region", "按地区统计（笔数）", "by_region", s.by_region),
        "month": line_chart("chart-month", "按申请月份趋势（笔数）", s.by_month),
    }


def _export(session: Session, officer: Principal, filters: StatsFilters, today: date) -> bytes:
    found = statistics.region_stats(session, officer=officer, filters=filters, today=today)
    return xlsx(found)


#: 导出统计分析: the figures as a workbook (a sheet 概况 and one per grouping), on the API
#: and the page.
EXPORT = OfficerExport("/officer/stats.xlsx", XlsxDownload("statistics", "统计分析"), _export)
