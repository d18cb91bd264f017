"""Demonstration enterprises and their ratings, for ``flask demo load`` (config/demo.py calls this).

About sixty enterprises of a county's science-and-technology registry: natural Chinese company names,
valid unified social credit codes (check characters computed, never copied), spread over the county's
eight towns and streets and its seven target industries; most are registered science-tech enterprises,
about a third high-tech, two carry a bad-credit or dishonest-list flag. The science-tech enterprises
are rated A–E (weighted toward B and C) by the city's yearly evaluation: a first rating at some point
of the last two years, then a new one shortly before each expires, the grade sometimes moving a step.

Everything goes through ``parties.services``, so every rule of the registry holds for the demo, and
everything is drawn from the caller's seeded ``random.Random``: the same seed and day give the same data.
Dates are never after ``today`` (which must not be after ``core.clock.today()``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from core.policy.models import GRADES
from parties.credit_code import credit_code_check_char
from parties.services import create_enterprise, rate_enterprise

__all__ = ["ENTERPRISE_COUNT", "INDUSTRIES", "TOWNS", "load_enterprises_demo"]

ENTERPRISE_COUNT = 60
HISTORY_DAYS = 730  # ratings (and, in loans/demo.py, loans) fall in the two years before today

# Town or street, and how many of the county's tech firms it hosts (integer weights: no float anywhere).
TOWNS: tuple[tuple[str, int], ...] = (
    ("城关镇", 10),
    ("经济开发区", 18),
    ("高新园区", 18),
    ("东城街道", 10),
    ("西城街道", 9),
    ("南湖镇", 7),
    ("北山镇", 6),
    ("临江镇", 7),
)

# Industry, its weight, and the words that make a company name read as that trade.
INDUSTRIES: tuple[tuple[str, int, tuple[str, ...]], ...] = (
    ("软件和信息技术服务业", 12, ("软件科技", "信息技术", "网络科技", "数据科技", "智能科技")),
    ("高端装备制造", 11, ("智能装备", "精密机械", "机电科技", "自动化科技", "数控设备")),
    ("新材料", 8, ("新材料科技", "高分子材料", "复合材料", "纳米科技")),
    ("生物医药", 8, ("生物科技", "医药科技", "生物医药", "制药")),
    ("电子信息", 10, ("电子科技", "光电科技", "微电子", "通信技术", "半导体")),
    ("节能环保", 6, ("环保科技", "节能科技", "新能源科技", "环境工程")),
    ("现代农业科技", 7, ("农业科技", "生态农业", "种业科技", "食品科技")),
)

# Trade names (字号): neutral words, no place names, no well-known brands.
TRADE_NAMES = (
    "瑞达", "恒通", "华鼎", "启明", "云帆", "精诚", "博远", "鑫源", "天工", "新锐",
    "宏图", "卓越", "安泰", "联创", "青禾", "绿源", "睿智", "星河", "领航", "德润",
    "汇智", "金桥", "蓝海", "远景", "致远", "华康", "明德", "泽润", "嘉禾", "同创",
    "众合", "凯达", "信诺", "弘毅", "君泰", "瀚海", "正元", "朗润", "晨曦", "凌云",
    "九章", "天衡", "盛世", "永信", "新元", "科瑞", "通达", "方圆", "普华", "佳合",
    "东升", "鼎盛", "力拓", "思源", "立信", "和瑞", "银河", "昊天", "锦程", "优创",
    "百川", "品诚", "创源", "智远", "华信", "聚能", "光启", "捷通", "清源", "鸿业",
)

# Grade of the first evaluation, weighted toward B and C.
FIRST_GRADE_WEIGHTS = {"A": 10, "B": 32, "C": 33, "D": 15, "E": 10}

# A region code that belongs to no real county (the demo invents its county), used in every code.
REGION = "339021"
# Characters of the organisation-code part that are also legal in a credit code (GB 32100 has no I, O, Z, S, V).
ORG_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organisation code check
NEW_CODES_FROM = date(2015, 10, 1)  # from then on, new organisation codes start with "MA"


@dataclass(frozen=True)
class _Profile:
    name: str
    credit_code: str
    registered_on: date
    town: str
    industry: str
    is_science_tech: bool
    is_high_tech: bool
    bad_credit: bool
    dishonest: bool
    rated: bool
    first_grade: str
    first_rated_on: date | None


def load_enterprises_demo(*, today: date, rng: random.Random, created_by: str) -> dict[str, int]:
    """Register the demo enterprises and rate them; returns ``{"enterprises": n, "ratings": n}``.

    Flushes only (the caller commits). ``today`` is the last day anything may be dated.
    """
    profiles = _profiles(today, rng)
    ratings = 0
    for profile in profiles:
        enterprise = create_enterprise(
            name=profile.name,
            credit_code=profile.credit_code,
            registered_on=profile.registered_on,
            town=profile.town,
            industry=profile.industry,
            is_science_tech=profile.is_science_tech,
            is_high_tech=profile.is_high_tech,
            bad_credit=profile.bad_credit,
            dishonest=profile.dishonest,
        )
        if not profile.rated or profile.first_rated_on is None:
            continue
        # One generator per enterprise, seeded from the shared one: how many ratings fit before
        # today depends on the calendar, and must not shift every later draw of the demo.
        own = random.Random(rng.getrandbits(64))  # nosec B311  # reproducible demo data
        for grade, rated_on in _rating_history(profile.first_grade, profile.first_rated_on, today, own):
            rate_enterprise(enterprise, grade, rated_on, created_by)
            ratings += 1
    return {"enterprises": len(profiles), "ratings": ratings}


# ------------------------------------------------------------------------------------------ planning


def _profiles(today: date, rng: random.Random) -> list[_Profile]:
    """The registry: every town and industry present at least twice, then drawn by weight."""
    count = ENTERPRISE_COUNT
    towns = _spread([town for town, _w in TOWNS], [weight for _t, weight in TOWNS], count, rng)
    industries = _spread([name for name, _w, _words in INDUSTRIES], [w for _n, w, _words in INDUSTRIES], count, rng)
    words = {name: trade_words for name, _w, trade_words in INDUSTRIES}
    trade_names = rng.sample(TRADE_NAMES, count)

    # Roles by position in a shuffled order: a few not (yet) recognised as science-tech, two flagged
    # (rated, never borrowing: the loans demo skips them), two science-tech still awaiting their first
    # evaluation, about 30% high-tech among the rest.
    order = list(range(count))
    rng.shuffle(order)
    not_science_tech = set(order[:4])
    bad_credit = {order[4]}
    dishonest = {order[5]}
    unrated = set(order[6:8])
    high_tech = set(order[8 : 8 + count * 3 // 10])

    used_codes: set[str] = set()
    profiles = []
    for index in range(count):
        industry = industries[index]
        suffix = "股份有限公司" if rng.randrange(100) < 15 else "有限公司"
        name = f"{trade_names[index]}{rng.choice(words[industry])}{suffix}"
        # Founded 2.2 to 18 years ago: always before the first rating of the last two years.
        registered_on = today - timedelta(days=rng.randint(HISTORY_DAYS + 70, 18 * 365))
        code = _credit_code(registered_on, rng)
        while code in used_codes:
            code = _credit_code(registered_on, rng)
        used_codes.add(code)
        flagged = index in bad_credit or index in dishonest
        science_tech = index not in not_science_tech
        first_grade = rng.choice("DE") if flagged else _weighted(FIRST_GRADE_WEIGHTS, rng)
        # The first evaluation: three quarters in the first quarter of the window (the round of two
        # years ago), the others spread over the rest, the latest a month ago.
        if rng.randrange(100) < 75:
            first_offset = rng.randint(HISTORY_DAYS - 185, HISTORY_DAYS - 5)
        else:
            first_offset = rng.randint(30, HISTORY_DAYS - 185)
        profiles.append(
            _Profile(
                name=name,
                credit_code=code,
                registered_on=registered_on,
                town=towns[index],
                industry=industry,
                is_science_tech=science_tech,
                is_high_tech=science_tech and index in high_tech,
                bad_credit=index in bad_credit,
                dishonest=index in dishonest,
                rated=science_tech and index not in unrated,
                first_grade=first_grade,
                first_rated_on=today - timedelta(days=first_offset),
            )
        )
    return profiles


def _rating_history(first_grade: str, first_rated_on: date, today: date, rng: random.Random) -> list[tuple[str, date]]:
    """(grade, rated_on) from the first evaluation to today: each re-evaluation a few days to a month
    before the previous rating expires (so the enterprise stays rated), the grade now and then a step
    up or down; one enterprise in twelve is not re-evaluated and its rating lapses."""
    history = [(first_grade, first_rated_on)]
    grade, rated_on = first_grade, first_rated_on
    while True:
        next_on = _same_day_next_year(rated_on) - timedelta(days=rng.randint(1, 30))
        if next_on > today or rng.randrange(12) == 0:
            return history
        step = rng.choice((-1, 0, 0, 0, 0, 0, 1))
        grade = GRADES[min(max(GRADES.index(grade) + step, 0), len(GRADES) - 1)]
        rated_on = next_on
        history.append((grade, rated_on))


def _same_day_next_year(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return date(day.year + 1, 3, 1)


def _spread(values: list[str], weights: list[int], count: int, rng: random.Random) -> list[str]:
    """``count`` values: each at least twice, the rest drawn by weight, in random order."""
    chosen = [value for value in values for _twice in range(2)]
    chosen += rng.choices(values, weights=weights, k=count - len(chosen))
    rng.shuffle(chosen)
    return chosen


def _weighted(weights: dict[str, int], rng: random.Random) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _credit_code(registered_on: date, rng: random.Random) -> str:
    """A unified social credit code as a county's market regulator issues it: "91" (a company),
    the region, the 9-character organisation code (with its own GB 11714 check character; "MA…"
    for companies founded since October 2015), then the GB 32100 check character."""
    if registered_on >= NEW_CODES_FROM:
        body = "MA" + "".join(rng.choice(ORG_ALPHABET) for _i in range(6))
    else:
        body = "".join(rng.choice("0123456789") for _i in range(8))
    first17 = "91" + REGION + body + _organisation_check_char(body)
    return first17 + credit_code_check_char(first17)


def _organisation_check_char(body: str) -> str:
    """GB 11714: C9 = 11 − Σ(value × weight) mod 11, written X for 10 and 0 for 11 (letters A=10 … Z=35)."""
    total = sum(int(char, 36) * weight for char, weight in zip(body, ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))
