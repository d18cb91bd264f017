"""Password hashing with argon2id (memory-hard), its cost taken from the app settings."""
from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_app_context

_DEFAULT = PasswordHasher()  # library defaults: RFC 9106 low-memory profile


def _hasher() -> PasswordHasher:
    if not has_app_context():
        return _DEFAULT
    cfg = current_app.config
    return PasswordHasher(memory_cost=cfg["ARGON2_MEMORY_KIB"], time_cost=cfg["ARGON2_TIME_COST"], parallelism=1)


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; argon2 encodes its own parameters, so old hashes keep verifying."""
    try:
        return _hasher().verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


# A hash of nothing in particular, verified against when the username is unknown, so that
# response time does not reveal which usernames exist.
def dummy_verify(password: str) -> None:
    verify_password(hash_password("timing-equaliser"), password)
