"""The seed fund's chart of accounts on the ledger (fund ``seed``); see ``funds.services.fund``."""
from __future__ import annotations

FUND = "seed"
CASH = "seed.cash"
LOANS_RECEIVABLE = "seed.loans_receivable"
CONTRIBUTIONS = "seed.contributions"
WRITTEN_OFF = "seed.written_off"
RECOVERIES = "seed.recoveries"

# (code, name, kind): names are the books' own (Chinese), like every account of the ledger.
ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    (CASH, "种子基金银行存款", "asset"),
    (LOANS_RECEIVABLE, "种子基金借款应收本金", "asset"),
    (CONTRIBUTIONS, "种子基金实收资本", "equity"),
    (WRITTEN_OFF, "种子基金核销损失", "expense"),
    (RECOVERIES, "种子基金核销后收回", "income"),
)
