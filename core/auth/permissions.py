"""Role checks and object-level scope: the questions every view asks before reading or writing.

Rules (domain.md §2): a bank liaison sees and acts only on its own bank's records; another
bank's record is answered with 404, as if it did not exist (api.md), so ids cannot be probed.

Default deny: every endpoint needs an authenticated user (enforced for the whole app by
``core.auth.loaders``) unless it is explicitly marked with ``@public``.
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

from flask_login import current_user

from core.auth.models import Role
from core.errors import Forbidden, NotFound, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])

PUBLIC_ATTR = "is_public_endpoint"

# Endpoints whose view functions belong to a library (bound methods cannot carry an attribute),
# so they are listed by name: static files and the OpenAPI document with its Swagger UI page.
PUBLIC_ENDPOINTS = frozenset({"static", "api-docs.openapi_json", "api-docs.openapi_swagger_ui"})


def public(view: F) -> F:
    """Mark a view (function, MethodView class or one of its methods) as reachable without logging in.

    Everything else is refused to anonymous callers, so forgetting a decorator fails closed.
    The mark survives ``functools.wraps`` (it copies ``__dict__``), so the position among the
    other decorators does not matter.
    """
    setattr(view, PUBLIC_ATTR, True)
    return view


def is_public(endpoint: str | None, view_func: Any, method: str) -> bool:
    """Whether ``endpoint`` (served by ``view_func``) may be called anonymously with ``method``."""
    if endpoint in PUBLIC_ENDPOINTS or (endpoint or "").endswith(".static"):
        return True
    if view_func is None:
        return False
    if getattr(view_func, PUBLIC_ATTR, False):
        return True
    view_class = getattr(view_func, "view_class", None)  # a MethodView registered with as_view()
    if view_class is None:
        return False
    if getattr(view_class, PUBLIC_ATTR, False):
        return True
    handler = getattr(view_class, method.lower(), None)
    if handler is None and method == "HEAD":
        handler = getattr(view_class, "get", None)
    return bool(getattr(handler, PUBLIC_ATTR, False))


def roles_required(*roles: str | Role) -> Callable[[F], F]:
    """401 when nobody is logged in, 403 when the user's role is not one of ``roles``."""
    allowed = {r.value if isinstance(r, Role) else r for r in roles}

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                raise Unauthorized()
            if current_user.role not in allowed:
                raise Forbidden()
            return view(*args, **kwargs)

        wrapper.allowed_roles = frozenset(allowed)  # type: ignore[attr-defined]  # read by the permission matrix
        return wrapper  # type: ignore[return-value]

    return decorator


def scope_to_bank(query: Any, bank_column: Any) -> Any:
    """Restrict a query to the caller's bank when the caller is a bank liaison."""
    if current_user.is_authenticated and current_user.is_liaison:
        return query.where(bank_column == current_user.bank_id)
    return query


def ensure_visible(bank_id: int | None) -> None:
    """404 for a liaison looking at another bank's record (existence is not revealed)."""
    if current_user.is_authenticated and current_user.is_liaison and bank_id != current_user.bank_id:
        raise NotFound()


def ensure_acts_for_own_bank(bank_id: int | None) -> None:
    """A liaison may write only for its own bank; other roles are judged by ``roles_required``."""
    if current_user.is_authenticated and current_user.is_liaison and bank_id != current_user.bank_id:
        raise NotFound()
