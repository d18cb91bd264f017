"""Partner-bank and enterprise API (api.md "Identity and set-up", "Enterprises").

Banks: the admin registers them; everyone may read them, a bank liaison only its own bank
(another bank's id answers 404). Enterprises: the admin, fund officers and bank liaisons register
them, the admin and fund officers edit and rate them; everyone reads the whole registry.
"""
from __future__ import annotations

from typing import Any

from flask_login import current_user
from flask_smorest import Blueprint

from core import clock
from core.auth.models import ROLE_VALUES, Role
from core.auth.permissions import roles_required
from parties import queries, services
from parties.models import Enterprise
from parties.schemas import (
    BankCreateSchema,
    BankListSchema,
    BankQuerySchema,
    BankSchema,
    BankUpdateSchema,
    EnterpriseCreateSchema,
    EnterpriseListSchema,
    EnterpriseQuerySchema,
    EnterpriseSchema,
    EnterpriseUpdateSchema,
    RatingCreateSchema,
    RatingListSchema,
    RatingQuerySchema,
    RatingSchema,
)

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


# ------------------------------------------------------------------------------------ enterprises

enterprises_blueprint = Blueprint(
    "enterprises",
    __name__,
    description="企业：登记（管理员、基金经办、银行联络员）、修改与评级（管理员、基金经办），查询（全部角色）",
)

REGISTRARS = (Role.ADMIN, Role.FUND_OFFICER, Role.BANK_LIAISON)
EDITORS = (Role.ADMIN, Role.FUND_OFFICER)
ENTERPRISE_COLUMNS = (
    "id", "name", "credit_code", "registered_on", "town", "industry",
    "is_science_tech", "is_high_tech", "bad_credit", "dishonest", "created_at",
)


def enterprise_payload(enterprise: Enterprise, position: queries.CreditPosition) -> dict[str, Any]:
    """The enterprise's fields with its credit position (the output of ``EnterpriseSchema``)."""
    return {
        **{column: getattr(enterprise, column) for column in ENTERPRISE_COLUMNS},
        "grade": position.grade,
        "rated_on": position.rating.rated_on if position.rating else None,
        "credit_line": position.credit_line,
        "rating_valid_until": position.valid_until,
        "outstanding_principal": position.exposure,
        "disbursed_outstanding": position.outstanding,
        "available_line": position.available_line,
    }


def _with_position(enterprise: Enterprise) -> dict[str, Any]:
    return enterprise_payload(enterprise, queries.credit_position(enterprise.id, clock.today()))


@enterprises_blueprint.route("/enterprises", methods=["POST"])
@enterprises_blueprint.doc(security=BEARER, summary="Register an enterprise (admin, fund officer, bank liaison)")
@enterprises_blueprint.response(201, EnterpriseSchema)
@enterprises_blueprint.alt_response(409, response="CONFLICT", description="Credit code already registered")
@roles_required(*REGISTRARS)
@enterprises_blueprint.arguments(EnterpriseCreateSchema)
def enterprises_create(body: dict[str, Any]):
    """422 with ``errors.credit_code`` when the check character is wrong; 409 for a registered code."""
    return _with_position(services.create_enterprise(**body))


@enterprises_blueprint.route("/enterprises", methods=["GET"])
@enterprises_blueprint.doc(security=BEARER, summary="Search the enterprise registry (everyone)")
@enterprises_blueprint.response(200, EnterpriseListSchema)
@roles_required(*ROLE_VALUES)
@enterprises_blueprint.arguments(EnterpriseQuerySchema, location="query")
def enterprises_list(args: dict[str, Any]):
    items, total = queries.search_enterprises(**args)
    positions = queries.credit_positions([e.id for e in items], clock.today())
    return {"items": [enterprise_payload(e, positions[e.id]) for e in items], "total": total}


@enterprises_blueprint.route("/enterprises/<int:enterprise_id>", methods=["GET"])
@enterprises_blueprint.doc(security=BEARER, summary="One enterprise with its grade and lines as of today")
@enterprises_blueprint.response(200, EnterpriseSchema)
@roles_required(*ROLE_VALUES)
def enterprises_get(enterprise_id: int):
    return _with_position(queries.get_enterprise(enterprise_id))


@enterprises_blueprint.route("/enterprises/<int:enterprise_id>", methods=["PATCH"])
@enterprises_blueprint.doc(security=BEARER, summary="Edit an enterprise (admin, fund officer); not its credit code")
@enterprises_blueprint.response(200, EnterpriseSchema)
@roles_required(*EDITORS)
@enterprises_blueprint.arguments(EnterpriseUpdateSchema)
def enterprises_update(body: dict[str, Any], enterprise_id: int):
    enterprise = queries.get_enterprise(enterprise_id)
    return _with_position(services.update_enterprise(enterprise, **body))


@enterprises_blueprint.route("/enterprises/<int:enterprise_id>/ratings", methods=["POST"])
@enterprises_blueprint.doc(security=BEARER, summary="Record a grade A–E (admin, fund officer): sets the credit line")
@enterprises_blueprint.response(201, RatingSchema)
@enterprises_blueprint.alt_response(409, response="CONFLICT", description="Already rated that day")
@roles_required(*EDITORS)
@enterprises_blueprint.arguments(RatingCreateSchema)
def enterprises_rate(body: dict[str, Any], enterprise_id: int):
    enterprise = queries.get_enterprise(enterprise_id)
    return services.rate_enterprise(
        enterprise, body["grade"], body["rated_on"] or clock.today(), current_user.username
    )


@enterprises_blueprint.route("/enterprises/<int:enterprise_id>/ratings", methods=["GET"])
@enterprises_blueprint.doc(security=BEARER, summary="Rating history of an enterprise, newest first")
@enterprises_blueprint.response(200, RatingListSchema)
@roles_required(*ROLE_VALUES)
@enterprises_blueprint.arguments(RatingQuerySchema, location="query")
def enterprises_ratings(args: dict[str, Any], enterprise_id: int):
    queries.get_enterprise(enterprise_id)
    ratings = queries.ratings_of(enterprise_id)
    start = (args["page"] - 1) * args["per_page"]
    return {"items": ratings[start : start + args["per_page"]], "total": len(ratings)}
