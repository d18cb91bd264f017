"""Programme progress (issue 3 item 7): exact sums by year, bank, town, industry and grade, the opening
figure counted or not, the percentage, the trailing-12-month projection, a constant number of
statements whatever the number of loans, the API (and its OpenAPI entry) and the dashboard page."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.db import db
from core.policy.models import DEFAULT_POLICY, Policy
from loans.models import Disbursement
from loans.progress import (
    for_bank,
    one_year_before,
    percent_of,
    program_progress,
    program_timeline,
    project_completion,
)
from parties.models import Bank
from tests.factories import BankFactory, EnterpriseFactory, LoanFactory, RatingFactory

AS_OF = date(2024, 12, 31)
OPENING = Decimal("113558000.00")
TARGET = Decimal("300000000.00")


def tranche(loan, amount: str, on: date) -> Disbursement:
    """A disbursement row written directly (the aggregates are under test, not the service)."""
    row = Disbursement(
        loan_id=loan.id, bank_id=loan.bank_id, amount=Decimal(amount), disbursed_on=on, bank_ref=f"REF-{loan.id}-{on}-{amount}"
    )
    db.session.add(row)
    db.session.flush()
    return row


def add_policy(effective_from: date, **changes) -> Policy:
    policy = Policy(**{**DEFAULT_POLICY, "effective_from": effective_from, **changes})
    db.session.add(policy)
    db.session.flush()
    return policy


@dataclass
class Book:
    bank1_id: int
    bank2_id: int
    bank1_name: str
    bank2_name: str


def arrange_book() -> Book:
    """Three enterprises, two banks, eight tranches (one after AS_OF). Grades on each tranche's day:

    t1 2022-03-01 1,000,000.00 A (valid)   t2 2022-12-31 250,000.25 A (valid)
    t3 2023-06-01 100.00 C (rated that very day)   t4 2023-07-01 500,000.50 C
    t5 2021-08-15 2,000,000.00 unrated     t6 2024-02-29 300,000.00 unrated
    t7 2022-06-01 800,000.00 B (expired: the latest rating on or before; a later D does not count)
    t8 2025-01-05 999,999.99 after AS_OF
    """
    bank1 = BankFactory(code="JIA", name="甲银行")
    bank2 = BankFactory(code="YI", name="乙银行")
    ent_a = EnterpriseFactory(town="城关镇", industry="软件和信息技术服务业", is_high_tech=True)
    ent_b = EnterpriseFactory(town="东城街道", industry="制造业")
    ent_c = EnterpriseFactory(town="城关镇", industry="制造业")
    EnterpriseFactory(is_science_tech=False, is_high_tech=False)  # not counted by the indicators
    EnterpriseFactory(registered_on=date(2025, 3, 1), is_high_tech=True)  # registered after AS_OF
    RatingFactory(enterprise=ent_a, grade="A", rated_on=date(2022, 1, 10), credit_line=Decimal("5000000.00"))
    RatingFactory(enterprise=ent_a, grade="C", rated_on=date(2023, 6, 1), credit_line=Decimal("3000000.00"))
    RatingFactory(enterprise=ent_c, grade="B", rated_on=date(2021, 5, 1))
    RatingFactory(enterprise=ent_c, grade="D", rated_on=date(2024, 1, 1), credit_line=Decimal("1600000.00"))
    principal = Decimal("5000000.00")
    loan1 = LoanFactory(bank=bank1, enterprise=ent_a, principal=principal)
    loan2 = LoanFactory(bank=bank2, enterprise=ent_b, principal=principal)
    loan3 = LoanFactory(bank=bank1, enterprise=ent_c, principal=principal)
    tranche(loan1, "1000000.00", date(2022, 3, 1))
    tranche(loan1, "250000.25", date(2022, 12, 31))
    tranche(loan1, "100.00", date(2023, 6, 1))
    tranche(loan1, "500000.50", date(2023, 7, 1))
    tranche(loan2, "2000000.00", date(2021, 8, 15))
    tranche(loan2, "300000.00", date(2024, 2, 29))
    tranche(loan3, "800000.00", date(2022, 6, 1))
    tranche(loan3, "999999.99", date(2025, 1, 5))
    return Book(bank1.id, bank2.id, bank1.name, bank2.name)


def lines(breakdown) -> list[tuple[str, str, Decimal, int | None, int | None]]:
    return [(line.key, line.label, line.amount, line.disbursements, line.enterprises) for line in breakdown]


def shares(breakdown) -> dict[str, str]:
    return {line.key: str(line.share) for line in breakdown}


# ----------------------------------------------------------------------------------- the figures


def test_totals_and_percent_include_the_opening_figure(app_ctx):
    arrange_book()
    progress = program_progress(AS_OF)
    assert progress.target == TARGET and progress.target_date == date(2025, 12, 31)
    assert progress.opening == OPENING and progress.opening_counted and progress.opening_enterprises == 71
    assert progress.disbursed == Decimal("4850100.75")
    assert (progress.disbursements, progress.enterprises) == (7, 3)
    assert progress.cumulative_disbursed == Decimal("118408100.75")
    assert progress.remaining == Decimal("181591899.25")
    assert str(progress.percent) == "39.47"
    assert not progress.target_reached


def test_by_year_puts_the_opening_first_and_sums_each_calendar_year(app_ctx):
    arrange_book()
    progress = program_progress(AS_OF)
    assert lines(progress.by_year) == [
        ("opening", "2020年及以前", OPENING, None, 71),
        ("2021", "2021年", Decimal("2000000.00"), 1, 1),
        ("2022", "2022年", Decimal("2050000.25"), 3, 2),
        ("2023", "2023年", Decimal("500100.50"), 2, 1),
        ("2024", "2024年", Decimal("300000.00"), 1, 1),
    ]
    assert sum(line.amount for line in progress.by_year) == progress.cumulative_disbursed
    assert shares(progress.by_year) == {"opening": "95.90", "2021": "1.69", "2022": "1.73", "2023": "0.42", "2024": "0.25"}


def test_by_bank_town_and_industry_are_exact(app_ctx):
    book = arrange_book()
    progress = program_progress(AS_OF)
    assert lines(progress.by_bank) == [
        ("JIA", book.bank1_name, Decimal("2550100.75"), 5, 2),
        ("YI", book.bank2_name, Decimal("2300000.00"), 2, 1),
    ]
    assert shares(progress.by_bank) == {"JIA": "52.58", "YI": "47.42"}
    assert lines(progress.by_town) == [
        ("城关镇", "城关镇", Decimal("2550100.75"), 5, 2),
        ("东城街道", "东城街道", Decimal("2300000.00"), 2, 1),
    ]
    assert lines(progress.by_industry) == [
        ("制造业", "制造业", Decimal("3100000.00"), 3, 2),
        ("软件和信息技术服务业", "软件和信息技术服务业", Decimal("1750100.75"), 4, 1),
    ]
    for breakdown in (progress.by_bank, progress.by_town, progress.by_industry, progress.by_grade):
        assert sum(line.amount for line in breakdown) == progress.disbursed


def test_by_grade_uses_the_rating_of_the_disbursement_day(app_ctx):
    arrange_book()
    progress = program_progress(AS_OF)
    assert lines(progress.by_grade) == [
        ("A", "A级", Decimal("1250000.25"), 2, 1),
        ("B", "B级", Decimal("800000.00"), 1, 1),
        ("C", "C级", Decimal("500100.50"), 2, 1),
        ("unrated", "未评级", Decimal("2300000.00"), 2, 1),
    ]
    assert shares(progress.by_grade) == {"A": "25.77", "B": "16.49", "C": "10.31", "unrated": "47.42"}


def test_figures_are_as_of_the_day_asked(app_ctx):
    arrange_book()
    progress = program_progress(date(2022, 6, 1))  # t7 is on that day: included
    assert progress.disbursed == Decimal("3800000.00")
    assert [line.key for line in progress.by_year] == ["opening", "2021", "2022"]
    later = program_progress(date(2025, 1, 5))
    assert later.disbursed == Decimal("5850100.74")
    assert later.by_year[-1].key == "2025"


def test_registry_indicators_count_flagged_enterprises_against_the_policy(app_ctx):
    arrange_book()
    indicators = program_progress(AS_OF).indicators
    science, high = indicators["science_tech"], indicators["high_tech"]
    assert (science.label, science.count, science.baseline, science.target) == ("科技型企业", 3, 216, 350)
    assert (high.label, high.count, high.baseline, high.target) == ("高新技术企业", 1, 24, 100)
    assert (str(science.percent), str(high.percent)) == ("0.86", "1.00")


def test_the_opening_does_not_count_under_a_policy_that_says_so(app_ctx):
    arrange_book()
    add_policy(date(2024, 1, 1), count_opening_toward_target=False, note="期初数不计入")
    progress = program_progress(AS_OF)
    assert not progress.opening_counted
    assert progress.opening == OPENING  # still reported, for the page to explain
    assert progress.cumulative_disbursed == progress.disbursed == Decimal("4850100.75")
    assert str(progress.percent) == "1.62"
    assert [line.key for line in progress.by_year] == ["2021", "2022", "2023", "2024"]
    assert sum(line.amount for line in progress.by_year) == progress.cumulative_disbursed
    # A day before the new version: the earlier policy, which counts the opening.
    assert program_progress(date(2023, 12, 31)).cumulative_disbursed == OPENING + Decimal("4550100.75")


def test_the_timeline_accumulates_month_by_month_up_to_as_of(app_ctx):
    arrange_book()
    timeline = program_timeline(AS_OF)
    months = [point.month for point in timeline.items]
    assert months[0] == "2021-08" and months[-1] == "2024-12" and len(months) == 41
    by_month = {point.month: point for point in timeline.items}
    assert by_month["2021-08"].cumulative == OPENING + Decimal("2000000.00")
    assert by_month["2021-09"].disbursed == Decimal("0.00")
    assert by_month["2022-12"].disbursed == Decimal("250000.25")
    assert timeline.items[-1].cumulative == program_progress(AS_OF).cumulative_disbursed


# ----------------------------------------------------------------------------------- projection


def pace_book(*tranches: tuple[str, date]) -> None:
    loan = LoanFactory(principal=Decimal("900000000.00"))
    for amount, on in tranches:
        tranche(loan, amount, on)


def test_a_known_pace_gives_a_known_date(app_ctx):
    # Window [2022-07-01, 2023-06-30] = 365 days; 73,000,000.00 in it = 200,000.00 a day. The
    # tranche on 2022-06-30 itself is outside the window but inside the cumulative.
    pace_book(("10000000.00", date(2022, 6, 30)), ("73000000.00", date(2023, 1, 15)))
    progress = program_progress(date(2023, 6, 30))
    assert progress.trailing_12m_from == date(2022, 7, 1)
    assert progress.trailing_12m_disbursed == Decimal("73000000.00")
    assert progress.daily_pace == Decimal("200000.00")
    assert progress.cumulative_disbursed == Decimal("196558000.00")
    # 103,442,000.00 left ÷ 200,000.00 a day = 517.21 -> the 518th day.
    assert progress.projected_completion_date == date(2024, 11, 29) == progress.pace_completion_date
    assert progress.will_not_reach_by_deadline is False


def test_a_pace_too_slow_for_the_deadline_gives_no_date_and_the_flag(app_ctx):
    pace_book(("3650000.00", date(2023, 3, 1)))  # 10,000.00 a day: 50 years to go
    progress = program_progress(date(2023, 6, 30))
    assert progress.projected_completion_date is None
    assert progress.will_not_reach_by_deadline is True
    assert progress.pace_completion_date > date(2025, 12, 31)


def test_no_pace_gives_no_date_and_the_flag(app_ctx):
    pace_book(("5000000.00", date(2021, 3, 1)))  # nothing in the last 12 months
    progress = program_progress(date(2023, 6, 30))
    assert progress.trailing_12m_disbursed == Decimal("0.00") and progress.daily_pace == Decimal("0.00")
    assert progress.projected_completion_date is None and progress.pace_completion_date is None
    assert progress.will_not_reach_by_deadline is True


def test_a_target_already_reached_is_dated_today_and_not_flagged(app_ctx):
    add_policy(date(2023, 1, 1), program_target=Decimal("100000000.00"))
    progress = program_progress(date(2023, 6, 30))
    assert progress.target_reached and progress.remaining == Decimal("0.00")
    assert str(progress.percent) == "113.56"
    assert progress.projected_completion_date == date(2023, 6, 30)
    assert progress.will_not_reach_by_deadline is False


def test_the_deadline_comes_from_the_policy_in_force(app_ctx):
    pace_book(("73000000.00", date(2023, 1, 15)))
    add_policy(date(2023, 6, 1), program_target_date=date(2024, 6, 30))
    progress = program_progress(date(2023, 6, 30))
    assert progress.target_date == date(2024, 6, 30)
    assert progress.projected_completion_date is None and progress.will_not_reach_by_deadline


def test_projection_arithmetic():
    assert project_completion(as_of=date(2024, 1, 1), remaining=Decimal("1.00"), trailing=Decimal("366.00"), window_days=366) == date(2024, 1, 2)
    # Not a day early: 1.01 at 1.00 a day needs 2 days.
    assert project_completion(as_of=date(2024, 1, 1), remaining=Decimal("1.01"), trailing=Decimal("365.00"), window_days=365) == date(2024, 1, 3)
    assert project_completion(as_of=date(2024, 1, 1), remaining=Decimal("0.00"), trailing=Decimal("0.00"), window_days=365) == date(2024, 1, 1)
    assert project_completion(as_of=date(2024, 1, 1), remaining=Decimal("1.00"), trailing=Decimal("0.00"), window_days=365) is None
    assert project_completion(as_of=date(2024, 1, 1), remaining=Decimal("999999999.99"), trailing=Decimal("0.01"), window_days=365) is None
    assert one_year_before(date(2024, 2, 29)) == date(2023, 2, 28)
    assert one_year_before(date(2024, 12, 31)) == date(2023, 12, 31)
    assert str(percent_of(Decimal("1"), Decimal("3"))) == "33.33"
    assert str(percent_of(Decimal("2"), Decimal("3"))) == "66.67"
    assert str(percent_of(Decimal("1"), Decimal("0"))) == "0.00"


# ----------------------------------------------------------------------------------- performance


class StatementCounter:
    def __init__(self, connection):
        self.connection = connection
        self.count = 0

    def _count(self, *args, **kwargs):
        self.count += 1

    def __enter__(self):
        sa.event.listen(self.connection, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.connection, "before_cursor_execute", self._count)


def add_loans(count: int, banks: list, start: int) -> None:
    towns, industries, grades = ("城关镇", "东城街道", "西城街道"), ("制造业", "软件业"), ("A", "B", "C", "D", "E")
    for n in range(start, start + count):
        enterprise = EnterpriseFactory(town=towns[n % 3], industry=industries[n % 2])
        if n % 4:
            RatingFactory(enterprise=enterprise, grade=grades[n % 5], rated_on=date(2022, 1, 1) + timedelta(days=n))
        loan = LoanFactory(bank=banks[n % len(banks)], enterprise=enterprise)
        tranche(loan, "100000.00", date(2022, 1, 1) + timedelta(days=7 * n))
        tranche(loan, "50000.50", date(2023, 1, 1) + timedelta(days=5 * n))


def test_the_number_of_statements_does_not_grow_with_the_loans(app_ctx, db_connection):
    banks = [BankFactory(), BankFactory(), BankFactory()]
    add_loans(5, banks, 0)
    db.session.expire_all()
    with StatementCounter(db_connection) as few:
        small = program_progress(AS_OF)
        program_timeline(AS_OF)
    add_loans(45, banks, 5)
    db.session.expire_all()
    with StatementCounter(db_connection) as many:
        large = program_progress(AS_OF)
        program_timeline(AS_OF)
    assert small.disbursements == 10 and large.disbursements == 100
    assert large.disbursed == Decimal("7500025.00")
    assert few.count == many.count
    assert many.count <= 5, f"{many.count} statements: every aggregate belongs in SQL"


# ----------------------------------------------------------------------------------- the API


def arrange_committed(app) -> Book:
    with app.app_context():
        book = arrange_book()
        db.session.commit()
        return book


def test_api_answers_with_money_as_strings(app, client, api_as):
    arrange_committed(app)
    _user, headers = api_as("auditor")
    response = client.get("/api/v1/program/progress?as_of=2024-12-31", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["target"] == "300000000.00" and body["opening"] == "113558000.00" and body["opening_counted"] is True
    assert body["cumulative_disbursed"] == "118408100.75" and body["percent"] == "39.47"
    assert body["trailing_12m_disbursed"] == "300000.00"
    assert body["projected_completion_date"] is None and body["will_not_reach_by_deadline"] is True
    assert body["by_year"][0] == {
        "key": "opening", "label": "2020年及以前", "amount": "113558000.00", "share": "95.90", "disbursements": None, "enterprises": 71,
    }
    assert [(line["key"], line["amount"]) for line in body["by_bank"]] == [("JIA", "2550100.75"), ("YI", "2300000.00")]
    assert [line["key"] for line in body["by_grade"]] == ["A", "B", "C", "unrated"]
    assert {line["key"] for line in body["by_town"]} == {"城关镇", "东城街道"}
    assert {line["key"] for line in body["by_industry"]} == {"制造业", "软件和信息技术服务业"}
    assert body["indicators"]["science_tech"] == {"label": "科技型企业", "count": 3, "baseline": 216, "target": 350, "percent": "0.86"}
    assert body["indicators"]["high_tech"]["count"] == 1 and body["indicators"]["high_tech"]["target"] == 100


@pytest.mark.parametrize("role", ["admin", "fund_officer", "fund_manager", "auditor", "bank_liaison"])
def test_everyone_logged_in_may_read_the_progress(client, api_as, role):
    _user, headers = api_as(role)
    response = client.get("/api/v1/program/progress", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["target"] == "300000000.00"


def test_anonymous_callers_and_bad_dates_are_refused(client, api_as):
    assert client.get("/api/v1/program/progress").status_code == 401
    _user, headers = api_as("auditor")
    response = client.get("/api/v1/program/progress?as_of=2024-13-01", headers=headers)
    assert response.status_code == 422
    assert response.get_json()["code"] == 422
    # Before the first policy version there is no target to measure against.
    response = client.get("/api/v1/program/progress?as_of=2019-06-30", headers=headers)
    assert response.status_code == 409 and "没有生效的政策版本" in response.get_json()["message"]


def test_a_liaison_sees_its_own_bank_and_the_others_as_one_line(app, client, api_as):
    book = arrange_committed(app)
    with app.app_context():
        bank2 = db.session.get(Bank, book.bank2_id)
        db.session.expunge(bank2)
    _user, headers = api_as("bank_liaison", bank=bank2)
    body = client.get("/api/v1/program/progress?as_of=2024-12-31", headers=headers).get_json()
    assert [(line["key"], line["label"], line["amount"]) for line in body["by_bank"]] == [
        ("YI", book.bank2_name, "2300000.00"),
        ("others", "其他合作银行", "2550100.75"),
    ]
    assert body["by_bank"][1]["enterprises"] is None
    assert body["cumulative_disbursed"] == "118408100.75"  # the programme total stays whole
    assert book.bank1_name not in json.dumps(body, ensure_ascii=False)


def test_for_bank_without_a_bank_merges_everything(app_ctx):
    arrange_book()
    masked = for_bank(program_progress(AS_OF), None)
    assert [(line.key, line.amount) for line in masked.by_bank] == [("others", Decimal("4850100.75"))]


def test_timeline_api(app, client, api_as):
    arrange_committed(app)
    _user, headers = api_as("fund_manager")
    body = client.get("/api/v1/program/progress/timeline?as_of=2024-12-31", headers=headers).get_json()
    assert body["total"] == len(body["items"]) == 41
    assert body["items"][0] == {"month": "2021-08", "disbursed": "2000000.00", "cumulative": "115558000.00"}
    assert body["items"][-1]["cumulative"] == "118408100.75"
    assert body["target"] == "300000000.00" and body["opening_counted"] is True


def test_the_api_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/program/progress", "/api/v1/program/progress/timeline"):
        assert "get" in spec["paths"][path], path
    schemas = spec["components"]["schemas"]
    progress = schemas["ProgramProgress"]["properties"]
    for field in ("target", "opening", "cumulative_disbursed", "percent", "by_year", "by_bank", "by_town",
                  "by_industry", "by_grade", "projected_completion_date", "will_not_reach_by_deadline",
                  "trailing_12m_disbursed", "indicators"):
        assert field in progress, field
    assert progress["percent"]["type"] == "string" and progress["target"]["type"] == "string"
    assert {"ProgressBreakdown", "ProgressIndicators", "ProgressTimeline"} <= set(schemas)


# ----------------------------------------------------------------------------------- the page

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
CANVASES = ("chart-cumulative", "chart-year", "chart-bank", "chart-town", "chart-industry", "chart-grade")


def test_the_page_renders_in_chinese_with_its_charts_and_no_external_url(app, client, login_as):
    arrange_committed(app)
    login_as("fund_officer")
    response = client.get("/progress?as_of=2024-12-31")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html
    assert '<html lang="zh-CN">' in html and "项目进度" in html
    for canvas in CANVASES:
        assert f'<canvas id="{canvas}"' in html, canvas
    assert "/static/vendor/chartjs/chart.umd.min.js" in html and "/static/js/progress.js" in html
    assert not EXTERNAL.search(html), EXTERNAL.search(html).group(0)
    assert not INLINE_SCRIPT.search(html) and not STYLE_ATTRIBUTE.search(html)
    for text in ("累计已放款", "¥118,408,100.75", "39.47%", "2020年及以前", "¥113,558,000.00", "未评级", "A级",
                 "城关镇", "制造业", "甲银行", "¥2,550,100.75", "科技型企业", "高新技术企业", "无法按期达成"):
        assert text in html, text
    assert client.get("/static/js/progress.js").status_code == 200


def test_page_figures_equal_the_api(app, client, login_as, api_as):
    arrange_committed(app)
    _user, headers = api_as("auditor")
    body = client.get("/api/v1/program/progress?as_of=2024-12-31", headers=headers).get_json()
    login_as("auditor")
    html = client.get("/progress?as_of=2024-12-31").get_data(as_text=True)
    for line in body["by_year"] + body["by_bank"] + body["by_town"] + body["by_industry"] + body["by_grade"]:
        amount = f"¥{Decimal(line['amount']):,.2f}"
        assert re.search(rf'<tr data-key="{re.escape(line["key"])}">\s*<th[^>]*>{re.escape(line["label"])}</th>\s*'
                         rf'<td class="money">{re.escape(amount)}</td>\s*<td class="num">{line["share"]}%</td>', html), line
    assert f"{body['percent']}%" in html
    # The charts carry the same amounts (data-chart JSON, strings in yuan).
    assert '"values": ["113558000.00", "2000000.00", "2050000.25", "500100.50", "300000.00"]' in html


def test_a_liaison_page_never_names_another_bank(app, client, login_as):
    book = arrange_committed(app)
    with app.app_context():
        bank2 = db.session.get(Bank, book.bank2_id)
        db.session.expunge(bank2)
    login_as("bank_liaison", bank=bank2)
    html = client.get("/progress?as_of=2024-12-31").get_data(as_text=True)
    assert "其他合作银行" in html and book.bank2_name in html
    assert book.bank1_name not in html


def test_the_page_is_in_everyones_navigation_and_survives_a_bad_date(client, login_as):
    login_as("bank_liaison")
    response = client.get("/progress?as_of=yesterday")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "日期格式应为 YYYY-MM-DD" in html
    assert re.search(r'<a class="nav-link active" href="/progress"[^>]*>项目进度</a>', html)


def test_an_empty_programme_still_renders(client, login_as):
    login_as("admin")
    response = client.get("/progress")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "暂无放款记录" in html and "¥113,558,000.00" in html


# ----------------------------------------------------------------------------------- a real browser

PROJECT_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", PROJECT_ROOT / "artifacts"))


def chromium() -> str | None:
    for name in (os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def run_chromium(page: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--allow-file-access-from-files",
         "--window-size=1366,4200", "--virtual-time-budget=5000", "--enable-logging=stderr", "--v=0", *args, page.as_uri()],
        capture_output=True, text=True, timeout=120,
    )


@pytest.mark.skipif(chromium() is None, reason="no Chromium on this machine")
def test_the_charts_draw_in_a_real_browser(app, client, login_as, tmp_path):
    """The page as served, its /static/ files read from disk: every canvas is drawn, no script
    error, and a screenshot is kept in artifacts/ (ARTIFACTS_DIR) for people to look at."""
    arrange_committed(app)
    login_as("auditor")
    html = client.get("/progress?as_of=2024-12-31").get_data(as_text=True)
    page = tmp_path / "progress.html"
    page.write_text(html.replace('"/static/', f'"{(PROJECT_ROOT / "static").as_uri()}/'), encoding="utf-8")

    dom = run_chromium(page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-charts-ready="1"' in dom.stdout, dom.stderr[-2000:]
    for canvas in CANVASES:
        assert re.search(rf'<canvas id="{canvas}"[^>]*data-drawn="1"', dom.stdout), canvas
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    assert re.search(r'class="progress-bar"[^>]*style="width: 39.47%;"', dom.stdout)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "progress.png"
    result = run_chromium(page, f"--screenshot={shot}")
    assert result.returncode == 0 and shot.stat().st_size > 10_000, result.stderr[-2000:]


def test_the_page_shows_a_reachable_date_and_the_pace_line(app, client, login_as):
    with app.app_context():
        pace_book(("10000000.00", date(2022, 6, 30)), ("73000000.00", date(2023, 1, 15)))
        db.session.commit()
    login_as("fund_manager")
    html = client.get("/progress?as_of=2023-06-30").get_data(as_text=True)
    projection = html.split('id="projection"', 1)[1].split("</div>", 1)[0]
    assert "2024-11-29" in projection and "不晚于目标日期 2025-12-31" in projection
    chart = json.loads(re.search(r"id=\"chart-cumulative\" data-chart-kind=\"cumulative\" data-chart='([^']*)'", html).group(1))
    assert chart["labels"][0] == "2022-06" and chart["labels"][-1] == "2025-12"
    assert chart["values"][chart["labels"].index("2023-06")] == "196558000.00"
    assert chart["values"][-1] is None  # no actual figure after as_of
    assert chart["projection"][chart["labels"].index("2023-06")] == "196558000.00"  # the pace line starts at as_of
    assert chart["projection"][chart["labels"].index("2023-07")] == "202758000.00"  # + 31 days × 200,000.00
    assert chart["projection"][-1] == "300000000.00"  # capped at the target
