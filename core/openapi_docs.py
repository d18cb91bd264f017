"""What the OpenAPI document needs beyond what apispec and flask-smorest generate by themselves.

- apispec documents every ``fields.Decimal`` as ``number``, but ratios and rates leave the API as
  strings (``as_string=True``, e.g. ``"0.050000"``) so no client reads them through a float; the
  document must say ``string``, or every client validating against it rejects our own responses.
- Upload endpoints answer 413 and reference a ``PAYLOAD_TOO_LARGE`` response; flask-smorest only
  registers the names of Python's ``HTTPStatus`` (``REQUEST_ENTITY_TOO_LARGE`` before 3.13,
  ``CONTENT_TOO_LARGE`` after), so the reference dangled and the document did not resolve.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma

PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"


def decimal_strings_as_strings(self: Any, field: ma.fields.Field, **kwargs: Any) -> dict[str, Any]:
    """apispec attribute function: ``Decimal(as_string=True)`` is documented as ``string``."""
    if isinstance(field, ma.fields.Decimal) and field.as_string and "type" not in field.metadata:
        return {"type": "string"}
    return {}


def complete_api_document(api: Any) -> None:
    """Call once per app, after ``api.init_app``."""
    api.ma_plugin.converter.add_attribute_function(decimal_strings_as_strings)
    api.spec.components.response(
        PAYLOAD_TOO_LARGE,
        {
            "description": "Payload Too Large",
            "content": {"application/json": {"schema": api.ERROR_SCHEMA}},
        },
    )
