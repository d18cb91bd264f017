"""Placeholder: template filters and globals (replaced by the interface work)."""
from flask import Flask


def register_template_helpers(app: Flask) -> None:
    pass
