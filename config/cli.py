"""Command-line wiring (api.md): every command group is registered here.

CLI commands are their own unit of work: each commits once at the end, or not at all.
"""
from __future__ import annotations

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


def register_commands(app: Flask) -> None:
    from core.audit.cli import audit_cli
    from core.auth.cli import users_cli
    from config.jobs_cli import jobs_cli, scheduler_cli

    app.cli.add_command(demo_cli)
    app.cli.add_command(users_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(jobs_cli)
    app.cli.add_command(scheduler_cli)
