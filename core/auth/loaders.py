"""Placeholder: replaced by the identity work (session and bearer-token loading)."""
from flask import Flask

from core.extensions import login_manager


def register_login(app: Flask) -> None:
    login_manager.init_app(app)
