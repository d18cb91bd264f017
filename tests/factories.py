"""factory-boy factories: flush persistence (the test's transaction is rolled back) and Decimal literals."""
from __future__ import annotations

import factory
from factory.alchemy import SQLAlchemyModelFactory

from core.auth.models import User
from core.auth.passwords import hash_password
from core.db import db
from parties.models import Bank

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
