"""Working days (工作日): the public notice counts them (domain.md §5).

A day is a working day when it is a Monday–Friday that is not a public holiday (``holidays``),
or a Saturday/Sunday declared a make-up working day (调休上班, ``workdays``). Administrators keep
both tables; a day cannot be in both.

:func:`add_working_days` is what the notice uses: the ``n``-th working day after a date (the
decision's day itself never counts). The result is stored with the decision, so a holiday added
later does not move a notice that was already published.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from core.db import db
from core.errors import BusinessRuleError, NotFound, ValidationFailed
from core.i18n import _
from funds.models import Holiday, Workday

__all__ = [
    "add_holiday",
    "add_working_days",
    "add_workday",
    "delete_holiday",
    "delete_workday",
    "holidays",
    "is_working_day",
    "working_days_between",
    "workdays",
]

NAME_MAX_LENGTH = 64
SATURDAY = 5


def _special_days(start: date, end: date) -> tuple[set[date], set[date]]:
    """(holidays, make-up working days) between ``start`` and ``end`` inclusive: two small queries."""
    off = set(db.session.scalars(sa.select(Holiday.day).where(Holiday.day.between(start, end))))
    on = set(db.session.scalars(sa.select(Workday.day).where(Workday.day.between(start, end))))
    return off, on


def _working(day: date, off: set[date], on: set[date]) -> bool:
    if day in on:
        return True
    return day.weekday() < SATURDAY and day not in off


def is_working_day(day: date) -> bool:
    off, on = _special_days(day, day)
    return _working(day, off, on)


def add_working_days(start: date, count: int) -> date:
    """The ``count``-th working day after ``start`` (``start`` itself when ``count`` is 0).

    Friday + 1 is the next Monday; a holiday in between is skipped; a make-up Saturday counts.
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a non-negative int, got {count!r}")
    day, remaining = start, count
    # Load the calendar in windows: long holidays (Spring Festival) need more than 2× the count.
    window = max(14, count * 3)
    while remaining:
        off, on = _special_days(day + timedelta(days=1), day + timedelta(days=window))
        for offset in range(1, window + 1):
            candidate = day + timedelta(days=offset)
            if _working(candidate, off, on):
                remaining -= 1
                if remaining == 0:
                    return candidate
        day = day + timedelta(days=window)
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` <= ``start``)."""
    if end <= start:
        return 0
    off, on = _special_days(start + timedelta(days=1), end)
    return sum(1 for n in range(1, (end - start).days + 1) if _working(start + timedelta(days=n), off, on))


# ------------------------------------------------------------------------------ admin: the tables


def holidays(*, year: int | None = None, page: int = 1, per_page: int = 200) -> tuple[Sequence[Holiday], int]:
    return _listing(Holiday, year, page, per_page)


def workdays(*, year: int | None = None, page: int = 1, per_page: int = 200) -> tuple[Sequence[Workday], int]:
    return _listing(Workday, year, page, per_page)


def _listing(model, year: int | None, page: int, per_page: int):
    query = sa.select(model)
    if year is not None:
        query = query.where(model.day.between(date(year, 1, 1), date(year, 12, 31)))
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.subquery())) or 0
    page, per_page = max(1, page), min(max(1, per_page), 200)
    items = db.session.scalars(query.order_by(model.day).limit(per_page).offset((page - 1) * per_page)).all()
    return items, total


def add_holiday(day: date, name: str, *, by_id: int | None) -> Holiday:
    """Declare ``day`` a public holiday. 409 when it is already a holiday or a make-up working day."""
    return _add(Holiday, Workday, day, name, by_id)


def add_workday(day: date, name: str, *, by_id: int | None) -> Workday:
    """Declare ``day`` (a Saturday or Sunday) a make-up working day. 422 on a weekday."""
    if isinstance(day, date) and day.weekday() < SATURDAY:
        raise ValidationFailed(
            _("调休上班日应为周六或周日"), {"date": [_("%(day)s 本来就是工作日", day=day.isoformat())]}
        )
    return _add(Workday, Holiday, day, name, by_id)


def _add(model, other, day: date, name: str, by_id: int | None):
    clean = (name or "").strip() if isinstance(name, str) else ""
    if not clean or len(clean) > NAME_MAX_LENGTH:
        raise ValidationFailed(
            _("提交的数据有误：%(fields)s", fields="name"),
            {"name": [_("请填写名称（不超过 %(max)d 个字符）", max=NAME_MAX_LENGTH)]},
        )
    taken = BusinessRuleError(_("%(day)s 已在节假日或调休日历中", day=day.isoformat()), {"date": [_("该日期已登记")]})
    for table in (model, other):
        if db.session.scalar(sa.select(table.id).where(table.day == day)) is not None:
            raise taken
    row = model(day=day, name=clean, created_by_id=by_id)
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        raise taken from None
    return row


def delete_holiday(holiday_id: int) -> None:
    _delete(Holiday, holiday_id)


def delete_workday(workday_id: int) -> None:
    _delete(Workday, workday_id)


def _delete(model, row_id: int) -> None:
    """Remove a calendar day. Notices already published keep the end date computed with it."""
    row = db.session.get(model, row_id)
    if row is None:
        raise NotFound()
    db.session.delete(row)
    db.session.flush()
