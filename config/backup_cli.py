"""``flask backup create [--output PATH]`` and ``flask backup restore PATH [--force]`` (core.backup).

Both print the same summary of the database (audit chain and its head, each fund's trial balance,
the stored documents' hashes), so the operator can compare the restored database with the one that
was backed up. ``restore`` exits non-zero when the restored database fails any check.
"""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

from config.settings import INSTANCE_DIR
from core import clock
from core.backup import BackupError, DatabaseCheck, create_backup, default_backup_name, restore_backup, verify_database
from core.db import db
from core.money import format_cny

backup_cli = AppGroup("backup", help="备份与恢复 / backup and restore")


def echo_summary(check: DatabaseCheck) -> None:
    if check.audit.ok:
        head = f"，链头 #{check.head[0]} {check.head[1]}" if check.head else ""
        click.echo(f"审计链：完整，{check.audit.events} 条事件{head}")
    else:
        click.echo(f"审计链：已损坏，第一处异常在事件 #{check.audit.first_bad_id}（{check.audit.reason}）", err=True)
    for fund, balance in check.trial_balances.items():
        state = "平衡" if balance.balanced else "不平衡"
        click.echo(
            f"试算平衡 {fund}：借方 {format_cny(balance.total_debit)}，贷方 {format_cny(balance.total_credit)}（{state}）",
            err=not balance.balanced,
        )
    if check.bad_documents:
        ids = "、".join(f"#{document_id}" for document_id in check.bad_documents)
        click.echo(f"文件：{check.documents} 份，其中 {len(check.bad_documents)} 份内容与 SHA-256 不符：{ids}", err=True)
    else:
        click.echo(f"文件：{check.documents} 份，SHA-256 全部一致")


@backup_cli.command("create")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="备份文件路径（默认 instance/backups/）")
def backup_create(output: Path | None) -> None:
    """备份整个数据库（含全部文件）；应用运行时也可执行。"""
    url = db.engine.url
    stamp = clock.now().strftime("%Y%m%dT%H%M%SZ")
    output = output or INSTANCE_DIR / "backups" / default_backup_name(url, stamp)
    db.session.remove()  # the dump takes its own snapshot; hold no transaction meanwhile
    try:
        path = create_backup(url, output)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"备份已写入 {path}（{path.stat().st_size} 字节）。备份时的数据库：")
    echo_summary(verify_database())


@backup_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="目标数据库已有数据时仍然恢复（其内容将被全部替换）")
def backup_restore(path: Path, force: bool) -> None:
    """把备份恢复到当前配置的数据库（须为空库，或加 --force），然后校验审计链、试算平衡和文件哈希。"""
    url = db.engine.url
    # Release this process's connections: the restore replaces the tables they would hold.
    db.session.remove()
    db.engine.dispose()
    try:
        restore_backup(url, path, force=force)
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    db.engine.dispose()
    click.echo(f"已从 {path} 恢复。恢复后的数据库：")
    check = verify_database()
    echo_summary(check)
    if not check.ok:
        raise click.ClickException("恢复后的数据库未通过校验。")
    click.echo("校验通过。")
