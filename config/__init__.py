"""The application factory: a short list of ``register_*`` steps.

Only this package imports every other one (the dependency rule of the architecture).
"""
from __future__ import annotations

from typing import Any

from flask import Flask

from config.settings import INSTANCE_DIR, PROJECT_ROOT, settings_for
from core.db import engine_options


def create_app(env: str | None = None, **overrides: Any) -> Flask:
    settings = settings_for(env)
    settings.check()
    app = Flask(
        __name__,
        instance_path=str(INSTANCE_DIR),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_object(settings)
    app.config.update(overrides)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        **engine_options(app.config["SQLALCHEMY_DATABASE_URI"]), **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
    }
    INSTANCE_DIR.mkdir(exist_ok=True)

    register_proxies(app)
    register_extensions(app)
    register_blueprints(app)
    register_domain_hooks(app)
    register_error_handlers(app)
    register_unit_of_work(app)
    register_templates(app)
    register_security_headers(app)
    register_cli(app)
    register_jobs(app)
    register_scheduler(app)
    return app


def register_proxies(app: Flask) -> None:
    """Behind ``TRUSTED_PROXIES`` reverse proxies, believe their X-Forwarded-For and -Proto (and only theirs).

    Then ``request.remote_addr`` is the client's address (the login throttle counts it) and
    ``request.scheme`` the client's. Off by default: without a proxy those headers are the caller's to forge.
    """
    hops = int(app.config.get("TRUSTED_PROXIES") or 0)
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def register_security_headers(app: Flask) -> None:
    from core.security_headers import register_security_headers as register

    register(app)


def register_extensions(app: Flask) -> None:
    from core.db import db
    from core.extensions import api, csrf, migrate
    from core.i18n import register_i18n
    from core.auth.loaders import register_login
    from core.openapi_docs import complete_api_document
    from core.routing import register_id_bounds

    import_models()
    register_id_bounds(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    register_i18n(app)
    register_login(app)
    api.init_app(app)
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    complete_api_document(api)


def import_models() -> None:
    """Every model module, so metadata (and Alembic) sees the whole schema."""
    import core.audit.models  # noqa: F401
    import core.auth.models  # noqa: F401
    import core.documents.models  # noqa: F401
    import core.jobs.models  # noqa: F401
    import core.ledger.models  # noqa: F401
    import core.periods  # noqa: F401
    import core.reconciliation  # noqa: F401
    import core.policy.models  # noqa: F401
    import funds.models  # noqa: F401
    import loans.models  # noqa: F401
    import parties.models  # noqa: F401
    import risk.models  # noqa: F401


def register_blueprints(app: Flask) -> None:
    from core.extensions import api, csrf
    from config.home import blueprint as home
    from core.audit.api import blueprint as audit_api
    from core.auth.api import blueprint as auth_api
    from core.auth.views import blueprint as auth_views
    from core.policy.api import blueprint as policy_api
    from core.policy.views import blueprint as policy_views
    from parties.api import blueprint as parties_api
    from parties.api import enterprises_blueprint as enterprises_api
    from parties.views import blueprint as parties_views
    from loans.progress_api import blueprint as progress_api
    from loans.progress_views import blueprint as progress_views
    from loans.batch_api import blueprint as loans_batch_api
    from loans.batch_views import blueprint as loans_batch_views
    from loans.api import blueprint as loans_api
    from loans.views import blueprint as loans_views
    from funds.api import blueprint as seed_api
    from funds.api import calendar_blueprint as calendar_api
    from funds.views import blueprint as seed_views
    from risk.api import blueprint as risk_api
    from core.documents.api import blueprint as documents_api
    from core.documents.views import blueprint as documents_views
    from core.jobs.api import blueprint as jobs_api
    from core.jobs.views import blueprint as jobs_views
    from risk.views import blueprint as risk_views
    from config.reconciliation_api import blueprint as reconciliation_api
    from config.reconciliation_views import blueprint as reconciliation_views

    app.register_blueprint(home)
    app.register_blueprint(auth_views)
    app.register_blueprint(parties_views)
    app.register_blueprint(policy_views)
    app.register_blueprint(progress_views)
    app.register_blueprint(loans_batch_views)
    app.register_blueprint(loans_views)
    app.register_blueprint(seed_views)
    app.register_blueprint(documents_views)
    app.register_blueprint(jobs_views)
    app.register_blueprint(risk_views)
    app.register_blueprint(reconciliation_views)
    for blueprint in (
        auth_api, audit_api, parties_api, policy_api, enterprises_api, progress_api, loans_batch_api, loans_api,
        seed_api, calendar_api, risk_api, jobs_api, reconciliation_api, documents_api,
    ):
        # The API authenticates with bearer tokens only (never the session cookie), so CSRF cannot apply.
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix="/api/v1")


def register_domain_hooks(app: Flask) -> None:
    """Cross-domain reactions that the dependency rule keeps out of the domains themselves.

    The risk pool decides each new loan's coverage (loans never imports risk). The hook lists are
    module-level, so registering is idempotent across several apps in one process (tests).
    """
    from loans.services import loan_created_hooks
    from risk.services.coverage import decide_coverage

    if decide_coverage not in loan_created_hooks:
        loan_created_hooks.append(decide_coverage)

    # On-demand statements need every domain; core.documents calls whatever is registered.
    from config.documents_jobs import register_statement_builder

    register_statement_builder()


def register_error_handlers(app: Flask) -> None:
    from core.errors import register_error_handlers as register

    register(app)


def register_unit_of_work(app: Flask) -> None:
    from core.unit_of_work import register_unit_of_work as register

    register(app)


def register_templates(app: Flask) -> None:
    from core.templating import register_template_helpers

    register_template_helpers(app)


def register_cli(app: Flask) -> None:
    from config.cli import register_commands

    register_commands(app)


def register_jobs(app: Flask) -> None:
    """The scheduled jobs, by name, for the scheduler, ``flask jobs run``, the API and the jobs page."""
    from config.jobs import register_jobs as register

    register()


def register_scheduler(app: Flask) -> None:
    """The in-process scheduler of ``make run`` (SCHEDULER_IN_PROCESS); never in tests or ``flask`` commands."""
    from config.scheduler import register_scheduler as register

    register(app)
