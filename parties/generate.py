"""A province-sized registry for ``flask demo generate`` (config/generate.py calls this): banks'
branches, enterprises in many counties' towns, and their yearly ratings over the generated window.

The same kind of registry as ``parties.demo`` (its towns, industries, trade names, credit codes and
rating rhythm), at any size: the towns are prefixed with invented county names once the registry
outgrows one county, and company names are made unique by the county or a second trade name.
Every record goes through ``parties.services``; everything is drawn from the caller's seeded
``random.Random`` (the same seed and day give the same registry). Dates are never after ``today``.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from core.db import db
from parties.demo import (
    FIRST_GRADE_WEIGHTS,
    INDUSTRIES,
    TOWNS,
    TRADE_NAMES,
    _credit_code,
    _rating_history,
    _weighted,
)
from parties.services import create_bank, create_enterprise, rate_enterprise

__all__ = ["BorrowerRecord", "PlannedEnterprise", "RatingRecord", "bank_specs", "create_banks", "plan_registry", "record_registry"]

# Invented counties (no real place is meant); the first is the demo's own county.
COUNTIES = (
    "青山县", "云溪县", "临川县", "白石县", "松阳县", "清河县", "安平县", "长乐县", "丰源县", "永宁县",
    "桃江县", "柳林县", "泰和县", "龙泉县", "凤台县", "兴宁县", "金溪县", "玉屏县", "宁远县", "新安县",
    "平湖县", "东阳县", "南丰县", "西林县", "北川县", "宜山县", "广德县", "怀远县", "定远县", "崇文县",
    "明溪县", "嘉陵县", "德化县", "仁寿县", "乐安县", "福安县", "寿宁县", "和平县", "永丰县", "天台县",
)
ENTERPRISES_PER_COUNTY = 400
# Partner banks: (code, name) of the brand; the n-th county's branch gets a numbered code.
BANK_BRANDS = (
    ("ICBC", "中国工商银行"), ("ABC", "中国农业银行"), ("RCB", "农村商业银行"), ("BOC", "中国银行"),
    ("CCB", "中国建设银行"), ("BOCOM", "交通银行"), ("PSBC", "中国邮政储蓄银行"), ("CIB", "兴业银行"),
    ("CMB", "招商银行"), ("CITIC", "中信银行"), ("SPDB", "浦发银行"), ("CEB", "中国光大银行"),
)
NOT_SCIENCE_TECH_PERCENT = 6
FLAGGED_PERMILLE = 15  # each of bad credit and dishonest list
UNRATED_PERCENT = 3
HIGH_TECH_PERCENT = 30


@dataclass(frozen=True)
class PlannedEnterprise:
    name: str
    credit_code: str
    registered_on: date
    town: str
    industry: str
    is_science_tech: bool
    is_high_tech: bool
    bad_credit: bool
    dishonest: bool
    ratings: tuple[tuple[str, date], ...]  # (grade, rated_on), oldest first

    @property
    def may_borrow(self) -> bool:
        """A rated science-tech enterprise without a flag (the generated banks lend to no flagged one)."""
        return self.is_science_tech and bool(self.ratings) and not (self.bad_credit or self.dishonest)


@dataclass(frozen=True)
class RatingRecord:
    grade: str
    rated_on: date
    valid_until: date
    credit_line: Decimal


@dataclass(frozen=True)
class BorrowerRecord:
    """A recorded enterprise that may borrow, with its ratings as stored (the loan planner's input)."""

    enterprise_id: int
    ratings: tuple[RatingRecord, ...]


def bank_specs(count: int) -> list[tuple[str, str]]:
    """``count`` partner banks as (code, name): the demo's three first (ICBC, ABC, RCB of the first
    county), then the other brands, then the next county's branches (codes numbered: ``BOC02``)."""
    specs = []
    for index in range(count):
        county_no, brand = divmod(index, len(BANK_BRANDS))
        code, name = BANK_BRANDS[brand]
        county = COUNTIES[county_no % len(COUNTIES)]
        suffix = "" if county_no == 0 else f"{county_no + 1:02d}"
        round_no = "" if county_no < len(COUNTIES) else f"第{county_no // len(COUNTIES) + 1}"
        specs.append((f"{code}{suffix}", f"{name}{county}{round_no}支行"))
    return specs


def create_banks(specs: list[tuple[str, str]]) -> dict[str, int]:
    """Create the banks through the services; their ids by code."""
    return {code: create_bank(name=name, code=code).id for code, name in specs}


# ------------------------------------------------------------------------------------------ planning


def plan_registry(count: int, *, today: date, window_days: int, rng: random.Random) -> Iterator[PlannedEnterprise]:
    """``count`` enterprises, lazily (a province's registry need not sit in memory twice).

    The first evaluation of a rated enterprise falls in the window (three in five in its first
    quarter), its re-evaluations follow yearly as in the demo; registration precedes the first rating.
    """
    counties = COUNTIES[: max(1, min(len(COUNTIES), -(-count // ENTERPRISES_PER_COUNTY)))]
    town_names = [town for town, _weight in TOWNS]
    town_weights = [weight for _town, weight in TOWNS]
    industry_names = [name for name, _weight, _words in INDUSTRIES]
    industry_weights = [weight for _name, weight, _words in INDUSTRIES]
    words = {name: trade_words for name, _weight, trade_words in INDUSTRIES}
    used_names: set[str] = set()
    used_codes: set[str] = set()
    for _index in range(count):
        county = rng.choice(counties)
        town = rng.choices(town_names, weights=town_weights)[0]
        industry = rng.choices(industry_names, weights=industry_weights)[0]
        roll = rng.randrange(1000)
        bad_credit = roll < FLAGGED_PERMILLE
        dishonest = FLAGGED_PERMILLE <= roll < 2 * FLAGGED_PERMILLE
        science_tech = rng.randrange(100) >= NOT_SCIENCE_TECH_PERCENT
        rated = science_tech and rng.randrange(100) >= UNRATED_PERCENT
        high_tech = science_tech and rng.randrange(100) < HIGH_TECH_PERCENT
        ratings: tuple[tuple[str, date], ...] = ()
        if rated:
            first_grade = rng.choice("DE") if bad_credit or dishonest else _weighted(FIRST_GRADE_WEIGHTS, rng)
            quarter = max(window_days // 4, 6)
            if rng.randrange(100) < 60 and window_days > quarter + 10:
                first_offset = rng.randint(window_days - quarter, window_days - 5)
            else:
                first_offset = rng.randint(min(30, window_days - 5), max(window_days - 5, 31))
            first_rated_on = today - timedelta(days=max(first_offset, 1))
            own = random.Random(rng.getrandbits(64))  # nosec B311  # reproducible demo data
            ratings = tuple(_rating_history(first_grade, first_rated_on, today, own))
            registered_on = first_rated_on - timedelta(days=rng.randint(70, 15 * 365))
        else:
            registered_on = today - timedelta(days=rng.randint(100, 18 * 365))
        name = _unique_name(rng, county if len(counties) > 1 else "", words[industry], used_names)
        code = _credit_code(registered_on, rng)
        while code in used_codes:
            code = _credit_code(registered_on, rng)
        used_codes.add(code)
        yield PlannedEnterprise(
            name=name,
            credit_code=code,
            registered_on=registered_on,
            town=f"{county}{town}" if len(counties) > 1 else town,
            industry=industry,
            is_science_tech=science_tech,
            is_high_tech=high_tech,
            bad_credit=bad_credit,
            dishonest=dishonest,
            ratings=ratings,
        )


def _unique_name(rng: random.Random, county: str, trade_words: tuple[str, ...], used: set[str]) -> str:
    """A company name not used yet: trade name + trade word + form; then with the county's name
    (without 县) in front; then with a two-syllable trade name made of two others."""
    suffix = "股份有限公司" if rng.randrange(100) < 15 else "有限公司"
    candidates = [f"{rng.choice(TRADE_NAMES)}{rng.choice(trade_words)}{suffix}" for _try in range(3)]
    place = county.removesuffix("县")
    candidates += [f"{place}{rng.choice(TRADE_NAMES)}{rng.choice(trade_words)}{suffix}" for _try in range(3)]
    for candidate in candidates:
        if candidate not in used:
            used.add(candidate)
            return candidate
    while True:
        first, second = rng.sample(TRADE_NAMES, 2)
        candidate = f"{place}{first[0]}{second[1]}{rng.choice(trade_words)}{suffix}"
        if candidate not in used:
            used.add(candidate)
            return candidate


# ------------------------------------------------------------------------------------------ recording


def record_registry(
    planned: Iterator[PlannedEnterprise],
    *,
    created_by: str,
    commit: Callable[[], None],
    commit_every: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[BorrowerRecord], dict[str, int]]:
    """Register and rate the planned enterprises through the services, calling ``commit`` every
    ``commit_every`` enterprises; returns the enterprises that may borrow (with their ratings as
    stored) and the counts. Only plain values are kept, so committed rows leave the memory."""
    borrowers: list[BorrowerRecord] = []
    enterprises = ratings = pending = 0
    for plan in planned:
        enterprise = create_enterprise(
            name=plan.name,
            credit_code=plan.credit_code,
            registered_on=plan.registered_on,
            town=plan.town,
            industry=plan.industry,
            is_science_tech=plan.is_science_tech,
            is_high_tech=plan.is_high_tech,
            bad_credit=plan.bad_credit,
            dishonest=plan.dishonest,
        )
        stored = tuple(
            RatingRecord(rating.grade, rating.rated_on, rating.valid_until, rating.credit_line)
            for rating in (rate_enterprise(enterprise, grade, rated_on, created_by) for grade, rated_on in plan.ratings)
        )
        enterprises += 1
        ratings += len(stored)
        if plan.may_borrow:
            borrowers.append(BorrowerRecord(enterprise.id, stored))
        pending += 1
        if pending >= commit_every:
            commit()
            pending = 0
        if progress is not None:
            progress(1)
    db.session.flush()
    return borrowers, {"enterprises": enterprises, "ratings": ratings}
