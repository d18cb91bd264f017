"""Documents API payloads: the list's filters, a document's record, an on-demand statement request."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import validate

from core import clock
from core.documents.models import KINDS, OWNER_TYPES
from core.documents.queries import MAX_PER_PAGE, kind_label
from core.documents.statements import MAX_STATEMENT_DAYS
from core.documents.store import PERIOD_PATTERN
from core.i18n import _l

REQUIRED = {"required": _l("此字段为必填项"), "null": _l("此字段不能为空")}
DATE_INVALID = _l("应为 YYYY-MM-DD 格式的日期")
ONE_OF = _l("应为以下之一：{choices}")


class DocumentQuerySchema(ma.Schema):
    kind = ma.fields.String(
        load_default=None, validate=validate.OneOf(KINDS, error=ONE_OF),
        metadata={"description": "`contract`, `compensation_notice`, `bank_statement`, `fund_statement`, "
                                 "`reconciliation` or `progress`"},
    )
    period = ma.fields.String(
        load_default=None, validate=validate.Regexp(PERIOD_PATTERN, error=_l("应为 YYYY-MM 格式的月份")),
        metadata={"description": "The month a periodic document covers, `YYYY-MM`"},
    )
    bank_id = ma.fields.Integer(load_default=None, error_messages={"invalid": _l("应为整数")})
    owner_type = ma.fields.String(load_default=None, validate=validate.OneOf(OWNER_TYPES, error=ONE_OF))
    owner_id = ma.fields.Integer(load_default=None, error_messages={"invalid": _l("应为整数")})
    q = ma.fields.String(load_default=None, validate=validate.Length(max=100),
                         metadata={"description": "Text searched in titles and document numbers"})
    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, error=_l("页码至少为 1")),
                             error_messages={"invalid": _l("应为整数")})
    per_page = ma.fields.Integer(
        load_default=50, validate=validate.Range(min=1, max=MAX_PER_PAGE, error=_l("每页条数应在 1 到 200 之间")),
        error_messages={"invalid": _l("应为整数")},
    )


class DocumentSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    kind_label = ma.fields.Function(lambda document: kind_label(document.kind))
    title = ma.fields.String()
    number = ma.fields.String(allow_none=True, metadata={"description": "The document number (文件编号) in its footer"})
    period = ma.fields.String(allow_none=True, metadata={"description": "`YYYY-MM`, or null"})
    period_start = ma.fields.Date(allow_none=True)
    period_end = ma.fields.Date(allow_none=True)
    owner_type = ma.fields.String(allow_none=True)
    owner_id = ma.fields.Integer(allow_none=True)
    bank_id = ma.fields.Integer(allow_none=True)
    bank_name = ma.fields.Function(lambda document: document.bank.name if document.bank is not None else None)
    version = ma.fields.Integer(metadata={"description": "1, 2, …: a new version never replaces an old one"})
    sha256 = ma.fields.String(metadata={"description": "SHA-256 (hex) of the PDF's bytes"})
    size = ma.fields.Integer(metadata={"description": "Bytes"})
    created_at = ma.fields.DateTime()
    created_by = ma.fields.String()
    has_rows = ma.fields.Boolean(metadata={"description": "Whether the underlying rows can be downloaded as Excel"})
    pdf_url = ma.fields.Function(lambda document: f"/api/v1/documents/{document.id}/pdf")
    rows_url = ma.fields.Function(
        lambda document: f"/api/v1/statements/{document.id}/rows.xlsx" if document.has_rows else None
    )


class DocumentListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DocumentSchema))
    total = ma.fields.Integer()


class StatementCreateSchema(ma.Schema):
    """A statement for one bank or one fund, over any date range (inclusive)."""

    bank_id = ma.fields.Integer(load_default=None, allow_none=True, error_messages={"invalid": _l("应为整数")},
                                metadata={"description": "The bank (give this or `fund`)"})
    fund = ma.fields.String(load_default=None, allow_none=True,
                            metadata={"description": "`seed` (创业种子基金) or `risk` (风险补偿资金池); give this or `bank_id`"})
    start = ma.fields.Date(required=True, error_messages={**REQUIRED, "invalid": DATE_INVALID})
    end = ma.fields.Date(required=True, error_messages={**REQUIRED, "invalid": DATE_INVALID})

    @ma.validates_schema
    def _one_owner_and_a_range(self, data: dict[str, Any], **kwargs: Any) -> None:
        errors: dict[str, list[str]] = {}
        if (data.get("bank_id") is None) == (data.get("fund") is None):
            errors["bank_id"] = [str(_l("请指定银行（bank_id）或基金（fund）之一"))]
        start, end = data.get("start"), data.get("end")
        if start is not None and end is not None:
            if end < start:
                errors["end"] = [str(_l("截止日期不能早于起始日期"))]
            elif end > clock.today():
                errors["end"] = [str(_l("截止日期不能晚于今天"))]
            elif (end - start).days + 1 > MAX_STATEMENT_DAYS:
                errors["end"] = [str(_l("一次最多出具 %(days)s 天的报表", days=MAX_STATEMENT_DAYS))]
        if errors:
            raise ma.ValidationError(errors)
