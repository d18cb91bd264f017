"""The fund's money on the ledger (fund ``seed``), its lock row, contributions and the agent bank.

Chart of accounts (domain.md §5–6; debit-positive balances):

============================  ==========  ===============================================
``seed.cash``                 asset       the fund's bank account
``seed.loans_receivable``     asset       principal the borrowers owe (outstanding)
``seed.contributions``        equity      paid-in capital (实收资本), a credit balance
``seed.written_off``          expense     principal written off (核销损失)
``seed.recoveries``           income      money recovered after a write-off
============================  ==========  ===============================================

Postings: contribution Dr cash / Cr contributions; disbursement Dr loans_receivable / Cr cash;
repayment Dr cash / Cr loans_receivable; write-off Dr written_off / Cr loans_receivable;
recovery Dr cash / Cr recoveries.

**Commitments are not posted.** Approving an application moves no money; the committed figure is
derived from the sub-ledger (approved applications not yet disbursed, ``funds.queries.committed``)
in the same SQL that reads the balances, so ``available = cash − committed`` can never disagree
with the applications' states, and a withdrawal or an upheld objection needs no reversing entry.

**The lock.** Every step that checks or moves the fund's money first takes :func:`lock_fund` (the
single ``seed_fund_state`` row, ``SELECT ... FOR UPDATE``), then the application or loan row, in
that order everywhere (no deadlock). Concurrent approvals therefore serialise: the second reads
``committed`` only after the first committed, and ``available`` never goes negative.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload

from core.db import db
from core.errors import BusinessRuleError, ValidationFailed
from core.i18n import _
from core.ledger.models import LedgerAccount
from core.ledger.services import ensure_account, post_entry
from core.money import format_cny
from core.policy.services import policy_in_force
from funds.accounts import ACCOUNTS, CASH, CONTRIBUTIONS, FUND
from funds.models import SeedContribution, SeedFundState
from funds.queries import fund_figures
from funds.services.common import amount_error, business_day, raise_if, text
from parties.models import Bank

SOURCE_MAX_LENGTH = 100
NOTE_MAX_LENGTH = 2000


def lock_fund() -> SeedFundState:
    """The fund's row, locked ``FOR UPDATE`` until the transaction ends (created on first use).

    Call it before locking any application or loan row. On SQLite the lock is the database's
    write lock (``BEGIN IMMEDIATE``), which the transaction already holds.
    """
    state = _select_state()
    if state is None:
        try:
            # A concurrent first use inserts the same row: the loser's savepoint rolls back and it
            # then waits on the winner's row like any other caller.
            with db.session.begin_nested():
                db.session.add(SeedFundState(id=1))
        except IntegrityError:
            pass
        state = _select_state()
    assert state is not None
    return state


def _select_state() -> SeedFundState | None:
    return db.session.execute(
        sa.select(SeedFundState)
        .where(SeedFundState.id == 1)
        .with_for_update(of=SeedFundState)
        .options(lazyload("*"))
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def ensure_accounts() -> None:
    """Create the fund's accounts that do not exist yet (under the fund lock: no race on their codes)."""
    existing = set(db.session.scalars(sa.select(LedgerAccount.code).where(LedgerAccount.fund == FUND)))
    for code, name, kind in ACCOUNTS:
        if code not in existing:
            ensure_account(code, name, FUND, kind)


def post(entry_date: date, memo: str, debit: str, credit: str, amount: Decimal, source: tuple[str, int]) -> None:
    """One two-line entry of the seed fund: ``amount`` from ``credit`` to ``debit``.

    Memos are written in Chinese whatever the caller's language, like the accounts' names: the
    books are one document, not a translated interface.
    """
    ensure_accounts()
    post_entry(FUND, entry_date, memo, [(debit, amount), (credit, -amount)], source=source)


# -------------------------------------------------------------------------------- contributions


def record_contribution(
    *, amount: Decimal, received_on: date | None, source: str = "", note: str = "", by_id: int | None
) -> SeedContribution:
    """Money paid into the fund (Dr cash / Cr contributions), dated ``received_on``.

    422: amount not positive or malformed, date in the future. 409: paid-in capital would exceed
    the fund's size (policy in force on ``received_on``), closed month.
    """
    errors: dict[str, list[str]] = {}
    if (problem := amount_error(amount)) is not None:
        errors["amount"] = [problem]
    clean_source = text(source, "source", _("资金来源"), SOURCE_MAX_LENGTH, errors, required=False)
    clean_note = text(note, "note", _("备注"), NOTE_MAX_LENGTH, errors, required=False)
    raise_if(errors)
    day = business_day(received_on, "received_on")

    lock_fund()
    policy = policy_in_force(day)
    paid_in = fund_figures().paid_in
    if paid_in + amount > policy.seed_fund_size:
        room = max(policy.seed_fund_size - paid_in, Decimal("0.00"))
        raise BusinessRuleError(
            _(
                "实收资本将超过基金规模：规模 %(size)s，已到位 %(paid_in)s，最多还可注入 %(room)s",
                size=format_cny(policy.seed_fund_size),
                paid_in=format_cny(paid_in),
                room=format_cny(room),
            ),
            {"amount": [_("最多还可注入 %(room)s", room=format_cny(room))]},
        )
    contribution = SeedContribution(
        amount=amount, received_on=day, source=clean_source, note=clean_note, created_by_id=by_id
    )
    db.session.add(contribution)
    db.session.flush()
    post(day, "种子基金注资", CASH, CONTRIBUTIONS, amount, ("seed_contribution", contribution.id))
    return contribution


# ------------------------------------------------------------------------------------ agent bank


def agent_bank() -> Bank | None:
    """The fund's agent bank (委托贷款代理银行), or None while the admin has not set one."""
    state = db.session.get(SeedFundState, 1)
    return state.agent_bank if state is not None else None


def set_agent_bank(bank_id: int, *, by_id: int | None) -> SeedFundState:
    """Set the bank that disburses and collects new seed loans. 422 unknown bank, 409 deactivated.

    Loans already contracted keep their agent bank.
    """
    bank = db.session.get(Bank, bank_id) if isinstance(bank_id, int) and not isinstance(bank_id, bool) else None
    if bank is None:
        raise ValidationFailed(_("合作银行不存在"), {"bank_id": [_("合作银行不存在")]})
    if not bank.is_active:
        raise BusinessRuleError(_("合作银行“%(name)s”已停用", name=bank.name), {"bank_id": [_("该银行已停用")]})
    state = lock_fund()
    state.agent_bank_id = bank.id
    state.updated_by_id = by_id
    db.session.flush()
    db.session.refresh(state)
    return state
