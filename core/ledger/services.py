"""Writing to the ledger: accounts, balanced entries and reversing entries.

Rules (domain.md §6): every movement of public money is one balanced double-entry journal
entry (debits = credits) of one fund, append-only; a correction is a reversing entry.
These functions refuse a bad entry in Python first, with a Chinese message and nothing
written; the database triggers (``core.ledger.ddl``) are the last line of defence for
whatever gets past them. They flush, never commit: the request boundary commits.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import has_request_context
from sqlalchemy.exc import IntegrityError

from core.db import db
from core.errors import BusinessRuleError, NotFound
from core.i18n import _
from core.ledger.models import ACCOUNT_KINDS, JournalEntry, JournalLine, LedgerAccount
from core.money import format_cny, from_fen, to_fen

__all__ = ["period_guards", "ensure_account", "post_entry", "reverse_entry"]

LineSpec = tuple[str, Decimal]
"""(account code, signed amount): debit positive, credit negative."""

Source = tuple[str, int | str]
"""What caused an entry, e.g. ``("seed_loan", 12)``."""

period_guards: list[Callable[[date], None]] = []
"""Called with the entry date before anything is posted; a guard refuses by raising.

A later issue registers the closed-month check here (a month signed off after
reconciliation accepts nothing dated in it). Register once, at import or app set-up.
"""


def ensure_account(code: str, name: str, fund: str, kind: str) -> LedgerAccount:
    """The account with this code, created if missing (idempotent).

    An existing account keeps its name; if it belongs to another fund or is of another kind
    the call is refused, since the code would then mean two different things.
    """
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"unknown account kind {kind!r}; expected one of {ACCOUNT_KINDS}")
    if not fund:
        raise ValueError("an account needs a fund")
    account = db.session.scalar(sa.select(LedgerAccount).where(LedgerAccount.code == code))
    if account is None:
        account = LedgerAccount(code=code, name=name, fund=fund, kind=kind)
        db.session.add(account)
        db.session.flush()
        return account
    if account.fund != fund or account.kind != kind:
        raise BusinessRuleError(
            _(
                "会计科目 %(code)s 已存在，但属于基金 %(fund)s、类别 %(kind)s",
                code=code,
                fund=account.fund,
                kind=account.kind,
            )
        )
    return account


def post_entry(
    fund: str,
    entry_date: date,
    memo: str,
    lines: Sequence[LineSpec],
    source: Source | None = None,
    *,
    created_by: str | None = None,
) -> JournalEntry:
    """Post one balanced entry of ``fund`` dated ``entry_date``; return it, posted and flushed.

    Refused with ``BusinessRuleError`` (409), writing nothing: fewer than two lines, a zero
    amount, an amount with more than two decimals, debits different from credits, an
    unknown account, an account of another fund, or a refusal by a period guard.
    ``created_by`` defaults to the logged-in user's username, else ``"system"``.
    """
    _check_header(fund, entry_date)
    amounts = _checked_amounts(lines)
    accounts = _accounts_of(fund, [code for code, _amount in lines])
    resolved = [(accounts[code], amount) for (code, _raw), amount in zip(lines, amounts)]
    return _write(fund, entry_date, memo, resolved, source=source, reverses_id=None, created_by=created_by)


def reverse_entry(
    entry_id: int, entry_date: date, memo: str, *, created_by: str | None = None
) -> JournalEntry:
    """Post the exact negation of posted entry ``entry_id``, dated ``entry_date``, linked by ``reverses_id``.

    The reversal keeps the original's fund and source, so sub-ledgers see both. Refused
    (409): an unposted entry, a date before the original's (the books would show the
    correction before the mistake), a second reversal of the same entry (also refused by
    the UNIQUE ``reverses_id`` when two reversals race), a period guard. Unknown id: 404.
    """
    if isinstance(entry_date, datetime) or not isinstance(entry_date, date):
        raise TypeError("entry_date must be a date (business day), not a datetime")
    original = db.session.get(JournalEntry, entry_id)
    if original is None:
        raise NotFound(_("记账分录 %(id)s 不存在", id=entry_id))
    if not original.posted:
        raise BusinessRuleError(_("记账分录 %(id)s 尚未过账，不能冲销", id=entry_id))
    if entry_date < original.entry_date:
        raise BusinessRuleError(
            _(
                "冲销日期 %(date)s 不能早于原分录日期 %(original)s",
                date=entry_date.isoformat(),
                original=original.entry_date.isoformat(),
            )
        )
    existing = db.session.scalar(sa.select(JournalEntry.id).where(JournalEntry.reverses_id == entry_id))
    if existing is not None:
        raise _already_reversed(entry_id)
    resolved = [(line.account, -line.amount) for line in original.lines]
    source = (original.source_type, original.source_id) if original.source_type is not None else None
    return _write(
        original.fund, entry_date, memo, resolved, source=source, reverses_id=entry_id, created_by=created_by
    )


# ----------------------------------------------------------------------------- internals


def _check_header(fund: str, entry_date: date) -> None:
    if not isinstance(fund, str) or not fund:
        raise ValueError("an entry needs a fund")
    # datetime is a subclass of date: refuse it, a business date has no time of day.
    if isinstance(entry_date, datetime) or not isinstance(entry_date, date):
        raise TypeError("entry_date must be a date (business day), not a datetime")


def _checked_amounts(lines: Sequence[LineSpec]) -> list[Decimal]:
    """The amounts, each a non-zero whole number of fen, debits equal to credits."""
    if len(lines) < 2:
        raise BusinessRuleError(_("记账分录至少需要两行（一借一贷）"))
    amounts: list[Decimal] = []
    for code, amount in lines:
        # A float here is a programming error, not a business refusal: money is never float.
        if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
            raise TypeError(f"amount for {code} must be Decimal, not {type(amount).__name__}")
        try:
            fen = to_fen(amount)
        except ValueError:
            raise BusinessRuleError(
                _("科目 %(code)s 的金额 %(amount)s 超过两位小数", code=code, amount=str(amount))
            ) from None
        if fen == 0:
            raise BusinessRuleError(_("科目 %(code)s 的金额不能为零", code=code))
        amounts.append(from_fen(fen))
    debits = sum((a for a in amounts if a > 0), Decimal("0.00"))
    credits = -sum((a for a in amounts if a < 0), Decimal("0.00"))
    if debits != credits:
        raise BusinessRuleError(
            _(
                "借贷不平衡：借方合计 %(debit)s，贷方合计 %(credit)s",
                debit=format_cny(debits),
                credit=format_cny(credits),
            )
        )
    return amounts


def _accounts_of(fund: str, codes: list[str]) -> dict[str, LedgerAccount]:
    """The accounts named by ``codes`` (one query), all of them belonging to ``fund``."""
    found = {
        account.code: account
        for account in db.session.scalars(sa.select(LedgerAccount).where(LedgerAccount.code.in_(set(codes))))
    }
    for code in codes:
        account = found.get(code)
        if account is None:
            raise BusinessRuleError(_("会计科目 %(code)s 不存在", code=code))
        if account.fund != fund:
            raise BusinessRuleError(
                _("会计科目 %(code)s 属于基金 %(other)s，不能记入基金 %(fund)s", code=code, other=account.fund, fund=fund)
            )
    return found


def _write(
    fund: str,
    entry_date: date,
    memo: str,
    lines: list[tuple[LedgerAccount, Decimal]],
    *,
    source: tuple[str, int | str | None] | None,
    reverses_id: int | None,
    created_by: str | None,
) -> JournalEntry:
    """Insert the entry unposted, insert its lines, then post it: the shape the triggers accept.

    Inside a savepoint, so that a refusal by the database (a race Python could not see)
    leaves the caller's session usable and writes nothing.
    """
    for guard in period_guards:
        guard(entry_date)
    entry = JournalEntry(
        fund=fund,
        entry_date=entry_date,
        memo=memo,
        source_type=source[0] if source else None,
        source_id=None if source is None or source[1] is None else str(source[1]),
        reverses_id=reverses_id,
        posted=False,
        created_by=created_by or _actor(),
    )
    entry.lines = [JournalLine(account=account, amount=amount) for account, amount in lines]
    try:
        with db.session.begin_nested():
            db.session.add(entry)
            db.session.flush()
            entry.posted = True
            db.session.flush()
    except IntegrityError as error:
        reason = str(error.orig)
        if "ledger:" in reason:
            raise BusinessRuleError(
                _("账簿拒绝了该分录（%(reason)s），未记录任何内容", reason=reason[reason.index("ledger:"):].splitlines()[0])
            ) from error
        if reverses_id is not None and "reverses_id" in reason:
            raise _already_reversed(reverses_id) from error
        raise
    return entry


def _already_reversed(entry_id: int) -> BusinessRuleError:
    return BusinessRuleError(_("记账分录 %(id)s 已被冲销，不能重复冲销", id=entry_id))


def _actor() -> str:
    """The username to record: the logged-in user's during a request, else ``system`` (jobs, CLI)."""
    if has_request_context():
        from flask_login import current_user

        if getattr(current_user, "is_authenticated", False):
            return str(current_user.username)
    return "system"
