"""Command-line wiring (api.md): every command group is registered here.

CLI commands are their own unit of work: each commits once at the end, or not at all.
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click
from flask import Flask
from flask.cli import AppGroup

from core.db import db

demo_cli = AppGroup("demo", help="演示数据 / demonstration data")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Do nothing when users already exist (used by `make run`).")
def demo_load(if_empty: bool) -> None:
    """加载演示用户、银行等数据。"""
    from core.audit.trail import acting_as
    from config.demo import demo_is_loaded, load_demo

    if demo_is_loaded():
        if if_empty:
            click.echo("演示数据已存在，跳过。")
            return
        raise click.ClickException("数据库中已有用户：演示数据只能加载到空数据库中。")
    with acting_as("demo-loader"):
        counts = load_demo()
        db.session.commit()
    click.echo("已加载演示数据：" + "，".join(f"{name} {count}" for name, count in counts.items()))


@demo_cli.command("generate")
@click.option("--loans", "loans", type=click.IntRange(1, 1_000_000), required=True, help="贷款笔数 / number of loans.")
@click.option("--months", type=click.IntRange(1, 120), default=24, show_default=True,
              help="时间窗口（截至今天的月数）/ months of history ending today.")
@click.option("--seed", type=int, default=2026, show_default=True, help="随机种子 / seed: same seed, same data.")
@click.option("--banks", type=click.IntRange(3, 500), default=None,
              help="合作银行数（默认：3 家起，每 2,500 笔贷款增加 1 家）/ banks (default from --loans).")
@click.option("--enterprises", type=click.IntRange(10, 5_000_000), default=None,
              help="企业数（默认按贷款笔数与月数推算）/ enterprises (default from --loans and --months).")
@click.option("--commit-every", type=click.IntRange(100, 1_000_000), default=2000, show_default=True,
              help="每提交一次的记录数 / records per commit.")
def demo_generate(loans: int, months: int, seed: int, banks: int | None, enterprises: int | None,
                  commit_every: int) -> None:
    """生成省级规模的合成数据（全部经由业务服务登记）。

    \b
    银行、乡镇与企业（含信用评级）、贷款（分笔放款、按时或逾期还款、部分违约）、风险补偿资金池
    出资（市级、县级）、各状态的代偿申请与追偿，以及种子基金申请与借款（两名基金管理人四眼审批）；
    日期分布在截至今天的 --months 个月内（种子基金沿用演示数据的两年经历；逾期 90 天以上的不良贷款
    及其代偿申请需要约 15 个月以上的窗口），同一 --seed 生成相同的数据。用户密码同演示数据。

    只能在空数据库中运行：已有用户、银行、企业或贷款时拒绝执行，不写入任何数据
    （不支持追加；请使用新的数据库）。
    """
    from core.audit.trail import acting_as
    from config.demo import DEMO_ACTOR
    from config.generate import GenerateSize, database_is_empty, default_banks, default_enterprises, generate

    if not database_is_empty():
        raise click.ClickException("数据库中已有数据：合成数据只能生成到空数据库中（未写入任何数据）。")
    size = GenerateSize(
        loans=loans,
        months=months,
        seed=seed,
        banks=banks or default_banks(loans),
        enterprises=enterprises or default_enterprises(loans, months),
        commit_every=commit_every,
    )
    bars = _ProgressBars()
    try:
        with acting_as(DEMO_ACTOR):
            counts = generate(size, progress=bars.open)
    finally:
        bars.close()
    click.echo("已生成合成数据：" + "，".join(f"{name} {count}" for name, count in counts.items()))
    if counts.get("loans", 0) < loans:
        click.echo(f"注意：企业的评级与授信额度只容纳 {counts.get('loans', 0)} 笔贷款（少于 {loans} 笔）；"
                   "可用 --enterprises 增加企业数。", err=True)


class _ProgressBars:
    """One progress bar per phase on stderr; opening the next closes the previous one."""

    def __init__(self) -> None:
        self.bar: Any = None

    def open(self, label: str, length: int) -> Callable[[int], None]:
        self.close()
        self.bar = click.progressbar(length=max(length, 1), label=label, file=sys.stderr, show_pos=True)
        self.bar.__enter__()
        return self.bar.update

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def register_commands(app: Flask) -> None:
    from core.audit.cli import audit_cli
    from core.auth.cli import users_cli
    from config.backup_cli import backup_cli
    from config.jobs_cli import jobs_cli, scheduler_cli

    app.cli.add_command(demo_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(scheduler_cli)
    app.cli.add_command(backup_cli)
