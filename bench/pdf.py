"""Benchmark: seed-loan contracts per second, the product's renderer against two other ways of writing them.

The same ``--contracts`` seed loans (a borrower, an agent bank, a monthly schedule of ``--instalments``
lines: a two-page contract) are rendered three ways, each after a warm-up, on the same machine in the
same run:

* **product** - ``funds.pdf.render_seed_contract`` (core.pdf: one layout pass, mixed CJK/Latin fonts,
  justified running text, tables, signature and seal blocks, page x of y);
* **raw canvas** - the physical limit: reportlab canvas code writing the contract's text lines at fixed
  positions in the same CJK font (``STSong-Light``), lines cut by character count, no tables, no
  justification, no Latin runs. It is handed the contract's text already composed (the product's story,
  read once before the clock starts), so it measures nothing but putting the lines on the pages;
* **HTML** - WeasyPrint (what many Flask teams pick) rendering the same text through an HTML template
  (``bench/pdf_contract.html``, Jinja) with print CSS (A4 margins, running header and footer with page x
  of y). A PDF from HTML has to embed a real font file: it uses the system's CJK font (WenQuanYi Zen Hei
  here), subset into every document.

It prints contracts per second for each and the product's rate as a share of the raw canvas rate
(target >= 0.6) and as a multiple of WeasyPrint's (target >= 15x):

    .venv/bin/python bench/pdf.py                        # 200 contracts each
    .venv/bin/python bench/pdf.py --contracts 50 --html-contracts 10
    make bench NAME=pdf ARGS="--contracts 500"
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("APP_ENV", "development")

from flask_babel import force_locale  # noqa: E402
from jinja2 import Environment, FileSystemLoader  # noqa: E402
from pypdf import PdfReader  # noqa: E402
from reportlab.lib.pagesizes import A4  # noqa: E402
from reportlab.pdfgen import canvas as pdfcanvas  # noqa: E402
from reportlab.platypus import CondPageBreak, Spacer, Table  # noqa: E402

from config import create_app  # noqa: E402
from core import clock, pdf  # noqa: E402
from funds import pdf as funds_pdf  # noqa: E402
from funds.models import SeedInstalment, SeedLoan  # noqa: E402
from funds.schedule import add_months, build_schedule  # noqa: E402
from parties.credit_code import credit_code_check_char  # noqa: E402
from parties.models import Bank, Enterprise  # noqa: E402

HERE = Path(__file__).resolve().parent
GENERATED_AT = datetime(2026, 12, 1, 2, 30, tzinfo=timezone.utc)
TOWNS = ("城关镇", "青山镇", "河口街道", "东岭乡")


# ------------------------------------------------------------------------------------------ inputs


def seed_loans(count: int, instalments: int) -> list[SeedLoan]:
    """``count`` disbursed seed loans (transient objects: rendering reads no database)."""
    banks = [Bank(id=b, name=f"县第{b}农村商业银行", code=f"BK{b}") for b in range(1, 4)]
    loans = []
    for n in range(1, count + 1):
        first17 = f"91330100MA{n:07d}"
        enterprise = Enterprise(id=n, name=f"青山智能装备第{n}有限公司", credit_code=first17 + credit_code_check_char(first17),
                                town=TOWNS[n % len(TOWNS)])
        principal = Decimal(100_000 + 10_000 * (n % 21))
        contracted = date(2025, 1 + n % 12, 1 + n % 27)
        disbursed = contracted.replace(day=min(contracted.day + 3, 28))
        plan = build_schedule(principal, instalments, "monthly", disbursed)
        loan = SeedLoan(
            id=n, contract_no=f"ZZJK-2025-{n:04d}", principal=principal, term_months=instalments,
            repayment="monthly", purpose="研发设备购置及试制", contracted_on=contracted, disbursed_on=disbursed,
            maturity_date=add_months(disbursed, instalments), enterprise=enterprise, agent_bank=banks[n % 3],
        )
        loan.instalments = [SeedInstalment(seq=seq, due_on=due_on, principal=amount)
                            for seq, (due_on, amount) in enumerate(plan, start=1)]
        loans.append(loan)
    return loans


@dataclass
class Contract:
    """A contract's text as composed by the product, for the two other renderers."""

    title: str
    number: str
    blocks: list[tuple[str, Any]]  # (kind, payload) in reading order


