"""Every document kind, rendered from a real programme and read back: the text a reader finds in the PDF
(pypdf), the SHA-256 of the downloaded bytes, and page 1 as an image in artifacts/documents/."""
from __future__ import annotations

import hashlib
from decimal import Decimal

import sqlalchemy as sa

from config import documents_jobs
from core.db import db
from core.documents.models import Document
from core.money import to_chinese_capitals
from funds.models import SeedLoan
from risk.models import RiskClaim
from tests.documents.conftest import PERIOD, flat, pdf_pages, pdf_text, run_in_app, save_first_page

D = Decimal


def _documents(app, **where) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(sa.select(Document).filter_by(**where).order_by(Document.id)).all()
        return [{"id": d.id, "title": d.title, "sha256": d.sha256, "bank_id": d.bank_id, "version": d.version,
                 "number": d.number, "period": d.period} for d in rows]


def _download(client, headers, document_id: int) -> bytes:
    response = client.get(f"/api/v1/documents/{document_id}/pdf", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    return response.get_data()


def test_the_contract_names_its_number_parties_and_amount_in_capitals(app, client, world):
    issued = run_in_app(app, documents_jobs.render_missing_documents)
    assert issued == 2  # the seed loan's contract and the approved claim's notice

    (contract,) = _documents(app, kind="contract")
    assert world.contract_no in contract["title"]
    data = _download(client, world.seed.auditor.headers, contract["id"])
    assert hashlib.sha256(data).hexdigest() == contract["sha256"]

    text = flat(pdf_text(data))
    assert world.contract_no in text
    assert "人民币叁拾万元整" in text and "¥300,000.00" in text
    assert to_chinese_capitals(D("300000.00")) == "人民币叁拾万元整"
    assert "青山智能装备有限公司" in text  # the borrower
    assert "县农村商业银行（代理行）" in text  # the agent bank
    assert "创业种子基金管理人" in text  # the lender
    for words in ("免息", "年利率为零", "还款计划", "借款用途", "违约责任", "（盖章）", "甲方（出借人）", "乙方（借款人）", "丙方（受托银行）"):
        assert words in text, words
    # Twelve instalments of 25,000.00, from a month after the disbursement on 2025-06-24.
    assert "2025-07-24" in text and "2026-06-24" in text and "25,000.00" in text
    pages = pdf_pages(data)
    assert all(f"第{n}页共{len(pages)}页" in flat(page) for n, page in enumerate(pages, start=1))
    save_first_page(data, "contract")


def test_a_contract_made_before_disbursement_shows_the_planned_schedule(app, client, api_as):
    from tests.funds.conftest import SeedApi, eligible_enterprise

    seed = SeedApi(app, client, api_as)
    seed.contribute("1000000.00")
    loan_id = seed.contracted_loan(eligible_enterprise(app), amount="120000.00", term=6, repayment="bullet")
    run_in_app(app, documents_jobs.render_missing_documents)
    (contract,) = _documents(app, kind="contract")
    text = flat(pdf_text(_download(client, seed.auditor.headers, contract["id"])))
    assert "人民币壹拾贰万元整" in text
    assert "自丙方实际放款之日起算" in text and "按合同签订日预排" in text
    assert "2025-12-23" in text  # 6 months after the contract date 2025-06-23, in one payment
    with app.app_context():
        assert db.session.get(SeedLoan, loan_id).disbursed_on is None


def test_the_compensation_notice_states_each_share_in_figures_and_capitals(app, client, world):
    run_in_app(app, documents_jobs.render_missing_documents)
    (notice,) = _documents(app, kind="compensation_notice")
    with app.app_context():
        claim = db.session.get(RiskClaim, world.claim_id)
        assert claim.notice_pending is False
        shares = (claim.principal, claim.pool_share, claim.bank_share, claim.city_share, claim.county_share)
        contract_no, bank_name = claim.loan.contract_no, claim.bank.name
        assert notice["bank_id"] == claim.bank_id
    assert shares == (D("1000000.00"), D("800000.00"), D("200000.00"), D("320000.00"), D("480000.00"))
    data = _download(client, world.risk.auditor.headers, notice["id"])
    assert hashlib.sha256(data).hexdigest() == notice["sha256"]
    text = flat(pdf_text(data))
    assert contract_no in text and bank_name in text and notice["number"] in text
    for amount in shares:
        assert to_chinese_capitals(amount) in text, amount
    for words in ("代偿通知书", "市级资金", "县级资金", "合作银行承担", "80.00%", "40.00%", "60.00%", "已于2025年12月31日",
                  "划付贵行", "（盖章）"):
        assert words in text, words
    save_first_page(data, "compensation_notice")


def test_a_second_run_issues_nothing_new(app, world):
    assert run_in_app(app, documents_jobs.render_missing_documents) == 2
    assert run_in_app(app, documents_jobs.render_missing_documents) == 0
    assert len(_documents(app)) == 2


def test_monthly_statements_for_every_bank_both_funds_and_the_progress_report(app, client, world):
    issued = run_in_app(app, documents_jobs.generate_monthly_statements, PERIOD)
    docs = _documents(app)
    kinds = sorted(d["title"] for d in docs)
    assert issued == len(docs) >= 4
    auditor = world.risk.auditor.headers

    with app.app_context():
        claim = db.session.get(RiskClaim, world.claim_id)
        bank_id, bank_name, contract_no = claim.bank_id, claim.bank.name, claim.loan.contract_no
    (bank_doc,) = [d for d in _documents(app, kind="bank_statement") if d["bank_id"] == bank_id]
    assert bank_name in bank_doc["title"] and PERIOD in bank_doc["title"], kinds
    data = _download(client, auditor, bank_doc["id"])
    text = flat(pdf_text(data))
    for words in (bank_name, contract_no, "期初贷款余额", "期末贷款余额", "本期放款", "本期还款", "期末逾期分布", "次级",
                  "风险补偿代偿与追偿", "800,000.00", "已批准并支付", "¥1,000,000.00（人民币壹佰万元整）",
                  "编制单位", "合作银行核对", "（盖章）"):
        assert words in text, words
    save_first_page(data, "bank_statement")

    seed_doc, pool_doc = _documents(app, kind="fund_statement")
    seed_text = flat(pdf_text(_download(client, auditor, seed_doc["id"])))
    assert "创业种子基金" in seed_doc["title"] and PERIOD in seed_doc["title"]
    for words in ("期初银行存款", "期末银行存款", "科目余额表", "资金收支明细", "种子基金银行存款", "期初余额", "期末余额"):
        assert words in seed_text, words
    # Over the months with movements: paid in 2025-05-01, lent 2025-06-24, first instalment back 2025-07-24.
    response = client.post("/api/v1/statements", json={"fund": "seed", "start": "2025-05-01", "end": "2025-07-31"},
                           headers=auditor)
    assert response.status_code == 201, response.get_data(as_text=True)
    moved = _download(client, auditor, response.get_json()["id"])
    moved_text = flat(pdf_text(moved))
    for words in ("¥0.00", "¥1,025,000.00", "¥300,000.00", "¥725,000.00", "人民币柒拾贰万伍仟元整", world.contract_no,
                  "青山智能装备有限公司", "2025-06-24", "2025-07-24", "放款", "还款"):
        assert words in moved_text, words
    save_first_page(moved, "fund_statement_seed")

    pool_data = _download(client, auditor, pool_doc["id"])
    pool_text = flat(pdf_text(pool_data))
    assert "风险补偿资金池" in pool_doc["title"]
    # The pool paid 800,000.00 today: cash 1,000,000.00 -> 200,000.00, city 320,000.00 and county 480,000.00.
    for words in ("市县资金归属", "本期代偿支付", "1,000,000.00", "200,000.00", "320,000.00", "480,000.00", contract_no,
                  "人民币贰拾万元整"):
        assert words in pool_text, words
    save_first_page(pool_data, "fund_statement_pool")

    (progress,) = _documents(app, kind="progress")
    progress_data = _download(client, auditor, progress["id"])
    progress_text = flat(pdf_text(progress_data))
    assert "项目进度报告" in progress_text and "累计放款与目标" in progress_text and "按合作银行" in progress_text
    assert "¥300,000,000.00" in progress_text  # the target
    save_first_page(progress_data, "progress")


def test_a_multi_page_statement_numbers_its_pages_and_repeats_the_table_header(app, client, api_as):
    from tests.factories import BankFactory, LoanFactory

    with app.app_context():
        bank = BankFactory(name="长江村镇银行")
        for n in range(70):
            LoanFactory(bank=bank, contract_no=f"CJ2025-{n:04d}", overdue=True)
        db.session.commit()
        bank_id = bank.id
    _user, auditor = api_as("auditor")
    response = client.post("/api/v1/statements", json={"bank_id": bank_id, "start": "2025-12-01", "end": "2025-12-31"},
                           headers=auditor)
    assert response.status_code == 201, response.get_data(as_text=True)
    data = _download(client, auditor, response.get_json()["id"])
    pages = pdf_pages(data)
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"第{number}页共{len(pages)}页" in flat(page)
    # The loans' table spans pages: its header row is printed again on the next page.
    spanning = [n for n, page in enumerate(pages) if "CJ2025-0069" in page or "CJ2025-0040" in page]
    assert spanning and all("合同编号" in pages[n] and "贷款余额（元）" in flat(pages[n]) for n in spanning)
    assert "CJ2025-0000" in pdf_text(data) and "CJ2025-0069" in pdf_text(data)
    # 70 loans of 1,000,000.00 past maturity (2026-02-28 is later: they are current on 2025-12-31).
    assert "70,000,000.00" in pdf_text(data)
    save_first_page(data, "bank_statement_multipage")


def test_pdf_content_is_chinese_even_for_an_english_interface(app, client, world):
    _user, auditor = world.risk.auditor.user, world.risk.auditor.headers
    response = client.post(
        "/api/v1/statements", json={"bank_id": world.risk.bank_id, "start": "2025-11-01", "end": "2025-11-30"},
        headers={**auditor, "Accept-Language": "en"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    text = flat(pdf_text(_download(client, auditor, response.get_json()["id"])))
    assert "次级" in text and "Substandard" not in text
