"""``flask demo generate``: a province-sized synthetic data set, recorded through the product's services.

What it makes, in this order (each step the services of its domain, so every rule holds):

1. the users (the demo's administrator, fund officer, two fund managers and auditor, and one liaison
   per bank, all with the demo password) and ``banks`` partner banks (``parties.generate``);
2. ``enterprises`` enterprises in the towns of as many invented counties as they need, rated A–E
   over the window (``parties.generate``);
3. the loans, planned borrower by borrower until ``loans`` are planned (``loans.generate``);
4. the risk pool's capital, paid in by the city and the county the day before the first contract,
   enough to cover the planned loans (``risk.demo.fund_pool_demo``, raising the commitment by a new
   policy version when a province's loans need more than the county's);
5. the loans' contracts, tranches and repayments in date order (``loans.generate``, through the
   batch import's bulk paths);
6. compensation claims on the non-performing covered loans, decided by the two fund managers, and
   recoveries (``risk.demo.load_claims_demo``);
7. the seed fund's two-year story (``funds.demo``: applications in every state, four-eyes decisions).

The window is the ``months`` months ending today (``core.clock``). Everything is drawn from one
``random.Random(seed)``: the same seed, sizes and day give the same data. The work is committed in
chunks (``commit_every`` records), so memory stays flat; a failure leaves the chunks committed so far.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from config.demo import DEMO_ACTOR, DEMO_PASSWORD, DEMO_USERS
from core import clock
from core.auth.models import User
from core.auth.services import create_user
from core.db import db
from funds.demo import load_seed_demo
from loans.generate import plan_loans, record_loans
from loans.models import Loan
from parties.generate import bank_specs, create_banks, plan_registry, record_registry
from parties.models import Bank, Enterprise
from risk.demo import fund_pool_demo, load_claims_demo

__all__ = ["GenerateSize", "database_is_empty", "default_banks", "default_enterprises", "generate"]

# A science-tech borrower takes about one loan per 12 months of the window (terms of 6–12 months,
# renewals, a second bank now and then); the registry also holds firms that never borrow.
MONTHS_PER_LOAN = 12
REGISTRY_MARGIN_PERCENT = 40
DAYS_PER_MONTH_AVERAGE = 30.44


@dataclass(frozen=True)
class GenerateSize:
    loans: int
    months: int
    seed: int
    banks: int
    enterprises: int
    commit_every: int = 2000


def default_banks(loans: int) -> int:
    """Three banks for a county's few hundred loans, one more per 2,500 loans, at most 120."""
    return max(3, min(120, 3 + loans // 2500))


def default_enterprises(loans: int, months: int) -> int:
    """Enough enterprises for ``loans`` loans over ``months`` months, and a margin that never borrows."""
    per_borrower = max(1.0, months / MONTHS_PER_LOAN)
    return max(10, int(loans / per_borrower * (100 + REGISTRY_MARGIN_PERCENT) / 100) + 1)


def database_is_empty() -> bool:
    """No user, bank, enterprise nor loan yet: the only database ``generate`` writes into."""
    return all(db.session.query(model.id).limit(1).first() is None for model in (User, Bank, Enterprise, Loan))


Progress = Callable[[str, int], Callable[[int], None]]
"""Given a phase's label and its length, the callback that advances its bar (see config/cli.py)."""


def generate(size: GenerateSize, *, progress: Progress | None = None) -> dict[str, int]:
    """Create the data set (see the module's docstring) and commit it; returns the counts."""
    today = clock.today()
    window_days = max(int(size.months * DAYS_PER_MONTH_AVERAGE), 31)
    rng = random.Random(size.seed)  # nosec B311  # reproducible synthetic data, not a secret
    counts: dict[str, int] = {}

    def advance(label: str, length: int) -> Callable[[int], None]:
        return progress(label, length) if progress is not None else (lambda _n: None)

    def commit() -> None:
        db.session.commit()
        db.session.expunge_all()  # nothing committed stays in the identity map

    specs = bank_specs(size.banks)
    bank_ids = create_banks(specs)
    users = _create_users(bank_ids)
    commit()
    counts.update(banks=len(bank_ids), users=len(users))

    planned = plan_registry(size.enterprises, today=today, window_days=window_days, rng=rng)
    borrowers, registry = record_registry(
        planned, created_by=DEMO_ACTOR, commit=commit, commit_every=size.commit_every,
        progress=advance("企业与评级", size.enterprises),
    )
    commit()
    counts.update(registry)

    book = plan_loans(borrowers, list(bank_ids), loans=size.loans, today=today, rng=rng)
    del borrowers
    if book.first_contract is not None:
        counts.update(fund_pool_demo(book.first_contract, book.peak_exposure, by_id=users["admin"], created_by=DEMO_ACTOR))
        commit()
    events = sum(1 + len(plan.tranches) + len(plan.repayments) for plan in book.plans)
    counts.update(record_loans(
        book.plans, bank_ids, created_by=DEMO_ACTOR, commit=commit, commit_every=size.commit_every,
        progress=advance("贷款、放款与还款", events),
    ))
    del book
    commit()

    liaisons = {bank_ids[code]: users[_liaison_name(code)] for code in bank_ids}
    counts.update(load_claims_demo(
        today=today, rng=rng, filers=liaisons, managers=(users["manager"], users["manager2"]),
    ))
    commit()

    user_rows = {user.username: user for user in db.session.scalars(sa.select(User).where(User.username.in_(
        ("admin", "officer", "manager", "manager2"))))}
    banks = {bank.code: bank for bank in db.session.scalars(sa.select(Bank).where(Bank.code == "RCB"))}
    counts.update(load_seed_demo(today=today, rng=rng, users=user_rows, banks=banks,
                                 created_by=DEMO_ACTOR))
    commit()
    return counts


def _liaison_name(code: str) -> str:
    return f"{code.lower()}_liaison"


def _create_users(bank_ids: dict[str, int]) -> dict[str, int]:
    """The demo's users without a bank, and one liaison per bank; their ids by username."""
    users = {}
    for spec in DEMO_USERS:
        if spec.bank_code is None:
            users[spec.username] = create_user(
                username=spec.username, password=DEMO_PASSWORD, role=spec.role, display_name=spec.display_name
            ).id
    for code, bank_id in bank_ids.items():
        name = _liaison_name(code)
        users[name] = create_user(
            username=name, password=DEMO_PASSWORD, role="bank_liaison", bank_id=bank_id, display_name=f"{code} 联络员"
        ).id
    return users