def _cell_text(cell: Any) -> str:
    return cell if isinstance(cell, str) else getattr(cell, "text", "")


def composed(loan: SeedLoan) -> Contract:
    """The contract's story flattened to text blocks (read before timing: the others get it for free)."""
    blocks: list[tuple[str, Any]] = []
    for flowable in funds_pdf._contract_story(loan):
        kind = type(flowable).__name__
        if kind == "_Line":
            blocks.append(("title" if flowable.size >= 16 else "heading", flowable.text))
        elif kind == "_TextBlock":
            blocks.append((flowable.style.name, flowable.text))
        elif isinstance(flowable, Table):
            rows = [[_cell_text(cell) for cell in row] for row in flowable._cellvalues]
            blocks.append(("table" if flowable.repeatRows else "fields", rows))
        elif kind == "_SignatureBlock":
            parties = [(p.role, p.name, p.signer) for p in flowable.parties]
            blocks.append(("signatures", (parties, pdf.chinese_date(flowable.signed_on))))
        elif isinstance(flowable, (Spacer, CondPageBreak)):
            continue
        else:
            raise TypeError(f"unexpected flowable {kind}")
    return Contract(funds_pdf.contract_title(loan), loan.contract_no, blocks)


# ------------------------------------------------------------------------------------- raw canvas

PAGE_WIDTH, PAGE_HEIGHT = A4
LEFT, RIGHT = pdf.MARGIN_X, PAGE_WIDTH - pdf.MARGIN_X
TOP, BOTTOM = PAGE_HEIGHT - pdf.MARGIN_TOP, pdf.MARGIN_BOTTOM
SIZES = {"title": 20, "heading": 12, "subtitle": 10.5, "body": 10.5, "plain": 10.5, "clause": 10.5, "note": 8.5,
         "table": 8.5, "fields": 8.5, "signatures": 10.5}


