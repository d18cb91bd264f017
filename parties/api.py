"""Partner-bank API (api.md "Identity and set-up"): the admin registers banks; everyone may read
them, a bank liaison only its own bank (another bank's id answers 404)."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from core.auth.models import ROLE_VALUES, Role
from core.auth.permissions import roles_required
from parties import queries, services
from parties.schemas import BankCreateSchema, BankListSchema, BankQuerySchema, BankSchema, BankUpdateSchema

blueprint = Blueprint("banks", __name__, description="合作银行：登记与维护（管理员），查询（全部角色，银行联络员仅限本行）")

BEARER = [{"bearerAuth": []}]


@blueprint.route("/banks", methods=["POST"])
@blueprint.doc(security=BEARER, summary="Register a partner bank (admin)")
@blueprint.response(201, BankSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Name or code already used")
@roles_required(Role.ADMIN)
@blueprint.arguments(BankCreateSchema)
def banks_create(body: dict[str, Any]):
    return services.create_bank(body["name"], body["code"])


@blueprint.route("/banks", methods=["GET"])
@blueprint.doc(security=BEARER, summary="List partner banks (a liaison sees only its own bank)")
@blueprint.response(200, BankListSchema)
@roles_required(*ROLE_VALUES)
@blueprint.arguments(BankQuerySchema, location="query")
def banks_list(args: dict[str, Any]):
    items, total = queries.visible_banks(
        search=args["q"], active=args["is_active"], page=args["page"], per_page=args["per_page"]
    )
    return {"items": items, "total": total}


@blueprint.route("/banks/<int:bank_id>", methods=["GET"])
@blueprint.doc(security=BEARER, summary="One partner bank (404 for another bank's liaison)")
@blueprint.response(200, BankSchema)
@roles_required(*ROLE_VALUES)
def banks_get(bank_id: int):
    return queries.visible_bank(bank_id)


@blueprint.route("/banks/<int:bank_id>", methods=["PATCH"])
@blueprint.doc(security=BEARER, summary="Rename or (de)activate a partner bank (admin)")
@blueprint.response(200, BankSchema)
@blueprint.alt_response(409, response="CONFLICT", description="Name already used")
@roles_required(Role.ADMIN)
@blueprint.arguments(BankUpdateSchema)
def banks_update(body: dict[str, Any], bank_id: int):
    bank = queries.get_bank(bank_id)
    return services.update_bank(bank, name=body.get("name"), is_active=body.get("is_active"))
