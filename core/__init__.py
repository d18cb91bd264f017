"""Domain-free building blocks: money, ledger, identity, audit, errors, i18n.

Nothing in here may import ``parties``, ``loans``, ``funds``, ``risk`` or ``config``
(checked by ``tests/test_architecture.py``).
"""
