"""``core.ledger.queries.balance_history``: the balances of a fund at many days from one pass, equal
to ``balances(fund, day)`` at each of them."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from core.ledger import queries, services

D = Decimal


def test_the_history_equals_the_balances_of_each_day(app_ctx):
    for code, name, fund, kind in (
        ("seed.cash", "种子基金银行存款", "seed", "asset"),
        ("seed.loans", "种子基金应收借款", "seed", "asset"),
        ("seed.capital", "种子基金本金", "seed", "equity"),
        ("seed.idle", "种子基金闲置科目", "seed", "asset"),  # never posted to: zero every day
        ("risk.cash", "风险补偿金银行存款", "risk", "asset"),
        ("risk.capital", "风险补偿金本金", "risk", "equity"),
    ):
        services.ensure_account(code, name, fund, kind)
    start = date(2025, 1, 10)
    for n in range(12):
        day = start + timedelta(days=9 * n)
        services.post_entry("seed", day, "出资", [("seed.cash", D("1000.10") * (n + 1)), ("seed.capital", -D("1000.10") * (n + 1))],
                            source=("contribution", n))
        if n % 3 == 1:
            services.post_entry("seed", day, "放款", [("seed.loans", D("500.00")), ("seed.cash", D("-500.00"))],
                                source=("loan", n))
        services.post_entry("risk", day, "出资", [("risk.cash", D("7.00")), ("risk.capital", D("-7.00"))],
                            source=("risk", n))

    days = [start - timedelta(days=1), start, start + timedelta(days=20), start + timedelta(days=27),
            start + timedelta(days=28), date(2025, 3, 31), date(2025, 12, 31)]
    history = queries.balance_history("seed", days)
    for day in days:
        assert history[day] == queries.balances("seed", day), day
    assert history[start - timedelta(days=1)]["seed.cash"] == D("0.00")
    assert history[date(2025, 12, 31)]["seed.idle"] == D("0.00")
    assert history[date(2025, 12, 31)]["seed.loans"] == D("2000.00")
