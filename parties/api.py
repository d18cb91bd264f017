"""Placeholder blueprint; replaced by its owner."""
from flask_smorest import Blueprint

blueprint = Blueprint("parties_api", __name__)
