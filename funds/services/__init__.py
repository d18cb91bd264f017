"""The seed fund's rules, one module per job; they flush, never commit (core.unit_of_work).

- ``fund``: the ledger postings, the fund's lock row, contributions, the agent bank;
- ``applications``: taking applications in, registering a team's enterprise, withdrawing;
- ``reviews``: initial review, expert reviews, the manager's decision (four eyes, ``available``);
- ``notice``: objections during the public notice and their resolution;
- ``loans``: contract, disbursement through the agent bank, repayments;
- ``writeoffs``: write-off proposal and approval, recoveries after write-off.

Refusals raise ``core.errors``: 422 a field, 409 a business rule, 404 an unknown record.
"""
from funds.services.applications import link_enterprise, submit_application, withdraw
from funds.services.fund import agent_bank, lock_fund, record_contribution, set_agent_bank
from funds.services.loans import disburse, record_repayment, sign_contract
from funds.services.notice import raise_objection, resolve_objection
from funds.services.reviews import decide, initial_review, record_expert_review
from funds.services.writeoffs import decide_write_off, propose_write_off, record_recovery

__all__ = [
    "agent_bank",
    "decide",
    "decide_write_off",
    "disburse",
    "initial_review",
    "link_enterprise",
    "lock_fund",
    "propose_write_off",
    "raise_objection",
    "record_contribution",
    "record_expert_review",
    "record_recovery",
    "record_repayment",
    "resolve_objection",
    "set_agent_bank",
    "sign_contract",
    "submit_application",
    "withdraw",
]
