"""``flask users ...``: user management for operators (api.md, Command line).

Each command is its own unit of work: it commits once when everything succeeded, and on a
refusal rolls back, prints the reason in Chinese and exits non-zero.
"""
from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from core.audit.trail import acting_as
from core.auth.models import ROLE_VALUES
from core.auth.services import create_user, find_bank_by_code, find_user, set_password
from core.db import db
from core.errors import DomainError
from core.i18n import _

users_cli = AppGroup("users", help="用户管理 / user management")

CLI_ACTOR = "cli"


def _read_password(value: str) -> str:
    """``-`` means: read the password from standard input (first line), so it stays out of the shell history."""
    if value != "-":
        return value
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


def _refuse(message: str) -> None:
    db.session.rollback()
    raise click.ClickException(message)


def _describe(error: DomainError) -> str:
    details = [f"{field}：{'；'.join(messages)}" for field, messages in error.errors.items()]
    if details and error.message not in details:
        return error.message + "\n" + "\n".join(details)
    return error.message


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLE_VALUES), help="角色")
@click.option("--bank", "bank_code", default=None, help="所属银行代码（仅银行联络员）")
@click.option("--password", required=True, help="密码；写 - 则从标准输入读取")
@click.option("--display-name", default="", help="姓名")
def create_command(username: str, role: str, bank_code: str | None, password: str, display_name: str) -> None:
    """创建用户。"""
    bank_id = None
    if bank_code:
        bank = find_bank_by_code(bank_code)
        if bank is None:
            _refuse(_("银行代码 %(code)s 不存在", code=bank_code))
        bank_id = bank.id
    try:
        with acting_as(CLI_ACTOR):
            user = create_user(username, _read_password(password), role, bank_id, display_name)
            db.session.commit()
    except DomainError as refused:
        _refuse(_describe(refused))
    click.echo(_("已创建用户 %(username)s（%(role)s）", username=user.username, role=user.role_label))


@users_cli.command("set-password")
@click.argument("username")
@click.option("--password", required=True, help="新密码；写 - 则从标准输入读取")
def set_password_command(username: str, password: str) -> None:
    """重置用户密码（该用户的所有 API 令牌随之失效）。"""
    user = find_user(username)
    if user is None:
        _refuse(_("用户 %(username)s 不存在", username=username))
    try:
        with acting_as(CLI_ACTOR):
            set_password(user, _read_password(password), field="password")
            db.session.commit()
    except DomainError as refused:
        _refuse(_describe(refused))
    click.echo(_("已重置用户 %(username)s 的密码", username=user.username))
