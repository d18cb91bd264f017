"""Placeholder blueprint; replaced by its owner."""
from flask_smorest import Blueprint

blueprint = Blueprint("core_audit_api", __name__)
