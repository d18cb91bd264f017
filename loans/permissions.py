"""Who may read and write knowledge-value loans (domain.md §2, api.md).

- Bank liaisons record their own bank's loans, tranches and repayments; the bank is always the
  liaison's own (taken from the user, never from a request body). Another bank's loan does not exist
  for them: 404, on reads and on writes.
- Everyone else (admin, fund officer, fund manager, auditor) reads every loan and writes none (403).
"""
from __future__ import annotations

from flask_login import current_user

from core.auth.models import ROLE_VALUES, Role
from core.auth.permissions import ensure_acts_for_own_bank
from core.errors import Forbidden
from loans import queries
from loans.models import Loan

LOAN_WRITERS: tuple[str, ...] = (Role.BANK_LIAISON.value,)
LOAN_READERS: tuple[str, ...] = ROLE_VALUES


def can_write_loans(user=None) -> bool:
    user = user if user is not None else current_user
    return bool(getattr(user, "is_authenticated", False)) and getattr(user, "role", None) in LOAN_WRITERS


def acting_bank_id() -> int:
    """The bank a write is made for: the liaison's own (403 for any other role)."""
    if not can_write_loans() or current_user.bank_id is None:
        raise Forbidden()
    return current_user.bank_id


def writable_loan(loan_id: int) -> Loan:
    """The loan a liaison may write to: 404 when unknown or another bank's, 403 for other roles.

    Its row only (``visible_loan(row_only=True)``): the services lock and re-read it before writing.
    """
    acting_bank_id()
    loan = queries.visible_loan(loan_id, row_only=True)
    ensure_acts_for_own_bank(loan.bank_id)
    return loan
