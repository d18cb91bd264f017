"""Days past due and the five-tier classification: moved to :mod:`core.dpd` (domain-free, shared with funds)."""
from core.dpd import *  # noqa: F401,F403
from core.dpd import __all__  # noqa: F401