def _cut(text: str, size: float, width: float) -> list[str]:
    per_line = max(1, int(width // size))
    return [text[i:i + per_line] for i in range(0, len(text), per_line)] or [""]


def raw_contract(contract: Contract) -> bytes:
    """The contract's lines at fixed positions, one font, straight onto a reportlab canvas."""
    lines: list[tuple[int, float, float, float, str]] = []  # page, x, y, size, text
    page, y = 0, TOP

    def put(x: float, size: float, text: str, leading: float) -> None:
        nonlocal page, y
        if y - leading < BOTTOM:
            page, y = page + 1, TOP
        y -= leading
        lines.append((page, x, y, size, text))

    width = RIGHT - LEFT
    for kind, payload in contract.blocks:
        size = SIZES[kind]
        if kind in ("table", "fields"):
            columns = len(payload[0])
            column_width = width / columns
            for row in payload:
                put(LEFT, size, "", size * 1.6)
                for index, cell in enumerate(row):
                    lines.append((page, LEFT + index * column_width + 3, y, size, cell[: int(column_width // size)]))
        elif kind == "signatures":
            parties, signed_on = payload
            column_width = width / len(parties)
            for row in range(5):
                put(LEFT, size, "", size * 2.2)
                for index, (role, name, signer) in enumerate(parties):
                    text = (f"{role}：", name, "（盖章）", f"{signer}：", f"日期：{signed_on}")[row]
                    lines.append((page, LEFT + index * column_width, y, 9, text[: int(column_width // 9)]))
        else:
            for text in _cut(payload, size, width):
                put(LEFT, size, text, size * 1.6)
    total = page + 1
    buffer = io.BytesIO()
    canvas = pdfcanvas.Canvas(buffer, pagesize=A4)
    canvas.setTitle(contract.title)
    current = 0
    for number in range(total):
        canvas.setFont(pdf.FONT, 8.5)
        canvas.drawString(LEFT, PAGE_HEIGHT - 40, pdf.PLATFORM_NAME)
        canvas.drawRightString(RIGHT, PAGE_HEIGHT - 40, contract.title)
        canvas.drawCentredString(PAGE_WIDTH / 2, 34, f"第 {number + 1} 页 共 {total} 页")
        canvas.drawRightString(RIGHT, 34, f"文件编号：{contract.number}")
        size = 0.0
        while current < len(lines) and lines[current][0] == number:
            _, x, line_y, line_size, text = lines[current]
            if line_size != size:
                canvas.setFont(pdf.FONT, line_size)
                size = line_size
            canvas.drawString(x, line_y, text)
            current += 1
        canvas.showPage()
    canvas.save()
    return buffer.getvalue()


# -------------------------------------------------------------------------------------------- HTML


def html_renderer() -> Callable[[Contract], bytes]:
    from weasyprint import HTML  # imported here: only this benchmark needs it

    template = Environment(loader=FileSystemLoader(HERE), autoescape=True).get_template("pdf_contract.html")
    generated = GENERATED_AT.astimezone(clock.BUSINESS_TZ).strftime("%Y-%m-%d %H:%M:%S")

    def render(contract: Contract) -> bytes:
        html = template.render(contract=contract, issuer=pdf.PLATFORM_NAME, generated=generated)
        return HTML(string=html).write_pdf()

    return render


# ------------------------------------------------------------------------------------------- timing


def timed(render: Callable[[Any], bytes], inputs: list) -> tuple[float, int]:
    """Seconds to render ``inputs`` one after the other, and the bytes written."""
    sizes = 0
    began = time.perf_counter()
    for item in inputs:
        sizes += len(render(item))
    return time.perf_counter() - began, sizes


def interleaved(sides: dict[str, tuple[Callable[[Any], bytes], list]], rounds: int, warm_up: int) -> dict[str, float]:
    """Contracts per second of each side, the sides taking turns over ``rounds`` slices of their inputs.

    Taking turns in small slices spreads the load of other work on a shared machine over every side
    alike, so the ratios hold even when the absolute rates drift.
    """
    for render, inputs in sides.values():
        for item in inputs[:warm_up]:
            render(item)
    seconds = dict.fromkeys(sides, 0.0)
    sizes = dict.fromkeys(sides, 0)
    for index in range(rounds):
        for label, (render, inputs) in sides.items():
            spent, written = timed(render, inputs[index::rounds])
            seconds[label] += spent
            sizes[label] += written
    rates = {}
    for label, (_render, inputs) in sides.items():
        rates[label] = len(inputs) / seconds[label]
        print(f"  {label:<12} {len(inputs):>5} contracts in {seconds[label]:6.2f} s: {rates[label]:8.1f} contracts/s "
              f"({1000 * seconds[label] / len(inputs):6.1f} ms each, {sizes[label] / len(inputs) / 1024:5.1f} KiB)",
              flush=True)
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=int, default=200, help="contracts rendered by the product and raw canvas")
    parser.add_argument("--html-contracts", type=int, default=None,
                        help="contracts rendered by WeasyPrint (default: --contracts; fewer keeps the run short)")
    parser.add_argument("--instalments", type=int, default=12, help="schedule lines per contract")
    parser.add_argument("--warm-up", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10, help="slices the sides take turns over")
    parser.add_argument("--skip-html", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        app = create_app("development", SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder}/bench.db", SQLALCHEMY_ENGINE_OPTIONS={})
        with app.app_context(), force_locale("zh"):
            loans = seed_loans(args.contracts, args.instalments)
            contracts = [composed(loan) for loan in loans]
            pages = len(PdfReader(io.BytesIO(funds_pdf.render_seed_contract(loans[0]))).pages)
            print(f"seed-loan contracts: {args.contracts}, {args.instalments} instalments, {pages} pages each "
                  f"(warm-up {args.warm_up} each)")
            sides = {
                "product": (lambda loan: funds_pdf.render_seed_contract(loan, generated_at=GENERATED_AT), loans),
                "raw canvas": (raw_contract, contracts),
            }
            if not args.skip_html:
                sides["WeasyPrint"] = (html_renderer(), contracts[: args.html_contracts or args.contracts])
            rates = interleaved(sides, args.rounds, args.warm_up)
            print(f"  product / raw canvas: {rates['product'] / rates['raw canvas']:.2f} (target >= 0.6)")
            if not args.skip_html:
                print(f"  product / WeasyPrint: {rates['product'] / rates['WeasyPrint']:.1f} x (target >= 15 x)")

if __name__ == "__main__":
    main()
