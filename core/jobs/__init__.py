"""Scheduled jobs: the run records, the registry and the one code path every run takes.

``core.jobs.runner.run_job`` is called by the scheduler (``config.scheduler``), the command line
(``flask jobs run``), the API (``POST /api/v1/jobs/{name}/run``) and the jobs page alike. The jobs
themselves are registered by ``config.jobs`` (core knows no domain).
"""
