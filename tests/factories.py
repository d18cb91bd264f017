"""factory-boy factories: flush persistence (the test's transaction is rolled back) and Decimal literals."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import factory
import sqlalchemy as sa
from factory.alchemy import SQLAlchemyModelFactory

from core.auth.models import User
from core.auth.passwords import hash_password
from core.db import db
from core.policy.models import Policy
from loans.models import Loan
from parties.credit_code import credit_code_check_char
from parties.models import Bank, Enterprise, Rating

DEFAULT_PASSWORD = "correct-horse-42"


class BaseFactory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 - resolved per test, not at import
        sqlalchemy_session_persistence = "flush"


class BankFactory(BaseFactory):
    class Meta:
        model = Bank

    code = factory.Sequence(lambda n: f"B{n:03d}")
    name = factory.Sequence(lambda n: f"测试银行{n:03d}")


class UserFactory(BaseFactory):
    class Meta:
        model = User

    class Params:
        password = DEFAULT_PASSWORD

    username = factory.Sequence(lambda n: f"user{n:04d}")
    display_name = factory.LazyAttribute(lambda u: u.username)
    role = "fund_officer"
    bank = factory.Maybe(
        factory.LazyAttribute(lambda u: u.role == "bank_liaison"),
        yes_declaration=factory.SubFactory(BankFactory),
        no_declaration=None,
    )
    password_hash = factory.LazyAttribute(lambda u: hash_password(u.password))


class EnterpriseFactory(BaseFactory):
    """A registered science-tech enterprise with a valid credit code (check digit computed)."""

    class Meta:
        model = Enterprise

    name = factory.Sequence(lambda n: f"测试科技有限公司{n:04d}")
    credit_code = factory.Sequence(lambda n: credit_code_for(n))
    registered_on = date(2020, 3, 1)
    town = "城关镇"
    industry = "软件和信息技术服务业"
    is_science_tech = True
    is_high_tech = False
    bad_credit = False
    dishonest = False


class RatingFactory(BaseFactory):
    """Grade B rated on 2025-01-02 (credit line 4,000,000.00 under the default policy)."""

    class Meta:
        model = Rating

    enterprise = factory.SubFactory(EnterpriseFactory)
    grade = "B"
    rated_on = date(2025, 1, 2)
    valid_until = factory.LazyAttribute(lambda r: r.rated_on.replace(year=r.rated_on.year + 1) - timedelta(days=1))
    credit_line = Decimal("4000000.00")
    policy_id = factory.LazyFunction(lambda: db.session.scalar(sa.select(Policy.id).order_by(Policy.effective_from)))


class LoanFactory(BaseFactory):
    """A contracted loan of 1,000,000.00 from 2025-03-01 to 2026-02-28; trait ``overdue`` disburses it
    fully and leaves it unpaid past maturity (as of dates after 2026-02-28)."""

    class Meta:
        model = Loan

    class Params:
        overdue = factory.Trait(status="active", disbursed_total=Decimal("1000000.00"))

    bank = factory.SubFactory(BankFactory)
    enterprise = factory.SubFactory(EnterpriseFactory)
    contract_no = factory.Sequence(lambda n: f"HT2025-{n:05d}")
    principal = Decimal("1000000.00")
    annual_rate = Decimal("0.0345")
    start_date = date(2025, 3, 1)
    maturity_date = date(2026, 2, 28)
    purpose = "研发投入"
    status = "contracted"
    disbursed_total = Decimal("0.00")
    repaid_principal = Decimal("0.00")
    policy_id = factory.LazyFunction(lambda: db.session.scalar(sa.select(Policy.id).order_by(Policy.effective_from)))


def credit_code_for(n: int) -> str:
    """A valid unified social credit code, unique per ``n``."""
    first17 = f"91330100MA{n:07d}"
    return first17 + credit_code_check_char(first17)
