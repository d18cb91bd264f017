"""The double-entry ledger every movement of the seed fund's and the pool's money is posted to.

Write with ``core.ledger.services`` (``ensure_account``, ``post_entry``, ``reverse_entry``,
``period_guards``), read with ``core.ledger.queries`` (``balance``, ``balances``,
``trial_balance``, ``entries``). ``core.ledger.ddl`` holds the database triggers that
enforce the zero-sum and append-only rules where the data lives.
"""
