"""A fund's statement from the ledger: opening balance, movements, closing balance (domain.md §8).

Shared by the seed fund's and the pool's monthly statements (each adds its own figures around it):

* **科目余额表**: every account of the fund with its balance the day before the range, the debits and
  credits posted in the range and the balance at its end. Balances are shown in each account's
  normal direction (assets and expenses on the debit side, equity, liabilities and income on the
  credit side), so a normal balance reads positive;
* **资金收支明细**: every posted entry in the range that moves the cash account, with the receipt or
  payment and the running cash balance, from the opening balance to the closing one.

Only posted entries count (core.ledger.queries). Two balance queries and one entries query.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa

from core.db import db
from core.ledger.models import LedgerAccount
from core.ledger.queries import balances, entries
from core.pdf import Column, TableData

__all__ = ["LedgerStatement", "ledger_statement"]

ZERO = Decimal("0.00")
DEBIT_NORMAL = ("asset", "expense")


@dataclass(frozen=True)
class LedgerStatement:
    fund: str
    start: date
    end: date
    opening_cash: Decimal
    receipts: Decimal
    payments: Decimal
    closing_cash: Decimal
    accounts: TableData
    cash: TableData


def ledger_statement(fund: str, cash_account: str, start: date, end: date, *, numbering: tuple[str, str] = ("", "")) -> LedgerStatement:
    """The statement of ``fund`` from ``start`` to ``end`` inclusive; ``cash_account`` is its bank account.

    ``numbering`` prefixes the two table names (e.g. ``("二、", "三、")``).
    """
    opening = balances(fund, start - timedelta(days=1))
    closing = balances(fund, end)
    posted = entries(fund, start, end)
    accounts = db.session.execute(
        sa.select(LedgerAccount.code, LedgerAccount.name, LedgerAccount.kind)
        .where(LedgerAccount.fund == fund)
        .order_by(LedgerAccount.code)
    ).all()
    debits: dict[str, Decimal] = {}
    credits: dict[str, Decimal] = {}
    cash_rows = []
    running = opening.get(cash_account, ZERO)
    opening_cash, receipts, payments = running, ZERO, ZERO
    for entry in posted:
        cash_moved = ZERO
        for line in entry.lines:
            code = line.account.code
            debits[code] = debits.get(code, ZERO) + line.debit
            credits[code] = credits.get(code, ZERO) + line.credit
            if code == cash_account:
                cash_moved += line.amount
        if cash_moved:
            running += cash_moved
            receipt = cash_moved if cash_moved > 0 else None
            payment = -cash_moved if cash_moved < 0 else None
            receipts += receipt or ZERO
            payments += payment or ZERO
            cash_rows.append((entry.entry_date, entry.id, entry.memo or "", receipt, payment, running))

    def natural(kind: str, balance: Decimal) -> Decimal:
        return balance if kind in DEBIT_NORMAL else -balance

    account_rows = [
        (code, name, "借" if kind in DEBIT_NORMAL else "贷", natural(kind, opening.get(code, ZERO)),
         debits.get(code, ZERO), credits.get(code, ZERO), natural(kind, closing.get(code, ZERO)))
        for code, name, kind in accounts
    ]
    first, second = numbering
    account_table = TableData(
        f"{first}科目余额表",
        (Column("科目编码", "code", 1.9), Column("科目名称", "text", 2.3), Column("方向", "text", 0.45),
         Column("期初余额", "money", 1.2), Column("本期借方", "money", 1.15), Column("本期贷方", "money", 1.15),
         Column("期末余额", "money", 1.2)),
        account_rows,
        total=("合计", None, None, None, sum(debits.values(), ZERO), sum(credits.values(), ZERO), None),
        notes=("余额按科目的正常方向列示（资产、费用类为借方，实收资本、收入类为贷方）；本期借方与贷方合计相等。",),
    )
    cash_table = TableData(
        f"{second}资金收支明细",
        (Column("日期", "date", 0.9), Column("凭证号", "code", 0.6), Column("摘要", "text", 2.8),
         Column("收入（元）", "money", 1.1), Column("支出（元）", "money", 1.1), Column("余额（元）", "money", 1.2)),
        [(None, None, "期初余额", None, None, opening_cash)] + cash_rows,
        total=("本期合计", None, "期末余额", receipts, payments, running),
    )
    return LedgerStatement(
        fund=fund,
        start=start,
        end=end,
        opening_cash=opening_cash,
        receipts=receipts,
        payments=payments,
        closing_cash=running,
        accounts=account_table,
        cash=cash_table,
    )
