"""``flask audit verify``: the operators' check of the hash chain (non-zero exit when broken)."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from core.audit.trail import verify_chain

audit_cli = AppGroup("audit", help="审计日志 / audit trail")


@audit_cli.command("verify")
def verify() -> None:
    """校验审计日志的哈希链；链条损坏时以非零状态退出。"""
    result = verify_chain()
    if result.ok:
        click.echo(f"审计链完整：共 {result.events} 条事件，哈希全部校验通过。")
        return
    click.echo(f"审计链已损坏：第一处异常在事件 #{result.first_bad_id}（已检查 {result.events} 条）。", err=True)
    click.echo(f"原因：{result.reason}", err=True)
    raise SystemExit(1)
