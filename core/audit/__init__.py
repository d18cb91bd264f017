"""The append-only, hash-chained audit trail (models, automatic recording, verification, API, CLI).

Importing the package registers the session flush listeners, so any code that loads the models
(``config.import_models``) also records every write.
"""
from core.audit import trail as _trail  # noqa: F401  - registers the flush listeners
