"""``flask jobs run NAME [--period]``, ``flask jobs list`` and ``flask scheduler run`` (api.md).

``jobs run`` is the scheduler's own code path (``core.jobs.runner.run_job``) with a progress bar in the
terminal. Exit status: 0 when the period is done (this run succeeded, was skipped as having nothing to
do, or had already succeeded), 1 when the run failed or another runner is on it, or the job or period
is refused.
"""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import AppGroup

from core.errors import DomainError
from core.jobs.models import RunStatus
from core.jobs.queries import last_runs
from core.jobs.runner import ALREADY_RUNNING, ALREADY_SUCCEEDED, registered_jobs, run_job

jobs_cli = AppGroup("jobs", help="定时任务 / scheduled jobs")
scheduler_cli = AppGroup("scheduler", help="调度进程 / the scheduler process")


class ProgressBar:
    """``on_progress(done, total)`` drawn as a click progress bar (a new bar when the total changes)."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar = None
        self.total: int | None = None
        self.position = 0

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:
            return
        if self.bar is None or total != self.total:
            self.close()
            self.bar = click.progressbar(length=total, label=self.label, show_pos=True, show_percent=True)
            self.bar.__enter__()
            self.total, self.position = total, 0
        if done > self.position:
            self.bar.update(done - self.position)
            self.position = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@jobs_cli.command("run")
@click.argument("name")
@click.option("--period", help="YYYY-MM（月度任务，默认上月）或 YYYY-MM-DD（每日任务，默认今天）")
def jobs_run(name: str, period: str | None) -> None:
    """立即运行一个定时任务（与调度进程相同的代码路径）。"""
    bar = ProgressBar(name)
    try:
        run = run_job(name, period, triggered_by="cli", on_progress=bar)
    except DomainError as refused:
        details = "；".join(message for messages in refused.errors.values() for message in messages)
        if refused.code == 404:
            details = "可用的任务：" + "、".join(job.name for job in registered_jobs())
        raise click.ClickException(refused.message + (f"（{details}）" if details else "")) from None
    finally:
        bar.close()
    if run.outcome == ALREADY_SUCCEEDED:
        click.echo(f"{run.job} {run.period} 已于 {run.finished_at:%Y-%m-%d %H:%M} 成功运行，本次跳过。")
        return
    if run.outcome == ALREADY_RUNNING:
        raise click.ClickException(f"{run.job} {run.period} 正在由另一进程运行，本次未运行。")
    click.echo(f"{run.job} {run.period}: {run.status}（第 {run.attempts} 次，用时 {run.duration_ms} 毫秒）")
    if run.result:
        click.echo(json.dumps(run.result, ensure_ascii=False, indent=2))
    if run.status == RunStatus.FAILED.value:
        raise click.ClickException(f"运行失败：{run.error}")
    if run.status == RunStatus.SKIPPED.value and run.error:
        click.echo(f"跳过：{run.error}")


@jobs_cli.command("list")
def jobs_list() -> None:
    """列出定时任务、运行时间和最近一次运行。"""
    latest = last_runs()
    for job in registered_jobs():
        run = latest.get(job.name)
        last = f"{run.period} {run.status}" if run else "尚未运行"
        kind = "每日" if job.period_kind == "day" else "月度"
        click.echo(f"{job.name:<24} {job.label}｜{job.schedule or '手动'}｜{kind}｜最近：{last}")


@scheduler_cli.command("run")
def scheduler_run() -> None:
    """调度进程：按计划运行定时任务，直到被中断（每个部署只运行一个）。"""
    from config.scheduler import run_blocking

    click.echo("调度进程已启动（Asia/Shanghai），按 Ctrl+C 停止。")
    run_blocking(current_app._get_current_object())
