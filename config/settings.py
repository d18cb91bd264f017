"""Settings classes, one per environment, read from environment variables.

Every variable is listed in README.md (Configuration). Production refuses to start without
``SECRET_KEY`` and ``DATABASE_URL`` and refuses the development secret.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"
DEVELOPMENT_SECRET = "development-only-secret-do-not-deploy"  # nosec B105  # refused in production


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _normalise_db_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here; SQLAlchemy would otherwise look for psycopg2."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


class BaseSettings:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEVELOPMENT_SECRET)
    SQLALCHEMY_DATABASE_URI = _normalise_db_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'app.db'}")
    )
    # A read replica for reports (core/replica.py); unset: reports read the primary.
    REPORTS_DATABASE_URL = (
        _normalise_db_url(os.environ["REPORTS_DATABASE_URL"]) if os.environ.get("REPORTS_DATABASE_URL") else None
    )
    MAX_CONTENT_LENGTH = _int("MAX_UPLOAD_MB", 10) * 1024 * 1024
    JSON_AS_ASCII = False

    # Identity
    TOKEN_TTL_HOURS = _int("TOKEN_TTL_HOURS", 12)
    LOGIN_FAILURE_LIMIT = _int("LOGIN_FAILURE_LIMIT", 10)  # per username per window
    LOGIN_FAILURE_LIMIT_PER_ADDRESS = _int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", 50)
    LOGIN_FAILURE_WINDOW_MINUTES = _int("LOGIN_FAILURE_WINDOW_MINUTES", 15)
    PASSWORD_MIN_LENGTH = _int("PASSWORD_MIN_LENGTH", 12)
    # argon2id cost: RFC 9106's second recommended option (64 MiB, 3 passes).
    ARGON2_MEMORY_KIB = _int("ARGON2_MEMORY_KIB", 65536)
    ARGON2_TIME_COST = _int("ARGON2_TIME_COST", 3)
    # Idle timeout: the login makes the session permanent, its signed cookie is re-signed on every
    # request and refused once its signature is older than this (SESSION_IDLE_MINUTES without a request).
    PERMANENT_SESSION_LIFETIME = _int("SESSION_IDLE_MINUTES", 30) * 60
    SESSION_REFRESH_EACH_REQUEST = True
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # Reverse proxies in front of the app whose X-Forwarded-For / -Proto are believed (0: none);
    # the login throttle then counts the client's address, not the proxy's.
    TRUSTED_PROXIES = _int("TRUSTED_PROXIES", 0)
    HSTS_SECONDS = 0  # Strict-Transport-Security is sent only in production

    # Interface
    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    BABEL_TRANSLATION_DIRECTORIES = str(PROJECT_ROOT / "translations")

    # OpenAPI (flask-smorest); Swagger UI is served from our own static files: no internet needed.
    API_TITLE = "County S&T Finance API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/static/vendor/swagger-ui/"

    # Scheduler
    SCHEDULER_IN_PROCESS = os.environ.get("SCHEDULER_IN_PROCESS", "0") == "1"
    TIMEZONE = "Asia/Shanghai"

    TESTING = False
    DEBUG = False

    @classmethod
    def check(cls) -> None:
        """Refuse configurations that must never run; called by create_app."""


class DevelopmentSettings(BaseSettings):
    DEBUG = False  # the dev server runs without the debugger: it would expose a console


class TestSettings(BaseSettings):
    TESTING = True
    SECRET_KEY = "test-secret"  # nosec B105  # test settings only
    SQLALCHEMY_DATABASE_URI = _normalise_db_url(
        os.environ.get("TEST_DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'test.db'}")
    )
    # Cheap hashes keep the suite fast; the algorithm is the same argon2id.
    ARGON2_MEMORY_KIB = 1024
    ARGON2_TIME_COST = 1


class ProductionSettings(BaseSettings):
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    HSTS_SECONDS = _int("HSTS_SECONDS", 365 * 24 * 3600)

    @classmethod
    def check(cls) -> None:
        missing = [name for name in ("SECRET_KEY", "DATABASE_URL") if not os.environ.get(name)]
        if missing:
            raise RuntimeError(f"production needs these environment variables: {', '.join(missing)}")
        if os.environ["SECRET_KEY"] == DEVELOPMENT_SECRET or len(os.environ["SECRET_KEY"]) < 32:
            raise RuntimeError(
                "SECRET_KEY must be a random value of at least 32 characters in production, not the development "
                "value (generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )


SETTINGS = {
    "development": DevelopmentSettings,
    "test": TestSettings,
    "production": ProductionSettings,
}


def settings_for(name: str | None) -> type[BaseSettings]:
    name = name or os.environ.get("APP_ENV", "development")
    try:
        return SETTINGS[name]
    except KeyError:
        raise RuntimeError(f"APP_ENV must be one of {', '.join(SETTINGS)}, not {name!r}") from None
