"""Placeholder blueprint; replaced by its owner."""
from flask import Blueprint

blueprint = Blueprint("core_auth_views", __name__)
