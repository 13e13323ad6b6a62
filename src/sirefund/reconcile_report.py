"""`sirefund reconcile`'s printout of a reconciliation run: the totals of each agency, ours
and theirs, then every discrepancy (accounts masked as stored)."""

from __future__ import annotations

from .domain.money import format_yuan
from .services.reconciliation import EntryView, ReconciliationView


def _entry(entry: EntryView | None) -> str:
    if entry is None:
        return "—"
    amount = format_yuan(entry.amount_fen) if entry.amount_fen is not None else "—"
    return f"{amount} 元 {entry.account_masked}" if entry.account_masked else f"{amount} 元"


def render(view: ReconciliationView) -> str:
    lines = [f"对账日期 {view.day.isoformat()}（第 {view.run_id} 次对账）"]
    lines.append("机构\t我方笔数\t我方金额\t对方笔数\t对方金额\t结果")
    for t in view.agencies:
        lines.append(
            f"{t.agency.label}\t{t.ours_count}\t{format_yuan(t.ours_amount_fen)}\t"
            f"{t.theirs_count}\t{format_yuan(t.theirs_amount_fen)}\t"
            f"{'一致' if t.agrees else '不一致'}"
        )
    if not view.discrepancies:
        lines.append("无差异：各方金额一致。" if view.clean else "笔数或金额不一致。")
        return "\n".join(lines)
    lines.append(f"差异 {len(view.discrepancies)} 笔：")
    for d in view.discrepancies:
        app = d.application_id if d.application_id is not None else "—"
        lines.append(
            f"{d.kind.label}（{d.kind.value}）\t{d.agency.label}\t申请 {app}\t"
            f"我方 {_entry(d.ours)}\t对方 {_entry(d.theirs)}"
        )
    return "\n".join(lines)
