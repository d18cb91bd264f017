"""Demonstration data: users of every role, partner banks, enterprises with their ratings, two years
of knowledge-value loans covered by the risk pool, the seed fund's activity and compensation claims.

Loaded through the same services as the product, so the demo obeys every rule it shows; drawn from a
seeded random generator, so the same day gives the same data.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core import clock
from core.auth.models import User
from core.auth.services import create_user
from core.db import db
from funds.demo import load_seed_demo
from loans.demo import load_loans_demo
from parties.demo import load_enterprises_demo
from parties.services import create_bank
from risk.demo import fund_pool_demo, load_claims_demo

DEMO_PASSWORD = "Demo2026pass"  # nosec B105  # the documented demo login, not a credential of any deployment
DEMO_SEED = 2026
DEMO_ACTOR = "demo-loader"  # created_by of the demo's ratings, loans and movements (as the CLI's acting_as)

DEMO_BANKS = (
    ("ICBC", "中国工商银行县支行"),
    ("ABC", "中国农业银行县支行"),
    ("RCB", "县农村商业银行"),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: str
    bank_code: str | None = None


DEMO_USERS = (
    DemoUser("admin", "系统管理员", "admin"),
    DemoUser("icbc_liaison", "王丽（工行）", "bank_liaison", "ICBC"),
    DemoUser("abc_liaison", "李强（农行）", "bank_liaison", "ABC"),
    DemoUser("rcb_liaison", "赵敏（农商行）", "bank_liaison", "RCB"),
    DemoUser("officer", "陈经办", "fund_officer"),
    DemoUser("manager", "刘基金管理人", "fund_manager"),
    DemoUser("manager2", "周基金管理人", "fund_manager"),
    DemoUser("auditor", "孙审计", "auditor"),
)


def demo_is_loaded() -> bool:
    return db.session.query(User.id).limit(1).first() is not None


def load_demo(today: date | None = None, seed: int = DEMO_SEED) -> dict[str, int]:
    """Create the demo records (flush only: the CLI command commits once), dated up to ``today``
    (default and latest: ``core.clock.today()``)."""
    today = today or clock.today()
    rng = random.Random(seed)  # nosec B311  # reproducible demo data, not a secret
    banks = {code: create_bank(name=name, code=code) for code, name in DEMO_BANKS}
    users: dict[str, User] = {}
    for spec in DEMO_USERS:
        bank = banks[spec.bank_code] if spec.bank_code else None
        users[spec.username] = create_user(
            username=spec.username,
            password=DEMO_PASSWORD,
            role=spec.role,
            bank_id=bank.id if bank else None,
            display_name=spec.display_name,
        )
    registry = load_enterprises_demo(today=today, rng=rng, created_by=DEMO_ACTOR)
    pool: dict[str, int] = {}

    def fund_pool(first_contract: date, peak_exposure: Decimal) -> None:
        # Paid in before the first contract, so the pool covers the demo's loans.
        pool.update(fund_pool_demo(first_contract, peak_exposure, by_id=users["admin"].id, created_by=DEMO_ACTOR))

    loans = load_loans_demo(banks, today=today, rng=rng, created_by=DEMO_ACTOR, before_recording=fund_pool)
    seed_fund = load_seed_demo(today=today, rng=rng, users=users, banks=banks, created_by=DEMO_ACTOR)
    liaisons = {users[spec.username].bank_id: users[spec.username].id for spec in DEMO_USERS if spec.bank_code}
    claims = load_claims_demo(
        today=today, rng=rng, filers=liaisons, managers=(users["manager"].id, users["manager2"].id)
    )
    return {"banks": len(banks), "users": len(DEMO_USERS), **registry, **loans, **seed_fund, **pool, **claims}
