"""The 受理回执 and the 退费凭证 as PDF (fpdf2), from services/documents.py's read model.

Chinese needs a CJK font embedded in the file (subset to the characters used). None is
shipped in this repository: the PDFs use an installed one — SIREFUND_PDF_FONT, else the
first of FONT_CANDIDATES that exists (Debian's fonts-wqy-microhei, which `make demo` and
`make test` install; or Noto Sans CJK). Without any, printing answers 503 pdf.font_missing
and says which package to install.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ..clock import CHINA_TZ
from ..domain.errors import Unavailable
from ..domain.money import format_yuan
from ..domain.workflow import ApplicationKind
from ..services.documents import RefundDocument

log = logging.getLogger(__name__)

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
FONT_PACKAGE = "fonts-wqy-microhei"
_FAMILY = "cjk"
_TITLE_SIZE = 18
_TEXT_SIZE = 11
_SMALL_SIZE = 9
_LABEL_WIDTH = 42


def font_path(configured: Path | None) -> Path:
    """The CJK font the PDFs embed: ``configured`` (SIREFUND_PDF_FONT) or the first of
    FONT_CANDIDATES found. Unavailable (503) naming the Debian package when there is none."""
    candidates = (configured,) if configured is not None else FONT_CANDIDATES
    for candidate in candidates:
        if candidate is not None and candidate.is_file():
            return candidate
    log.error(
        "no CJK font for PDFs: looked for %s; install the Debian package %s or set "
        "SIREFUND_PDF_FONT",
        ", ".join(str(c) for c in candidates),
        FONT_PACKAGE,
    )
    raise Unavailable(
        "pdf.font_missing", f"服务器未安装中文字体（{FONT_PACKAGE}），暂时无法生成PDF文件"
    )


def _day(value: date | None) -> str:
    return f"{value.year}年{value.month:02d}月{value.day:02d}日" if value else "—"


def _instant(value: datetime) -> str:
    local = value.astimezone(CHINA_TZ)
    return f"{_day(local.date())} {local:%H:%M}"


class _Document(FPDF):
    def __init__(self, font: Path, doc: RefundDocument, *, title: str, printed_at: datetime):
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.set_margins(20, 18, 20)
        self.set_auto_page_break(auto=True, margin=18)
        # A .ttc collection: its first face (WenQuanYi Micro Hei, Noto Sans CJK SC).
        self.add_font(_FAMILY, fname=str(font))
        self.set_lang("zh-CN")
        self.set_title(f"{title} {doc.document_no}")
        self.set_author(doc.tax_bureau)
        self.set_creator("sirefund")
        self.set_creation_date(printed_at)
        self.add_page()

    def heading(self, title: str, document_no: str) -> None:
        self.set_font(_FAMILY, size=_TITLE_SIZE)
        self.cell(0, 12, title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font(_FAMILY, size=_TEXT_SIZE)
        self.cell(0, 8, f"文书号：{document_no}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def rows(self, rows: list[tuple[str, str]]) -> None:
        self.set_font(_FAMILY, size=_TEXT_SIZE)
        with self.table(
            col_widths=(_LABEL_WIDTH, self.epw - _LABEL_WIDTH),
            first_row_as_headings=False,
            line_height=7,
            padding=1.5,
        ) as table:
            for label, value in rows:
                row = table.row()
                row.cell(label)
                row.cell(value)
        self.ln(4)

    def paragraph(self, text: str) -> None:
        self.set_font(_FAMILY, size=_TEXT_SIZE)
        self.multi_cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.ln(2)

    def issuer(self, doc: RefundDocument, printed_at: datetime) -> None:
        self.ln(6)
        self.set_font(_FAMILY, size=_TEXT_SIZE)
        self.cell(
            0, 7, f"税务机关：{doc.tax_bureau}", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.cell(
            0,
            7,
            f"打印日期：{_day(printed_at.astimezone(CHINA_TZ).date())}",
            align="R",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.ln(4)
        self.set_font(_FAMILY, size=_SMALL_SIZE)
        self.multi_cell(
            0,
            5,
            "本文书由系统生成，证件号码、银行账号已作脱敏处理。可凭文书号在办税服务厅查验。",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )


def _common_rows(doc: RefundDocument) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if doc.unit_name is not None:
        rows += [("申请单位", doc.unit_name), ("纳税人识别号", doc.unit_tax_id or "—")]
    year_label = "参保年度" if doc.kind == ApplicationKind.MEDICAL else "缴费年度"
    rows += [
        ("缴费人", doc.payer_name),
        ("证件号码", doc.payer_id_number_masked),
        ("征收项目", doc.item_name),
        ("票证号码" if doc.kind == ApplicationKind.MEDICAL else "缴费记录", doc.payment_ref),
        ("税款所属期", f"{_day(doc.period_start)} 至 {_day(doc.period_end)}"),
        (year_label, str(doc.payment_year)),
        ("退费金额（小写）", f"¥{format_yuan(doc.amount_fen)}元"),
        ("退费金额（大写）", f"人民币{doc.amount_in_capitals}"),
        ("退费账户户名", doc.bank_account_name or "—"),
        ("退费账号", doc.bank_account_masked or "—"),
        ("开户银行", doc.bank_name or "—"),
        ("申请渠道", doc.channel.label),
        ("申请时间", _instant(doc.submitted_at)),
    ]
    return rows


def receipt_pdf(doc: RefundDocument, *, font: Path, printed_at: datetime) -> bytes:
    """受理回执: the application was received; what happens next and by when."""
    title = "城乡居民社会保险费退费受理回执"
    pdf = _Document(font, doc, title=title, printed_at=printed_at)
    pdf.heading(title, doc.document_no)
    applicant = doc.unit_name or doc.payer_name
    pdf.paragraph(
        f"{applicant}：您于{_day(doc.submitted_on)}提交的城乡居民社会保险费退费申请已收到，"
        "现予受理。申请内容如下："
    )
    pdf.rows(_common_rows(doc))
    pdf.paragraph(
        f"后续办理：税务机关自受理之日起30个工作日内（{_day(doc.review_deadline)}前）完成审核；"
        f"审核通过后，由{doc.checking_agency}核验，核验通过后退费款项退至上述账户。"
        "审核或核验不通过的，将告知原因。办理进度可在电子税务局或楚税通“退费进度查询”中查看。"
    )
    pdf.issuer(doc, printed_at)
    return bytes(pdf.output())


def certificate_pdf(doc: RefundDocument, *, font: Path, printed_at: datetime) -> bytes:
    """退费凭证: the refund was paid, to which account and when."""
    title = "城乡居民社会保险费退费凭证"
    pdf = _Document(font, doc, title=title, printed_at=printed_at)
    pdf.heading(title, doc.document_no)
    rows = _common_rows(doc)
    rows += [("退费日期", _day(doc.refund_date)), ("银行退付结果", doc.bank_result or "退付成功")]
    pdf.rows(rows)
    pdf.paragraph(
        f"经审核，上述城乡居民社会保险费已于{_day(doc.refund_date)}退付至上述账户，特此证明。"
    )
    pdf.issuer(doc, printed_at)
    return bytes(pdf.output())
