"""Demonstration seed-fund activity for ``flask demo load`` (config/demo.py calls this after the loans).

Two years of a county seed fund, all through ``funds.services`` (and ``funds.calendar``), so every
rule of the product holds for the demo:

- the public holidays of the period (元旦, 劳动节, 国庆节 on weekdays) in the working-day calendar,
  which the public notice counts;
- 8,000,000.00 paid in over two years (four contributions), the agent bank set (县农村商业银行, RCB);
- about twenty applications, in every state the workflow knows: just submitted (one by a startup
  team), passed the initial review, rejected by it, under expert review (with one, two or three
  scores, one set below the pass mark), approved and on public notice (a team that registered its
  enterprise first), approved with the notice over, objection raised, objection dismissed then
  contracted, objection upheld (rejected), rejected by the manager, withdrawn;
- seed loans through the agent bank: monthly and bullet, repaid, repaying on time, not yet due,
  one overdue, one contracted and not yet disbursed, one written off with a recovery.

The officer (``officer``) takes the applications in and records the reviews; the two managers
(``manager``, ``manager2``) decide, never on what they took part in (four eyes), and the write-off
proposed by the officer is approved by a manager. Every step is dated in the past, relative to
``today``, and everything is drawn from the caller's seeded ``random.Random``: the same seed and
day give the same data. The steps of all applications run in date order, so the fund's figures
(available, cash) are those of each step's day.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from core.auth.models import User
from core.db import db
from core.policy.services import policy_in_force
from funds import services
from funds.calendar import add_holiday, add_working_days
from funds.models import SeedObjection
from funds.schedule import build_schedule
from funds.services.applications import years_before
from parties.models import Bank, Enterprise

__all__ = ["load_seed_demo"]

AGENT_BANK = "RCB"  # the county's rural commercial bank acts for the fund (委托贷款)
# (days before today, amount in yuan, source): 8,000,000.00 over two years.
CONTRIBUTIONS = (
    (720, 3_000_000, "县财政局"),
    (540, 2_000_000, "市科技局"),
    (360, 2_000_000, "县财政局"),
    (180, 1_000_000, "县财政局"),
)
HOLIDAYS = (((1, 1), "元旦"), ((5, 1), "劳动节"), ((5, 2), "劳动节"), ((5, 3), "劳动节"),
            ((10, 1), "国庆节"), ((10, 2), "国庆节"), ((10, 3), "国庆节"))
EXPERTS = ("王建国", "李文华", "张志强", "陈晓梅", "刘海涛", "赵立新", "孙慧敏", "周启明", "吴振宇", "郑雅琴")
PURPOSES = ("样机研制", "研发设备购置", "小批量试产", "软件平台开发", "检测认证费用", "首批原材料采购", "技术中试")
TEAMS = (("启航智能硬件创业团队", "许卫东", "13905810001"), ("青禾生物创业团队", "林佳", "13905810002"),
         ("云栖数据创业团队", "高远", "13905810003"))
PASSING = (66, 92)
FAILING = (42, 58)


@dataclass
class _Case:
    """One application of the demo and what the steps learn as they run (its id, its loan)."""

    label: str
    enterprise_id: int | None
    team: tuple[str, str, str] | None = None
    application_id: int = 0
    loan_id: int = 0
    contract_no: str = ""
    expert_names: list[str] = field(default_factory=list)


class _Calendar:
    """Steps of every application, run in date order (same day: the order they were planned in)."""

    def __init__(self, today: date) -> None:
        self.today = today
        self.steps: list[tuple[date, int, Callable[[], None]]] = []

    def at(self, day: date, step: Callable[[], None]) -> None:
        if day >= self.today:
            raise ValueError(f"demo step planned on {day}, not before {self.today}")
        self.steps.append((day, len(self.steps), step))

    def run(self) -> None:
        for _day, _order, step in sorted(self.steps, key=lambda item: (item[0], item[1])):
            step()


class _SeedDemo:
    def __init__(self, today: date, rng: random.Random, users: Mapping[str, User], banks: Mapping[str, Bank]) -> None:
        self.today = today
        self.rng = rng
        self.officer = users["officer"].id
        self.managers = (users["manager"].id, users["manager2"].id)
        self.admin = users["admin"].id
        self.bank = banks[AGENT_BANK]
        self.calendar = _Calendar(today)
        self.cases: list[_Case] = []
        self.uses: dict[int, int] = {}
        self.enterprises = db.session.scalars(
            sa.select(Enterprise)
            .where(Enterprise.is_science_tech.is_(True), Enterprise.bad_credit.is_(False), Enterprise.dishonest.is_(False))
            .order_by(Enterprise.credit_code)
        ).all()

    # -- planning helpers

    def day(self, days_before: int) -> date:
        return self.today - timedelta(days=days_before)

    def enterprise_for(self, on: date) -> int:
        """An eligible enterprise on ``on`` (registered before it, at most 5 years earlier), the
        least used first, so the applications spread over the registry."""
        policy = policy_in_force(on)
        oldest = years_before(on, policy.seed_max_enterprise_age_years)
        eligible = [e.id for e in self.enterprises if oldest <= e.registered_on <= on]
        if not eligible:
            raise RuntimeError(f"no enterprise of the demo registry may apply for a seed loan on {on}")
        fewest = min(self.uses.get(eid, 0) for eid in eligible)
        chosen = self.rng.choice([eid for eid in eligible if self.uses.get(eid, 0) == fewest])
        self.uses[chosen] = self.uses.get(chosen, 0) + 1
        return chosen

    def amount(self, low: int = 5, high: int = 30) -> Decimal:
        """A round amount: 50,000.00 to 300,000.00 in steps of 10,000.00."""
        return Decimal(self.rng.randint(low, high) * 10_000).quantize(Decimal("0.01"))

    def notice_end(self, decided_on: date) -> date:
        return add_working_days(decided_on, policy_in_force(decided_on).seed_notice_working_days)

    # -- steps (scheduled; they run later, in date order)

    def submit(self, case: _Case, on: date, amount: Decimal, term: int, repayment: str) -> None:
        purpose = self.rng.choice(PURPOSES)

        def step() -> None:
            team = case.team
            application = services.submit_application(
                enterprise_id=case.enterprise_id,
                team_name=team[0] if team else None,
                contact_name=team[1] if team else None,
                contact_phone=team[2] if team else None,
                amount=amount,
                term_months=term,
                repayment=repayment,
                purpose=purpose,
                on=on,
                by_id=self.officer,
            )
            case.application_id = application.id

        self.cases.append(case)
        self.calendar.at(on, step)

    def initial_review(self, case: _Case, on: date, passed: bool = True) -> None:
        comment = "材料齐全，符合申请条件" if passed else "商业计划与申报领域不符，经补正仍不符合要求"
        self.calendar.at(on, lambda: services.initial_review(
            case.application_id, passed=passed, comment=comment, on=on, by_id=self.officer))

    def expert_reviews(self, case: _Case, days: list[date], *, passing: bool = True) -> None:
        names = self.rng.sample([name for name in EXPERTS if name not in case.expert_names], len(days))
        low, high = PASSING if passing else FAILING
        for name, on in zip(names, days, strict=True):
            score = self.rng.randint(low, high)
            case.expert_names.append(name)
            comment = "技术路线清晰，市场前景较好" if passing else "创新性不足，还款来源不明确"
            self.calendar.at(on, lambda name=name, score=score, on=on, comment=comment: services.record_expert_review(
                case.application_id, expert_name=name, score=score, comment=comment, on=on, by_id=self.officer))

    def decide(self, case: _Case, on: date, manager: int, approved: bool = True) -> date | None:
        comment = "经评审委员会审议，同意支持" if approved else "评审平均分未达及格线，不予支持"
        self.calendar.at(on, lambda: services.decide(
            case.application_id, approved=approved, comment=comment, on=on, by_id=manager))
        return self.notice_end(on) if approved else None

    def object(self, case: _Case, on: date, text: str) -> None:
        self.calendar.at(on, lambda: services.raise_objection(case.application_id, content=text, on=on, by_id=self.officer))

    def resolve(self, case: _Case, on: date, manager: int, *, upheld: bool, reason: str) -> None:
        def step() -> None:
            objection_id = db.session.scalar(
                sa.select(SeedObjection.id)
                .where(SeedObjection.application_id == case.application_id, SeedObjection.status == "open")
                .order_by(SeedObjection.id)
            )
            services.resolve_objection(objection_id, upheld=upheld, reason=reason, on=on, by_id=manager)

        self.calendar.at(on, step)

    def withdraw(self, case: _Case, on: date, reason: str) -> None:
        self.calendar.at(on, lambda: services.withdraw(case.application_id, reason=reason, on=on, by_id=self.officer))

    def link(self, case: _Case, on: date, enterprise_id: int) -> None:
        self.calendar.at(on, lambda: services.link_enterprise(
            case.application_id, enterprise_id=enterprise_id, on=on, by_id=self.officer))

    def contract(self, case: _Case, on: date) -> None:
        def step() -> None:
            loan = services.sign_contract(case.application_id, on=on, by_id=self.officer)
            case.loan_id, case.contract_no = loan.id, loan.contract_no

        self.calendar.at(on, step)

    def disburse(self, case: _Case, on: date) -> None:
        self.calendar.at(on, lambda: services.disburse(
            case.loan_id, disbursed_on=on, bank_ref=f"FK-{case.contract_no}", by_id=self.officer))

    def repay(self, case: _Case, on: date, amount: Decimal, n: int) -> None:
        self.calendar.at(on, lambda: services.record_repayment(
            case.loan_id, amount=amount, paid_on=on, bank_ref=f"HK-{case.contract_no}-{n:02d}", by_id=self.officer))

    # -- stories

    def reviewed(self, case: _Case, submitted: date, *, scores: int = 3, passing: bool = True) -> date:
        """Initial review 2 days after submission, then the experts a few days apart; returns the last day."""
        self.initial_review(case, submitted + timedelta(days=2))
        days = [submitted + timedelta(days=6 + 2 * n) for n in range(scores)]
        self.expert_reviews(case, days, passing=passing)
        return days[-1] if days else submitted + timedelta(days=2)

    def loan(self, days_before: int, amount: Decimal, term: int, repayment: str, *, manager: int,
             pay: Callable[[_Case, list[tuple[date, Decimal]]], None] | None = None) -> tuple[_Case, date]:
        """A story that ends in a disbursed loan; ``pay`` plans its repayments from the schedule."""
        submitted = self.day(days_before)
        case = _Case("loan", self.enterprise_for(submitted))
        self.submit(case, submitted, amount, term, repayment)
        reviewed = self.reviewed(case, submitted)
        end = self.decide(case, reviewed + timedelta(days=4), manager)
        contracted = end + timedelta(days=self.rng.randint(3, 6))
        disbursed = contracted + timedelta(days=self.rng.randint(1, 4))
        self.contract(case, contracted)
        self.disburse(case, disbursed)
        schedule = build_schedule(amount, term, repayment, disbursed)
        if pay is not None:
            pay(case, schedule)
        return case, disbursed

    def pay_due(self, case: _Case, schedule: list[tuple[date, Decimal]], *, stop_after: int | None = None) -> None:
        """Pay each instalment on or a few days before its due date, up to yesterday (or ``stop_after`` of them)."""
        for n, (due_on, principal) in enumerate(schedule, start=1):
            if stop_after is not None and n > stop_after:
                return
            paid_on = due_on - timedelta(days=self.rng.randint(0, 3))
            if paid_on >= self.today:
                return
            self.repay(case, paid_on, principal, n)

    def written_off(self, manager: int) -> None:
        """A bullet loan never repaid: the officer proposes the write-off 150 days after maturity, a
        manager approves it, and a court enforcement brings part of it back later."""
        case, disbursed = self.loan(716, Decimal("200000.00"), 12, "bullet", manager=self.managers[0])
        maturity = build_schedule(Decimal("200000.00"), 12, "bullet", disbursed)[-1][0]
        proposed, approved, recovered = (maturity + timedelta(days=n) for n in (150, 155, 240))
        self.calendar.at(proposed, lambda: services.propose_write_off(
            case.loan_id, reason="企业已停止经营，经多次催收无果", on=proposed, by_id=self.officer))
        self.calendar.at(approved, lambda: services.decide_write_off(
            case.loan_id, approve=True, comment="同意核销，继续追偿", on=approved, by_id=manager))
        self.calendar.at(recovered, lambda: services.record_recovery(
            case.loan_id, amount=Decimal("60000.00"), recovered_on=recovered, bank_ref=f"ZC-{case.contract_no}-01",
            note="法院执行回款", by_id=self.officer))

    def plan(self) -> None:
        m1, m2 = self.managers

        # Seed loans.
        self.loan(690, Decimal("120000.00"), 12, "monthly", manager=m1, pay=self.pay_due)  # repaid
        self.loan(600, Decimal("200000.00"), 6, "bullet", manager=m2, pay=self.pay_due)  # repaid at maturity
        self.loan(430, self.amount(18, 24), 24, "monthly", manager=m1, pay=self.pay_due)  # repaying on time
        self.loan(200, Decimal("300000.00"), 12, "bullet", manager=m2)  # not due yet
        self.loan(150, self.amount(8, 12), 10, "monthly", manager=m1, pay=self.pay_due)  # repaying on time
        # Overdue: four instalments paid, then nothing (about 150 days past due: substandard).
        self.loan(330, Decimal("150000.00"), 12, "monthly", manager=m2,
                  pay=lambda case, schedule: self.pay_due(case, schedule, stop_after=4))
        self.written_off(m2)
        # Objection dismissed, then contracted; not disbursed yet.
        submitted = self.day(40)
        case = _Case("contracted", self.enterprise_for(submitted))
        self.submit(case, submitted, self.amount(), 12, "monthly")
        decided = self.reviewed(case, submitted) + timedelta(days=3)
        end = self.decide(case, decided, m2)
        self.object(case, decided + timedelta(days=2), "有群众反映该企业注册地址与实际经营地址不一致")
        self.resolve(case, decided + timedelta(days=4), m1, upheld=False, reason="经实地核查，企业已办理地址变更，正常经营")
        self.contract(case, max(end + timedelta(days=2), self.day(8)))

        # Applications that have not (yet) become loans.
        submitted = self.day(45)  # approved, the notice is over: ready for the contract
        case = _Case("ready", self.enterprise_for(submitted))
        self.submit(case, submitted, self.amount(), 18, "monthly")
        self.decide(case, self.reviewed(case, submitted) + timedelta(days=5), m1)

        submitted = self.day(50)  # a startup team registers its enterprise, then is approved: on notice
        case = _Case("notice", None, team=TEAMS[0])
        self.submit(case, submitted, self.amount(5, 15), 12, "bullet")
        self.reviewed(case, submitted)
        self.link(case, self.day(12), self.enterprise_for(self.day(12)))
        self.decide(case, self.day(2), m2)

        submitted = self.day(35)  # an objection raised during the notice, not resolved yet
        case = _Case("objection", self.enterprise_for(submitted))
        self.submit(case, submitted, self.amount(), 12, "monthly")
        self.reviewed(case, submitted)
        self.decide(case, self.day(6), m1)
        self.object(case, self.day(4), "举报称该企业核心技术存在知识产权纠纷")

        submitted = self.day(120)  # objection upheld: rejected, the commitment released
        case = _Case("upheld", self.enterprise_for(submitted))
        self.submit(case, submitted, self.amount(), 12, "monthly")
        decided = self.reviewed(case, submitted) + timedelta(days=4)
        self.decide(case, decided, m2)
        self.object(case, decided + timedelta(days=2), "实名举报：法定代表人同时在另一申请企业任职，重复申请")
        self.resolve(case, decided + timedelta(days=5), m1, upheld=True, reason="经核实举报属实，违反一企一申请的规定")

        submitted = self.day(150)  # scores below the pass mark: the manager rejects it
        case = _Case("rejected", self.enterprise_for(submitted))
        self.submit(case, submitted, self.amount(), 12, "monthly")
        self.decide(case, self.reviewed(case, submitted, passing=False) + timedelta(days=5), m2, approved=False)

        submitted = self.day(65)  # rejected by the initial review
        case = _Case("initial_rejected", self.enterprise_for(submitted))
        self.submit(case, submitted, self.amount(), 6, "bullet")
        self.initial_review(case, submitted + timedelta(days=3), passed=False)

        submitted = self.day(90)  # withdrawn during the expert review
        case = _Case("withdrawn", self.enterprise_for(submitted))
        self.submit(case, submitted, self.amount(), 12, "monthly")
        self.reviewed(case, submitted, scores=1)
        self.withdraw(case, submitted + timedelta(days=12), "企业已获得银行贷款，主动撤回申请")

        for days_before, scores, passing in ((25, 3, True), (28, 3, False), (20, 2, True)):  # awaiting a decision
            submitted = self.day(days_before)
            case = _Case("review", self.enterprise_for(submitted))
            self.submit(case, submitted, self.amount(), self.rng.choice((6, 12, 18, 24)), self.rng.choice(("monthly", "bullet")))
            self.reviewed(case, submitted, scores=scores, passing=passing)

        submitted = self.day(24)  # a startup team under expert review
        case = _Case("team_review", None, team=TEAMS[1])
        self.submit(case, submitted, self.amount(5, 10), 12, "monthly")
        self.reviewed(case, submitted, scores=1)

        submitted = self.day(12)  # passed the initial review, waiting for the experts
        case = _Case("passed", self.enterprise_for(submitted))
        self.submit(case, submitted, self.amount(), 12, "monthly")
        self.initial_review(case, submitted + timedelta(days=3))

        for label, days_before, team in (("submitted", 3, None), ("team_submitted", 5, TEAMS[2]), ("submitted", 1, None)):
            on = self.day(days_before)  # just taken in
            case = _Case(label, None if team else self.enterprise_for(on), team=team)
            self.submit(case, on, self.amount(), self.rng.choice((6, 12)), "bullet")

    # -- the fund itself

    def fund(self, created_by: str) -> None:
        for year in range(self.today.year - 2, self.today.year + 2):
            for (month, day_of_month), name in HOLIDAYS:
                day = date(year, month, day_of_month)
                if day.weekday() < 5:
                    add_holiday(day, name, by_id=self.admin)
        services.set_agent_bank(self.bank.id, by_id=self.admin)
        for days_before, amount, source in CONTRIBUTIONS:
            services.record_contribution(
                amount=Decimal(amount).quantize(Decimal("0.01")), received_on=self.day(days_before), source=source,
                note=f"演示数据（{created_by}）", by_id=self.admin,
            )


def load_seed_demo(
    *, today: date, rng: random.Random, users: Mapping[str, User], banks: Mapping[str, Bank], created_by: str
) -> dict[str, int]:
    """Load the seed fund's demonstration activity; returns the counts. Flushes only (the caller commits).

    ``users`` are the demo users by username (``officer``, ``manager``, ``manager2``, ``admin``),
    ``banks`` the demo banks by code; ``today`` is the first day nothing may be dated on or after
    (the latest step is yesterday).
    """
    demo = _SeedDemo(today, rng, users, banks)
    demo.fund(created_by)
    demo.plan()
    demo.calendar.run()
    db.session.flush()
    loans = sum(1 for case in demo.cases if case.loan_id)
    return {"seed_contributions": len(CONTRIBUTIONS), "seed_applications": len(demo.cases), "seed_loans": loans}
