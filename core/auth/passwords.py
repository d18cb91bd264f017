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


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with other cost parameters than the configured ones."""
    try:
        return _hasher().check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


# A hash of nothing in particular, verified against when the username is unknown, so that
# response time does not reveal which usernames exist. It is made once per cost setting: hashing
# on every call would make an unknown username cost twice as much as a known one.
_dummy_hashes: dict[tuple[int, int, int], str] = {}


def dummy_verify(password: str) -> None:
    hasher = _hasher()
    key = (hasher.memory_cost, hasher.time_cost, hasher.parallelism)
    if key not in _dummy_hashes:
        _dummy_hashes[key] = hasher.hash("timing-equaliser")
    verify_password(_dummy_hashes[key], password)


def password_problems(password: str, username: str = "", min_length: int | None = None) -> list[str]:
    """The password rules, as messages for the user (empty when the password is acceptable).

    Rules: at least ``PASSWORD_MIN_LENGTH`` characters (12 unless configured), at most
    ``MAX_PASSWORD_LENGTH``, both letters and digits, not containing the username, and not one of
    the passwords guessers try first (:data:`COMMON_PASSWORDS`, compared ignoring case).
    """
    from core.i18n import _

    if min_length is None:
        min_length = current_app.config["PASSWORD_MIN_LENGTH"] if has_app_context() else DEFAULT_MIN_LENGTH
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(_("密码至少需要 %(n)d 个字符", n=min_length))
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(_("密码不能超过 %(n)d 个字符", n=MAX_PASSWORD_LENGTH))
    if not any(ch.isalpha() for ch in password) or not any(ch.isdigit() for ch in password):
        problems.append(_("密码必须同时包含字母和数字"))
    # A two-letter username would turn up inside many good passwords by chance: only equality counts then.
    name, lowered = username.strip().lower(), password.strip().lower()
    if name and (name == lowered or (len(name) >= 3 and name in lowered)):
        problems.append(_("密码不能包含用户名"))
    if lowered in COMMON_PASSWORDS:
        problems.append(_("该密码过于常见，很容易被猜中，请换一个"))
    return problems


DEFAULT_MIN_LENGTH = 12

# Long enough for any passphrase; bounded so a huge body cannot make hashing expensive.
MAX_PASSWORD_LENGTH = 128

# Passwords of 12+ characters with letters and digits that still top the leaked-password lists
# (English and Chinese keyboard habits); the other rules already refuse the shorter classics.
COMMON_PASSWORDS = frozenset(
    {
        "password1234", "password12345", "password123456", "passw0rd1234", "p@ssw0rd1234", "p@ssword1234",
        "qwerty123456", "qwertyuiop123", "qwe123456789", "qwe123qwe123", "1qaz2wsx3edc", "1q2w3e4r5t6y",
        "1q2w3e4r5t6y7u", "zaq12wsxcde3", "abc123456789", "abcd12345678", "abcd1234abcd", "a12345678910",
        "a123456789012", "123456789abc", "12345678abcd", "admin1234567", "admin123456789", "administrator1",
        "welcome12345", "iloveyou1234", "woaini131452", "woaini520520", "woaini1314520", "aa1234567890",
        "letmein12345", "changeme1234", "test12345678", "user12345678", "root12345678", "asdf12345678",
    }
)
