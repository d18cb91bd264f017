"""Command-line wiring (api.md): every command group registered here."""
from flask import Flask


def register_commands(app: Flask) -> None:
    pass
