"""Identity services, tokens, throttling and the ``users`` command (below the HTTP layer)."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core import clock
from core.auth import passwords, throttle
from core.auth.models import ApiToken, LoginFailure, User
from core.auth.services import authenticate, change_own_password, create_user, set_password, update_user
from core.auth.tokens import issue_token, revoke_tokens, user_for_token
from core.db import db
from core.errors import BusinessRuleError, TooManyRequests, Unauthorized, ValidationFailed
from tests.conftest import make_user, persist
from tests.factories import DEFAULT_PASSWORD, BankFactory, UserFactory


@pytest.fixture
def frozen():
    """Pin the clock to now; yields a function moving it forward."""
    start = clock.now()
    clock.freeze(start)

    def advance(**delta):
        clock.freeze(clock.now() + timedelta(**delta))

    try:
        yield advance
    finally:
        clock.freeze(None)


# --- tokens -----------------------------------------------------------------------------------------


def test_issue_token_stores_only_the_sha256(app_ctx):
    user = UserFactory()
    raw, token = issue_token(user)
    assert len(raw) >= 43  # 32 random bytes, urlsafe base64
    assert token.id is not None
    assert token.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert raw not in {token.token_hash}
    ttl = app_ctx.config["TOKEN_TTL_HOURS"]
    assert token.expires_at - token.created_at == timedelta(hours=ttl)
    assert user_for_token(raw) == user


def test_user_for_token_refuses_unknown_expired_inactive_and_stale(app_ctx, frozen):
    user = UserFactory()
    raw, _ = issue_token(user)
    assert user_for_token(raw) == user
    assert user_for_token("not-a-token") is None
    assert user_for_token("") is None
    assert user_for_token(None) is None

    frozen(hours=app_ctx.config["TOKEN_TTL_HOURS"], seconds=1)
    assert user_for_token(raw) is None  # expired

    fresh, _ = issue_token(user)
    user.is_active = False
    db.session.flush()
    assert user_for_token(fresh) is None  # deactivated
    user.is_active = True

    frozen(seconds=1)
    user.password_changed_at = clock.now()  # changed after the token was issued
    db.session.flush()
    assert user_for_token(fresh) is None


def test_revoke_tokens_deletes_only_that_users_tokens(app_ctx):
    alice, bob = UserFactory(), UserFactory()
    issue_token(alice)
    issue_token(alice)
    bob_raw, _ = issue_token(bob)
    assert revoke_tokens(alice) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ApiToken).where(ApiToken.user_id == alice.id)) == 0
    assert user_for_token(bob_raw) == bob


# --- passwords ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password, ok",
    [
        ("abcdef123456", True),
        ("Demo2026pass", True),  # the demo password stays valid
        ("abcdef12345", False),  # 11 characters: too short
        ("abcdefghijkl", False),  # no digit
        ("123456789012", False),  # no letter
        ("a1" * 100, False),  # too long
        ("Password1234", False),  # common, whatever the case
        ("qwerty123456", False),  # common
    ],
)
def test_password_rules(app_ctx, password, ok):
    assert (passwords.password_problems(password, "someone") == []) is ok


def test_password_may_not_be_or_contain_the_username(app_ctx):
    assert passwords.password_problems("Zhang2024xyz", "zhang2024xyz")
    assert passwords.password_problems("my-zhang.san-2026", "Zhang.San") == ["密码不能包含用户名"]
    # Two-letter usernames only count when they are the whole password.
    assert passwords.password_problems("safe-ab-2026x", "ab") == []


def test_each_broken_rule_has_its_chinese_message(app_ctx):
    assert passwords.password_problems("short1", "someone") == ["密码至少需要 12 个字符"]
    assert passwords.password_problems("abcdefghijkl", "someone") == ["密码必须同时包含字母和数字"]
    assert passwords.password_problems("abc123456789", "someone") == ["该密码过于常见，很容易被猜中，请换一个"]


def test_hash_is_argon2id_with_configured_cost(app_ctx):
    digest = passwords.hash_password("abc12345")
    assert digest.startswith("$argon2id$")
    assert "m=1024,t=1" in digest
    assert passwords.verify_password(digest, "abc12345")
    assert not passwords.verify_password(digest, "abc12346")
    assert not passwords.verify_password("garbage", "abc12345")


# --- authenticate -------------------------------------------------------------------------------------


def test_authenticate_returns_the_user_and_clears_its_failures(app_ctx):
    user = UserFactory()
    throttle.record_failure(user.username, "10.0.0.1")
    throttle.record_failure("someone-else", "10.0.0.1")
    assert authenticate(user.username, DEFAULT_PASSWORD, "10.0.0.1") == user
    remaining = db.session.scalars(sa.select(LoginFailure.username)).all()
    assert remaining == ["someone-else"]  # the address's other failures keep counting


def test_authenticate_gives_one_message_for_every_failure(app_ctx):
    user = UserFactory()
    inactive = UserFactory(is_active=False)
    messages = set()
    for username, password in [(user.username, "wrong-pass-1"), ("nobody-here", DEFAULT_PASSWORD), (inactive.username, DEFAULT_PASSWORD)]:
        with pytest.raises(Unauthorized) as refused:
            authenticate(username, password, "10.0.0.2")
        messages.add(refused.value.message)
    assert len(messages) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginFailure)) == 3


def test_unknown_username_still_verifies_a_hash(app_ctx, monkeypatch):
    calls = []
    real = passwords.verify_password
    monkeypatch.setattr(passwords, "verify_password", lambda h, p: calls.append(h) or real(h, p))
    with pytest.raises(Unauthorized):
        authenticate("nobody-at-all", "whatever1", "10.0.0.3")
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


def test_throttle_refuses_before_checking_the_password(app_ctx, monkeypatch):
    user = UserFactory()
    for _ in range(app_ctx.config["LOGIN_FAILURE_LIMIT"]):
        throttle.record_failure(user.username, "10.0.0.4")
    monkeypatch.setattr("core.auth.services.verify_password", lambda *a: pytest.fail("password verified while locked out"))
    with pytest.raises(TooManyRequests) as refused:
        authenticate(user.username, DEFAULT_PASSWORD, "10.0.0.5")
    window = app_ctx.config["LOGIN_FAILURE_WINDOW_MINUTES"] * 60
    assert 0 < refused.value.retry_after <= window


def test_throttle_counts_usernames_case_insensitively(app_ctx):
    for _ in range(app_ctx.config["LOGIN_FAILURE_LIMIT"]):
        throttle.record_failure("Zhang.San", "10.0.0.6")
    with pytest.raises(TooManyRequests):
        throttle.check_allowed("zhang.san", "10.0.0.7")


def test_throttle_window_expires(app_ctx, frozen):
    for _ in range(app_ctx.config["LOGIN_FAILURE_LIMIT"]):
        throttle.record_failure("wang", "10.0.0.8")
    with pytest.raises(TooManyRequests) as refused:
        throttle.check_allowed("wang", "10.0.0.9")
    frozen(seconds=refused.value.retry_after)
    throttle.check_allowed("wang", "10.0.0.9")  # no longer refused


# --- creating and changing users ------------------------------------------------------------------------


def test_create_user_hashes_the_password(app_ctx):
    bank = BankFactory()
    user = create_user("liaison.one", "secret123456", "bank_liaison", bank.id, "联络员甲")
    assert user.id and user.is_active and user.bank_id == bank.id
    assert user.display_name == "联络员甲"
    assert user.password_hash.startswith("$argon2id$") and "secret123456" not in user.password_hash


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"role": "bank_liaison"}, "bank_id"),
        ({"role": "fund_officer", "bank_id": "BANK"}, "bank_id"),
        ({"role": "chief"}, "role"),
        ({"role": "auditor", "password": "short1"}, "password"),
        ({"role": "auditor", "password": "onlyletters"}, "password"),
        ({"role": "auditor", "username": "x"}, "username"),
        ({"role": "auditor", "username": "有中文"}, "username"),
    ],
)
def test_create_user_refusals_are_field_errors(app_ctx, kwargs, field):
    bank = BankFactory()
    args = {"username": "new.user", "password": "secret123456", "bank_id": None, **kwargs}
    if args["bank_id"] == "BANK":
        args["bank_id"] = bank.id
    with pytest.raises(ValidationFailed) as refused:
        create_user(**args)
    assert field in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(User).where(User.username == "new.user")) == 0


def test_create_user_refuses_an_inactive_or_unknown_bank(app_ctx):
    closed = BankFactory(is_active=False)
    for bank_id in (closed.id, 999999):
        with pytest.raises(ValidationFailed) as refused:
            create_user("liaison.x", "secret123456", "bank_liaison", bank_id)
        assert "bank_id" in refused.value.errors


def test_create_user_refuses_a_taken_username_whatever_its_case(app_ctx):
    UserFactory(username="li.si")
    with pytest.raises(BusinessRuleError):
        create_user("LI.SI", "secret123456", "auditor")


def test_update_user_moves_a_liaison_to_another_role_without_its_bank(app_ctx):
    user = UserFactory(role="bank_liaison")
    update_user(user, role="fund_officer", display_name="王五")
    assert (user.role, user.bank_id, user.display_name) == ("fund_officer", None, "王五")
    with pytest.raises(ValidationFailed):
        update_user(user, role="bank_liaison")  # a liaison needs a bank
    with pytest.raises(ValidationFailed):
        update_user(user, password_hash="x")  # not a changeable field


def test_the_last_active_admin_cannot_be_deactivated_or_demoted(app_ctx):
    for admin in db.session.scalars(sa.select(User).where(User.role == "admin")):
        admin.is_active = False
    only = UserFactory(role="admin")
    with pytest.raises(BusinessRuleError):
        update_user(only, is_active=False)
    with pytest.raises(BusinessRuleError):
        update_user(only, role="auditor")
    UserFactory(role="admin")
    update_user(only, is_active=False)
    assert not only.is_active


def test_set_password_revokes_tokens_and_moves_the_stamp(app_ctx, frozen):
    user = UserFactory()
    raw, _ = issue_token(user)
    before = user.password_changed_at
    frozen(seconds=1)
    set_password(user, "another12345")
    assert user.password_changed_at > before
    assert passwords.verify_password(user.password_hash, "another12345")
    assert user_for_token(raw) is None
    with pytest.raises(ValidationFailed) as refused:
        set_password(user, "weak")
    assert "new_password" in refused.value.errors


def test_change_own_password_needs_the_current_one(app_ctx):
    user = UserFactory()
    with pytest.raises(ValidationFailed) as refused:
        change_own_password(user, "not-my-password1", "another12345", "10.0.0.10")
    assert "current_password" in refused.value.errors
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LoginFailure)) == 1  # counts as a failure
    with pytest.raises(ValidationFailed):
        change_own_password(user, DEFAULT_PASSWORD, DEFAULT_PASSWORD, "10.0.0.10")
    change_own_password(user, DEFAULT_PASSWORD, "another12345", "10.0.0.10")
    assert passwords.verify_password(user.password_hash, "another12345")


# --- the users command ---------------------------------------------------------------------------------


def _user_named(app, username):
    with app.app_context():
        return db.session.scalar(sa.select(User).where(User.username == username))


def test_cli_users_create(app, runner):
    result = runner.invoke(args=["users", "create", "zhao.liu", "--role", "auditor", "--password", "secret123456"])
    assert result.exit_code == 0, result.output
    assert "已创建用户 zhao.liu" in result.output
    user = _user_named(app, "zhao.liu")
    assert user.role == "auditor" and passwords.verify_password(user.password_hash, "secret123456")


def test_cli_users_create_reads_the_password_from_stdin(app, runner):
    with app.app_context():
        bank_id = persist(BankFactory(code="CLI01")).id
    result = runner.invoke(
        args=["users", "create", "qian.qi", "--role", "bank_liaison", "--bank", "CLI01", "--password", "-"],
        input="fromstdin4242\n",
    )
    assert result.exit_code == 0, result.output
    user = _user_named(app, "qian.qi")
    assert user.bank_id == bank_id
    assert passwords.verify_password(user.password_hash, "fromstdin4242")
    assert "fromstdin4242" not in result.output


@pytest.mark.parametrize(
    "args, words",
    [
        (["sun.ba", "--role", "bank_liaison", "--password", "secret123456"], "所属银行"),
        (["sun.ba", "--role", "bank_liaison", "--bank", "NOPE", "--password", "secret123456"], "NOPE"),
        (["sun.ba", "--role", "auditor", "--password", "weak"], "密码"),
    ],
)
def test_cli_users_create_refusals_exit_non_zero_and_write_nothing(app, runner, args, words):
    result = runner.invoke(args=["users", "create", *args])
    assert result.exit_code != 0
    assert words in result.output
    assert _user_named(app, "sun.ba") is None


def test_cli_users_create_refuses_a_duplicate(app, runner):
    make_user(app, "auditor", username="zhou.jiu")
    result = runner.invoke(args=["users", "create", "zhou.jiu", "--role", "auditor", "--password", "secret123456"])
    assert result.exit_code != 0
    assert "已被使用" in result.output


def test_cli_users_set_password(app, runner):
    make_user(app, "auditor", username="wu.shi")
    result = runner.invoke(args=["users", "set-password", "wu.shi", "--password", "-"], input="brandnew7777\n")
    assert result.exit_code == 0, result.output
    assert passwords.verify_password(_user_named(app, "wu.shi").password_hash, "brandnew7777")
    result = runner.invoke(args=["users", "set-password", "nobody", "--password", "brandnew7777"])
    assert result.exit_code != 0
