"""Placeholder blueprint; replaced by its owner."""
from flask import Blueprint

blueprint = Blueprint("parties_views", __name__)
