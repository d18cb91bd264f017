"""The pool's chart of accounts on the ledger (fund ``risk``).

============================  ==========  ==========================================================
``risk.cash``                 asset       the pool's bank account
``risk.contributions.city``   equity      paid in by the city (实收资本·市级), a credit balance
``risk.contributions.county`` equity      paid in by the county (实收资本·县级)
``risk.compensation.city``    expense     compensation paid, the city's part (代偿支出·市级)
``risk.compensation.county``  expense     compensation paid, the county's part (代偿支出·县级)
``risk.recoveries.city``      income      recoveries returned to the pool, the city's part (追偿收回·市级)
``risk.recoveries.county``    income      recoveries returned to the pool, the county's part (追偿收回·县级)
============================  ==========  ==========================================================

City and county attribution is by **sub-accounts** (one account per source) rather than by a tag on
the lines: a trial balance then shows each government's contributions, compensation and recoveries
directly, and ``paid_in`` / ``paid_out`` / ``recovered`` are sums of two balances.

Postings: contribution Dr cash / Cr contributions.<source>; payment of a claim Dr compensation.city
(city share) + Dr compensation.county (county share) / Cr cash (pool share); recovery Dr cash (pool
part) / Cr recoveries.city + Cr recoveries.county. Zero lines are left out (the ledger refuses them).
**Approved-unpaid claims are not posted**: no money moves until they are paid; the queue is read
from the claims. Hence ``cash = contributions − compensation + recoveries`` at every date.
"""
from __future__ import annotations

FUND = "risk"
CASH = "risk.cash"
CONTRIBUTIONS = {"city": "risk.contributions.city", "county": "risk.contributions.county"}
COMPENSATION = {"city": "risk.compensation.city", "county": "risk.compensation.county"}
RECOVERIES = {"city": "risk.recoveries.city", "county": "risk.recoveries.county"}

# (code, name, kind): names are the books' own (Chinese), like every account of the ledger.
ACCOUNTS: tuple[tuple[str, str, str], ...] = (
    (CASH, "风险补偿资金池银行存款", "asset"),
    (CONTRIBUTIONS["city"], "风险补偿资金池实收资本（市级）", "equity"),
    (CONTRIBUTIONS["county"], "风险补偿资金池实收资本（县级）", "equity"),
    (COMPENSATION["city"], "风险补偿代偿支出（市级）", "expense"),
    (COMPENSATION["county"], "风险补偿代偿支出（县级）", "expense"),
    (RECOVERIES["city"], "风险补偿追偿收回（市级）", "income"),
    (RECOVERIES["county"], "风险补偿追偿收回（县级）", "income"),
)
