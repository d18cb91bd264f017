"""Who may act on the risk-compensation pool (domain.md §2, api.md).

- Admins record contributions (they set up the money, with no approval powers).
- Bank liaisons file claims on their own bank's loans and record recoveries on their own bank's
  claims; another bank's loan or claim does not exist for them (404).
- Fund managers approve and reject claims, lift a bank's suspension, record recoveries and run
  stress tests.
- Everyone reads the pool's figures; claims and breakers too (a liaison only its own bank's).
"""
from __future__ import annotations

from flask_login import current_user

from core.auth.models import ROLE_VALUES, Role
from core.auth.permissions import ensure_visible
from core.db import db
from core.errors import NotFound
from core.i18n import _
from loans.models import Loan
from loans.queries import visible_loan
from parties.models import Bank
from risk.models import RiskClaim
from risk.queries import visible_claim

CONTRIBUTORS: tuple[str, ...] = (Role.ADMIN.value,)
POOL_READERS: tuple[str, ...] = ROLE_VALUES
CLAIM_FILERS: tuple[str, ...] = (Role.BANK_LIAISON.value,)
CLAIM_DECIDERS: tuple[str, ...] = (Role.FUND_MANAGER.value,)
CLAIM_READERS: tuple[str, ...] = ROLE_VALUES
RECOVERY_RECORDERS: tuple[str, ...] = (Role.BANK_LIAISON.value, Role.FUND_MANAGER.value)
BREAKER_READERS: tuple[str, ...] = ROLE_VALUES
BREAKER_LIFTERS: tuple[str, ...] = (Role.FUND_MANAGER.value,)
STRESS_RUNNERS: tuple[str, ...] = (Role.FUND_MANAGER.value,)


def claimable_loan(loan_id: int) -> Loan:
    """The loan a liaison may file a claim on: its own bank's (404 for an unknown or another bank's loan)."""
    return visible_loan(loan_id)


def recoverable_claim(claim_id: int) -> RiskClaim:
    """The claim a recovery may be recorded on: a liaison only on its own bank's (404 otherwise)."""
    return visible_claim(claim_id)


def visible_bank(bank_id: int) -> Bank:
    """The bank whose breaker the caller may read: 404 when unknown, or another bank for a liaison."""
    bank = db.session.get(Bank, bank_id)
    if bank is None:
        raise NotFound(_("合作银行不存在"))
    ensure_visible(bank.id)
    return bank


def user_id() -> int:
    return int(current_user.id)
