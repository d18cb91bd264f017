"""Demonstration data: users of every role, partner banks (later issues add loans and fund activity).

Loaded through the same services as the product, so the demo obeys every rule it shows.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.auth.models import User
from core.auth.services import create_user
from core.db import db
from parties.services import create_bank

DEMO_PASSWORD = "Demo2026pass"

DEMO_BANKS = (
    ("ICBC", "中国工商银行县支行"),
    ("ABC", "中国农业银行县支行"),
    ("RCB", "县农村商业银行"),
)


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: str
    bank_code: str | None = None


DEMO_USERS = (
    DemoUser("admin", "系统管理员", "admin"),
    DemoUser("icbc_liaison", "王丽（工行）", "bank_liaison", "ICBC"),
    DemoUser("abc_liaison", "李强（农行）", "bank_liaison", "ABC"),
    DemoUser("rcb_liaison", "赵敏（农商行）", "bank_liaison", "RCB"),
    DemoUser("officer", "陈经办", "fund_officer"),
    DemoUser("manager", "刘基金管理人", "fund_manager"),
    DemoUser("manager2", "周基金管理人", "fund_manager"),
    DemoUser("auditor", "孙审计", "auditor"),
)


def demo_is_loaded() -> bool:
    return db.session.query(User.id).limit(1).first() is not None


def load_demo() -> dict[str, int]:
    """Create the demo records (flush only: the CLI command commits once)."""
    banks = {code: create_bank(name=name, code=code) for code, name in DEMO_BANKS}
    for spec in DEMO_USERS:
        bank = banks[spec.bank_code] if spec.bank_code else None
        create_user(
            username=spec.username,
            password=DEMO_PASSWORD,
            role=spec.role,
            bank_id=bank.id if bank else None,
            display_name=spec.display_name,
        )
    return {"banks": len(banks), "users": len(DEMO_USERS)}
