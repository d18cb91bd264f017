"""Placeholder blueprint; replaced by its owner."""
from flask import Blueprint

blueprint = Blueprint("config_home", __name__)
