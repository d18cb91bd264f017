"""Role checks and object-level scope: the questions every view asks before reading or writing.

Rules (domain.md §2): a bank liaison sees and acts only on its own bank's records; another
bank's record is answered with 404, as if it did not exist (api.md), so ids cannot be probed.
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

from flask_login import current_user

from core.auth.models import Role
from core.errors import Forbidden, NotFound, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])


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
