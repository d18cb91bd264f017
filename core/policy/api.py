"""Policy API (api.md "Identity and set-up"): everyone reads the versions, the admin adds one."""
from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from core import clock
from core.auth.models import ROLE_VALUES, Role
from core.auth.permissions import roles_required
from core.errors import BusinessRuleError, NotFound
from core.policy import services
from core.policy.schemas import (
    PolicyCreateSchema,
    PolicyListQuerySchema,
    PolicyListSchema,
    PolicyOnQuerySchema,
    PolicySchema,
)

blueprint = Blueprint("policies", __name__, description="政策参数：按生效日期管理的版本（管理员新增版本，全部角色可查询）")

BEARER = [{"bearerAuth": []}]


@blueprint.route("/policies/current", methods=["GET"])
@blueprint.doc(security=BEARER, summary="The policy version in force today (or on ?on=YYYY-MM-DD)")
@blueprint.response(200, PolicySchema)
@blueprint.alt_response(404, response="NOT_FOUND", description="No version is in force on that day")
@roles_required(*ROLE_VALUES)
@blueprint.arguments(PolicyOnQuerySchema, location="query")
def policies_current(args: dict[str, Any]):
    try:
        return services.policy_in_force(args["on"] or clock.today())
    except BusinessRuleError as missing:  # a day before the first version: nothing to show
        raise NotFound(missing.message) from None


@blueprint.route("/policies", methods=["GET"])
@blueprint.doc(security=BEARER, summary="Every policy version, newest effective date first")
@blueprint.response(200, PolicyListSchema)
@roles_required(*ROLE_VALUES)
@blueprint.arguments(PolicyListQuerySchema, location="query")
def policies_list(args: dict[str, Any]):
    items, total = services.list_policies(page=args["page"], per_page=args["per_page"])
    return {"items": items, "total": total}


@blueprint.route("/policies/<int:policy_id>", methods=["GET"])
@blueprint.doc(security=BEARER, summary="One policy version")
@blueprint.response(200, PolicySchema)
@roles_required(*ROLE_VALUES)
def policies_get(policy_id: int):
    return services.get_policy(policy_id)


@blueprint.route("/policies", methods=["POST"])
@blueprint.doc(security=BEARER, summary="Add a policy version (admin); numbers not given are copied")
@blueprint.response(201, PolicySchema)
@blueprint.alt_response(409, response="CONFLICT", description="A version already takes effect on that day")
@roles_required(Role.ADMIN)
@blueprint.arguments(PolicyCreateSchema)
def policies_create(body: dict[str, Any]):
    """Numbers not in the body are copied from the version in force on ``effective_from``."""
    changes = {key: value for key, value in body.items() if key not in ("effective_from", "note")}
    return services.create_policy_version(
        changes, body["effective_from"], current_user.username, note=body.get("note", "")
    )
