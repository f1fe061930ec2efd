"""Synthetic JSONL input: the ``zhuzhou-2022`` profile of ``referrals generate``.

Two years (2021 and 2022) of referrals, case lifecycles and payments for the shipped
Zhuzhou organisation whose 2022 annual report gives the figures of the bureau's summary:
92 referrals received, 58 major housing cases filed, 263万元 collected, +26 % on 2021.

The figures hold for every seed by construction, not by luck:

- the counts are fixed per *role* (a balancing major case, another major case, a general
  case, a rejected one, a merged referral, ...); only times, places, texts and amounts are
  drawn from ``random.Random(seed)``;
- each year's collection is made exact by the *balancing* cases: major housing cases
  decided early in the year and paid in full within it. Every other case's amount is drawn
  first; what the year still needs is then shared out among the balancing cases, each
  between 30 000 and 110 000 yuan. The caps below (``_CAPS``) keep what the other cases
  can pay in a year under the target minus the balancing cases' minimum, so the share-out
  is always feasible; ``_balance`` checks it anyway.

Pure and deterministic: no clock, no global random state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from random import Random
from typing import Any

from streams.organisation import Organisation

PROFILES = ("zhuzhou-2022",)
CST = timezone(timedelta(hours=8))  # Asia/Shanghai has had no DST since 1991
MAJOR_FEN = 3_000_000  # the default threshold: 30 000 yuan
TARGET_2022_FEN = 263_000_000
# 2021 collected X must give round_half_up(100 * (T - X) / X, 1) == 26.0; X is drawn from
# well inside the interval that does, (208 647 362.1, 208 812 227.07].
TARGET_2021_RANGE = (208_660_000, 208_800_000)
BALANCE_MAX_FEN = 11_000_000
LAST_DATE = datetime(2023, 6, 20, 18, 0, tzinfo=CST)  # nothing later is generated

# Fixed counts per year and role. HOUSING "major" roles are major decisions; nothing else
# is. 2022 referrals: 70 housing + 12 traffic + 10 environment = 92. Major cases filed in
# 2022: 24 balancing + 32 others + the 2 referred in late Dec 2021 and filed in Jan 2022.
_HOUSING_ROLES = {
    2021: {"balance": 22, "major": 14, "spill": 4, "dec_file": 2, "general": 12, "rejected": 4},
    2022: {"balance": 24, "major": 32, "dec_file": 1, "general": 8, "rejected": 3, "open": 2},
}
# traffic / environment: own cases (small fines, exemptions, rejections) and merged ones
_PARTNER_ROLES = {
    2021: {"TRAFFIC_POLICE": (7, 1, 1, 1), "ENVIRONMENT": (5, 1, 1, 1)},
    2022: {"TRAFFIC_POLICE": (7, 2, 1, 2), "ENVIRONMENT": (6, 1, 1, 2)},
}  # (fined, exempted, rejected, merged)
# Amount ranges in fen by role (inclusive).
_AMOUNTS = {
    "balance": (MAJOR_FEN, BALANCE_MAX_FEN),
    "major": (MAJOR_FEN, 3_800_000),
    "spill": (MAJOR_FEN, 3_800_000),
    "dec_file": (MAJOR_FEN, 3_800_000),
    "general": (300_000, 2_500_000),
    "TRAFFIC_POLICE": (20_000, 1_000_000),
    "ENVIRONMENT": (100_000, 2_000_000),
}
# What non-balancing cases can pay in a year at most (count x the top of their range):
# 2021: major 14x3.8M + spill 4x3.8M + general 12x2.5M + traffic 7x1M + env 5x2M = 115.4M
#       <= X - 22x3M >= 142.66M;  22 x 11M = 242M >= X.
# 2022: major 32x3.8M + spill(2021) 4x3.8M + dec_file(2021) 2x3.8M + general 8x2.5M
#       + traffic 7x1M + env 6x2M = 183.4M <= 263M - 24x3M = 191M;  24 x 11M = 264M >= 263M.
_MAJOR_ROLES = ("balance", "major", "spill", "dec_file")
_CAPS = {2021: 115_400_000, 2022: 183_400_000}

AGENCY_PREFIX = {"HOUSING": "ZJ", "TRAFFIC_POLICE": "JJ", "ENVIRONMENT": "HB"}
ROADS = (
    "建设南路", "新华西路", "长江北路", "人民中路", "滨江北路", "红旗中路", "车站路",
    "田心大道", "嵩山路", "珠江北路", "黄河南路", "芦淞路", "天台路", "合泰路", "七一路",
    "响石路", "湘江路", "泰山路", "株洲大道", "河西大道", "沿江南路", "庆云路",
)  # fmt: skip
ESTATES = ("怡景苑", "湘水湾", "金色家园", "锦绣华庭", "滨江名城", "紫荆花园", "书香门第")
SHOPS = ("老街烧烤", "湘味小厨", "好再来餐馆", "品味粉店", "一品香酒楼", "夜宵大排档")
PROJECTS = ("安置房项目", "商业综合体项目", "市政道路改造工程", "学校扩建工程", "住宅小区项目")
DESCRIPTIONS = {
    "ILLEGAL_CONSTRUCTION": (
        "未取得建设工程规划许可证擅自建设{n}平方米",
        "屋顶违法加建约{n}平方米",
        "超出规划许可范围擅自扩建{n}平方米",
        "擅自占用公共绿地搭建构筑物约{n}平方米",
    ),
    "CONSTRUCTION_DUST": (
        "施工工地未落实围挡、覆盖等扬尘防治措施",
        "工地裸土未覆盖，出入口车辆未冲洗",
        "土方作业未采取洒水抑尘措施，扬尘明显",
    ),
    "MUCK_TRANSPORT": (
        "渣土车未密闭运输，沿途撒漏",
        "渣土运输车辆未按规定路线行驶，车厢未覆盖",
        "未取得核准擅自运输建筑垃圾",
    ),
    "OUTDOOR_ADVERTISING": ("未经审批擅自设置大型户外广告牌", "户外广告设施存在安全隐患未整改"),
    "SIDEWALK_PARKING": ("机动车在人行道违法停放，阻碍通行", "车辆长时间占用人行道停放"),
    "STREET_VENDING": ("占用道路摆摊经营，影响通行", "店外占道经营，堆放杂物"),
    "CATERING_FUMES": ("餐饮油烟未经净化直排", "油烟净化设施未正常使用，周边居民投诉"),
    "NIGHT_CONSTRUCTION_NOISE": ("夜间22时后违规施工，噪声扰民", "未经批准夜间连续施工作业"),
}
_CATEGORIES = {
    "HOUSING": (
        ("ILLEGAL_CONSTRUCTION", 7),
        ("CONSTRUCTION_DUST", 2),
        ("MUCK_TRANSPORT", 2),
        ("OUTDOOR_ADVERTISING", 1),
    ),
    "TRAFFIC_POLICE": (("SIDEWALK_PARKING", 3), ("MUCK_TRANSPORT", 2), ("STREET_VENDING", 1)),
    "ENVIRONMENT": (
        ("CATERING_FUMES", 3),
        ("NIGHT_CONSTRUCTION_NOISE", 2),
        ("CONSTRUCTION_DUST", 1),
    ),
}
# the category a partner agency's referral shares with a housing case it merges into
MERGE_CATEGORY = {"TRAFFIC_POLICE": "MUCK_TRANSPORT", "ENVIRONMENT": "CONSTRUCTION_DUST"}
_ENV_BLOCK = {
    "CATERING_FUMES": ("油烟", 2.0, "mg/m³"),
    "NIGHT_CONSTRUCTION_NOISE": ("夜间施工噪声", 55.0, "dB(A)"),
    "CONSTRUCTION_DUST": ("PM10", 150.0, "µg/m³"),
}
_VEHICLE = {
    "SIDEWALK_PARKING": "小型轿车",
    "MUCK_TRANSPORT": "重型自卸货车",
    "STREET_VENDING": "三轮摩托车",
}


@dataclass
class _Referral:
    agency: str
    year: int
    referred_at: datetime
    district: str
    street: str | None
    street_name: str | None
    category: str
    party: tuple[str, str] | None  # (party type, id number) ; hashed when written
    referral_id: str = ""
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Case:
    role: str  # a key of _HOUSING_ROLES, or fined / exempted / rejected for partners
    first: _Referral
    filed_at: datetime | None = None
    rejected_at: datetime | None = None
    reason: str = ""
    decided_at: datetime | None = None
    legal_reviewed_at: datetime | None = None
    amount: int = 0
    exemption: str | None = None
    major_flag: bool | None = None
    decision_no: str = ""
    payment_times: list[datetime] = field(default_factory=list)
    payment_amounts: list[int] = field(default_factory=list)
    feedback_at: datetime | None = None
    closed_at: datetime | None = None
    merged: list[_Referral] = field(default_factory=list)

    @property
    def major(self) -> bool:
        return self.major_flag if self.major_flag is not None else self.amount >= MAJOR_FEN


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def party_hash(number: str) -> str:
    """``party_id_hash`` of an ID number or credit code, as producers send it."""
    return _sha(number.upper())


def _year_of(at: datetime) -> int:
    return at.astimezone(CST).year


class _Builder:
    def __init__(self, seed: int, org: Organisation) -> None:
        self.rng = Random(seed)
        self.seed = seed
        self.org = org
        self.streets: dict[str, list[tuple[str, str]]] = {d: [] for d in org.districts}
        for squad in sorted(org.squads.values(), key=lambda s: s.code):
            for code, name in sorted(squad.streets.items()):
                self.streets[squad.district_code].append((code, name))
        self.cases: list[_Case] = []
        self.parties = 0

    # ---------------------------------------------------------------- drawing helpers

    def day(self, start: date, end: date) -> datetime:
        """A working-hours instant on a day between ``start`` and ``end`` inclusive."""
        d = start + timedelta(days=self.rng.randint(0, (end - start).days))
        return datetime.combine(
            d, time(self.rng.randint(8, 17), self.rng.choice((0, 15, 30, 45))), CST
        )

    def after(self, at: datetime, low: float, high: float) -> datetime:
        """An instant ``low``..``high`` days after ``at``, at whole minutes."""
        minutes = self.rng.randint(int(low * 1440), int(high * 1440))
        out = at + timedelta(minutes=max(minutes, 60))
        if out.hour < 8:  # office hours: the next morning instead
            out = out.replace(hour=8) + timedelta(minutes=self.rng.randint(0, 90))
        elif out.hour >= 18:
            out = (out + timedelta(days=1)).replace(hour=8) + timedelta(
                minutes=self.rng.randint(0, 90)
            )
        return out

    def weighted(self, choices: Sequence[tuple[str, int]]) -> str:
        return self.rng.choices([c for c, _ in choices], [w for _, w in choices])[0]

    def amount(self, low: int, high: int, step: int = 100) -> int:
        return self.rng.randint(low // step, high // step) * step

    def party(self, kind: str) -> tuple[str, str]:
        self.parties += 1
        if kind == "ORGANIZATION":
            tail = "".join(self.rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(5))
            return kind, f"91430200MA{tail}{self.parties:03d}"[:18]
        born = date(1960, 1, 1) + timedelta(days=self.rng.randint(0, 14000))
        return kind, f"430203{born:%Y%m%d}{self.parties:03d}{self.rng.choice('0123456789X')}"

    def referral(
        self, agency: str, year: int, at: datetime, category: str | None = None
    ) -> _Referral:
        district = self.rng.choice(sorted(self.streets))
        street: tuple[str, str] | None = None
        if self.rng.random() >= 0.12:  # about one in eight names no street: direct squad
            street = self.rng.choice(self.streets[district])
        category = category or self.weighted(_CATEGORIES[agency])
        party: tuple[str, str] | None
        if category == "SIDEWALK_PARKING" and self.rng.random() < 0.6:
            party = None  # a plate number only
        elif category in ("SIDEWALK_PARKING", "STREET_VENDING") or (
            category == "ILLEGAL_CONSTRUCTION" and self.rng.random() < 0.4
        ):
            party = self.party("PERSON")
        else:
            party = self.party("ORGANIZATION")
        return _Referral(
            agency,
            year,
            at,
            district,
            street[0] if street else None,
            street[1] if street else None,
            category,
            party,
        )

    # ---------------------------------------------------------------- cases

    def housing_case(self, role: str, year: int) -> _Case:
        y = year
        if role == "balance":
            at = self.day(date(y, 1, 4), date(y, 7, 31))
        elif role == "dec_file":
            at = self.day(date(y, 12, 16), date(y, 12, 28))
        elif role == "open":
            at = self.day(date(y, 12, 10), date(y, 12, 28))
        elif role == "spill":
            at = self.day(date(y, 9, 1), date(y, 11, 30))
        elif y == 2021:
            at = self.day(date(y, 1, 4), date(y, 10, 31))
        else:
            at = self.day(date(y, 1, 4), date(y, 12, 5) if role == "major" else date(y, 11, 30))
        case = _Case(role, self.referral("HOUSING", y, at))
        if role in _MAJOR_ROLES and case.first.category == "OUTDOOR_ADVERTISING":
            case.first.category = "ILLEGAL_CONSTRUCTION"
        self.lifecycle(case)
        return case

    def partner_case(self, agency: str, role: str, year: int) -> _Case:
        end = date(year, 10, 31) if year == 2021 else date(year, 12, 20)
        case = _Case(role, self.referral(agency, year, self.day(date(year, 1, 4), end)))
        self.lifecycle(case)
        return case

    def lifecycle(self, case: _Case) -> None:
        """Filing or rejection, decision, feedback (not payments) in event time."""
        role, ref = case.role, case.first
        y = ref.year
        if role == "open":
            if self.rng.random() < 0.5:
                case.filed_at = self.after(datetime(y + 1, 1, 4, 9, tzinfo=CST), 0, 14)
            return
        if role == "rejected":
            case.rejected_at = self.after(ref.referred_at, 2, 14 if self.rng.random() < 0.8 else 25)
            case.reason = self.rng.choice(
                (
                    "当事人已自行整改，违法事实已消除",
                    "证据不足，不予立案",
                    "不属于本部门管辖，已移交",
                )
            )
            self.feedback(case, case.rejected_at)
            if self.rng.random() < 0.8:
                case.closed_at = self.after(case.feedback_at or case.rejected_at, 3, 20)
            return
        if role == "dec_file":
            case.filed_at = self.after(datetime.combine(date(y + 1, 1, 4), time(9), CST), 0, 14)
        else:
            late = role != "balance" and self.rng.random() < 0.12
            case.filed_at = (
                self.after(ref.referred_at, 16, 25)
                if late
                else self.after(ref.referred_at, 0.5, 15)
            )
        if y == 2022 and role == "major":
            case.filed_at = min(case.filed_at, datetime(2022, 12, 30, 16, 0, tzinfo=CST))
        late_decision = role in ("major", "spill", "general") and self.rng.random() < 0.12
        decided = (
            self.after(case.filed_at, 91, 125)
            if late_decision
            else self.after(case.filed_at, 15, 60 if role == "balance" else 88)
        )
        if y == 2021 and role not in ("spill", "dec_file"):
            decided = min(decided, datetime(2021, 12, 20, 15, 0, tzinfo=CST))
        case.decided_at = decided
        low, high = _AMOUNTS.get(role, _AMOUNTS.get(ref.agency, (0, 0)))
        if role == "exempted":
            case.amount, case.exemption = 0, "FIRST_VIOLATION"
        elif role != "balance":
            case.amount = self.amount(low, high)
        if role in _MAJOR_ROLES:
            if self.rng.random() < 0.92:
                case.legal_reviewed_at = decided - timedelta(
                    days=self.rng.randint(1, 6), hours=self.rng.randint(0, 5)
                )
            if self.rng.random() < 0.3:
                case.major_flag = True
        elif ref.agency == "HOUSING" and self.rng.random() < 0.25:
            case.major_flag = False
        self.feedback(case, decided)
        self.plan_payments(case)

    def feedback(self, case: _Case, since: datetime) -> None:
        draw = self.rng.random()
        if draw < 0.06:
            return  # never sent
        case.feedback_at = self.after(since, 11, 30) if draw < 0.18 else self.after(since, 0.2, 10)

    def plan_payments(self, case: _Case) -> None:
        """Instalment times (amounts later for balancing cases, now for the others)."""
        assert case.decided_at is not None
        if case.role == "exempted":
            return
        decided = case.decided_at
        if case.role == "balance":
            instalments = self.weighted((("1", 5), ("2", 3), ("3", 2)))
            at = self.after(decided, 1, 20 if self.rng.random() < 0.8 else 28)
            case.payment_times = [at]
            for _ in range(int(instalments) - 1):
                at = self.after(at, 10, 20)
                case.payment_times.append(at)
            assert _year_of(at) == case.first.year
            return
        weights = {
            "major": (("full", 3), ("instal", 3), ("partial", 2), ("unpaid", 1), ("late", 2)),
            "general": (("full", 5), ("instal", 2), ("partial", 1), ("unpaid", 1), ("late", 2)),
        }.get(case.role, (("full", 7), ("unpaid", 1), ("late", 2)))
        plan = self.weighted(weights)
        times: list[datetime] = []
        shares: list[float] = []
        if plan == "full":
            times, shares = [self.after(decided, 1, 14)], [1.0]
        elif plan == "late":
            times, shares = [self.after(decided, 20, 150)], [1.0]
        elif plan in ("instal", "partial"):
            count = self.rng.randint(2, 4) if plan == "instal" else self.rng.randint(1, 2)
            at = self.after(decided, 2, 14)
            for _ in range(count):
                times.append(at)
                at = self.after(at, 20, 45)
            raw = [self.rng.uniform(1, 2) for _ in times]
            paid = 1.0 if plan == "instal" else self.rng.uniform(0.3, 0.7)
            shares = [paid * r / sum(raw) for r in raw]
        cutoff = LAST_DATE
        if case.first.year == 2021 and case.role not in ("spill", "dec_file"):
            cutoff = datetime(2021, 12, 30, 18, 0, tzinfo=CST)  # such cases never pay in 2022
        amounts = _split(case.amount, shares)
        for at, fen in zip(times, amounts, strict=True):
            if at <= cutoff and fen > 0:
                case.payment_times.append(at)
                case.payment_amounts.append(fen)

    def close(self, case: _Case) -> None:
        if case.decided_at is None:
            return
        paid = sum(case.payment_amounts)
        if paid < case.amount:
            return  # outstanding: stays DECIDED
        last = max([case.decided_at, *case.payment_times])
        if case.feedback_at is not None:
            last = max(last, case.feedback_at)
        closed = self.after(last, 3, 20)
        if closed <= LAST_DATE and self.rng.random() < 0.9:
            case.closed_at = closed


def _split(total: int, shares: Sequence[float]) -> list[int]:
    """``total`` fen in parts proportional to ``shares`` (whole yuan but for the last part
    when the shares sum to 1, which then takes the rest exactly)."""
    if not shares:
        return []
    parts = [int(total * s) // 100 * 100 for s in shares]
    if abs(sum(shares) - 1.0) < 1e-9:
        parts[-1] = total - sum(parts[:-1])
    return parts


def _balance(rng: Random, cases: list[_Case], need: int, year: int) -> None:
    """Share ``need`` fen among the balancing ``cases`` (each in its amount range) and
    split each one's amount over its instalments."""
    low, high = _AMOUNTS["balance"]
    if not len(cases) * low <= need <= len(cases) * high:
        raise AssertionError(f"{year}: cannot balance {need} fen over {len(cases)} cases")
    amounts = [low] * len(cases)
    rest = need - low * len(cases)
    weights = [rng.uniform(0.5, 1.5) for _ in cases]
    for i, w in enumerate(weights):
        extra = min(high - low, int(rest * w / sum(weights[i:])) // 10_000 * 10_000)
        amounts[i] += extra
        rest -= extra
    for i in range(len(amounts)):  # what rounding left over, into whoever has room
        extra = min(high - amounts[i], rest)
        amounts[i] += extra
        rest -= extra
    assert rest == 0
    for case, amount in zip(cases, amounts, strict=True):
        case.amount = amount
        raw = [rng.uniform(1, 2) for _ in case.payment_times]
        case.payment_amounts = _split(amount, [r / sum(raw) for r in raw])
        assert all(fen > 0 for fen in case.payment_amounts)


def _collected(cases: list[_Case], year: int) -> int:
    return sum(
        fen
        for case in cases
        for at, fen in zip(case.payment_times, case.payment_amounts, strict=True)
        if _year_of(at) == year
    )


def _iso(at: datetime) -> str:
    return at.astimezone(CST).isoformat()


def _tier(amount: int) -> str:
    return "SERIOUS" if amount >= MAJOR_FEN else "GENERAL" if amount >= 300_000 else "MINOR"


def _round_pct(now: int, before: int) -> float:
    pct = (Decimal(100) * (now - before) / before).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return float(pct)


def generate_zhuzhou_2022(seed: int, org: Organisation) -> list[str]:
    """The ``zhuzhou-2022`` profile for ``org``: JSONL lines in publishing order."""
    b = _Builder(seed, org)
    rng = b.rng
    target_2021 = rng.randint(*TARGET_2021_RANGE)
    cases: list[_Case] = []
    merges: list[tuple[str, int]] = []
    for year in (2021, 2022):
        for role, count in _HOUSING_ROLES[year].items():
            cases += [b.housing_case(role, year) for _ in range(count)]
        for agency, (fined, exempted, rejected, merged) in _PARTNER_ROLES[year].items():
            for role, count in (("fined", fined), ("exempted", exempted), ("rejected", rejected)):
                cases += [b.partner_case(agency, role, year) for _ in range(count)]
            merges += [(agency, year)] * merged

    # merges: a partner's referral 2-20 days after a housing case of the same party,
    # category and place (before the case can be closed: decisions come 15+ days after
    # filing and closure after the decision)
    hosts = [
        c
        for c in cases
        if c.role in ("major", "general")
        and c.first.agency == "HOUSING"
        and c.first.referred_at.month <= 10
    ]
    taken: set[int] = set()
    for agency, year in merges:
        host = rng.choice([c for c in hosts if c.first.year == year and id(c) not in taken])
        taken.add(id(host))
        host.first.category = MERGE_CATEGORY[agency]
        if host.first.party is None or host.first.party[0] != "ORGANIZATION":
            host.first.party = b.party("ORGANIZATION")
        joined = _Referral(
            agency,
            year,
            b.after(host.first.referred_at, 2, 20),
            host.first.district,
            host.first.street,
            host.first.street_name,
            host.first.category,
            host.first.party,
        )
        host.merged.append(joined)

    # exact collections: the balancing cases take what each year still needs
    balancing = {
        y: [c for c in cases if c.role == "balance" and c.first.year == y] for y in (2021, 2022)
    }
    others = [c for c in cases if c.role != "balance"]
    for year, target in ((2021, target_2021), (2022, TARGET_2022_FEN)):
        assert _collected(others, year) <= _CAPS[year]
        _balance(rng, balancing[year], target - _collected(others, year), year)
    for case in cases:
        b.close(case)
    assert _collected(cases, 2022) == TARGET_2022_FEN
    assert _round_pct(TARGET_2022_FEN, _collected(cases, 2021)) == 26.0

    return _write(b, cases)


@dataclass(order=True)
class _Line:
    published: datetime
    order: int
    text: str = field(compare=False)


def _write(b: _Builder, cases: list[_Case]) -> list[str]:
    rng = b.rng
    # document numbers follow event time, per agency and year (and per year for decisions)
    referrals = sorted(
        [r for c in cases for r in (c.first, *c.merged)], key=lambda r: r.referred_at
    )
    serial: dict[tuple[str, int], int] = {}
    for r in referrals:
        n = serial[(r.agency, r.year)] = serial.get((r.agency, r.year), 0) + 1
        r.referral_id = f"{AGENCY_PREFIX[r.agency]}-{r.year}-{n:04d}"
    decisions: dict[int, int] = {}
    for case in sorted((c for c in cases if c.decided_at), key=lambda c: c.decided_at or 0):
        assert case.decided_at is not None
        year = _year_of(case.decided_at)
        decisions[year] = decisions.get(year, 0) + 1
        case.decision_no = f"株城执罚〔{year}〕{decisions[year]:04d}号"  # noqa: RUF001
    payments = sorted(
        (
            (at, case.first.referral_id, i)
            for case in cases
            for i, at in enumerate(case.payment_times)
        ),
    )
    receipt_no = {(rid, i): f"FS-430200-{n:06d}" for n, (_, rid, i) in enumerate(payments, 1)}

    lines: list[_Line] = []

    def emit(record: dict[str, Any], at: datetime, delay: Callable[[], timedelta]) -> _Line:
        line = _Line(at + delay(), len(lines), json.dumps(record, ensure_ascii=False))
        lines.append(line)
        return line

    def usual(hours: float = 6) -> Callable[[], timedelta]:
        def draw() -> timedelta:
            roll = rng.random()
            if roll < 0.05:  # published late by the partner's system
                return timedelta(days=rng.uniform(2, 20))
            if roll < 0.08:  # published early: the clocks of partner systems disagree
                return -timedelta(days=rng.uniform(0.5, 4))
            return timedelta(hours=rng.uniform(0, hours))

        return draw

    referral_lines: list[tuple[_Referral, _Line]] = []
    for case in cases:
        for r in (case.first, *case.merged):
            r.record = _referral_record(b, r)
            referral_lines.append((r, emit(r.record, r.referred_at, usual(2))))
        ref = {"agency": case.first.agency, "referral_id": case.first.referral_id}
        if case.filed_at is not None:
            emit(
                {"kind": "case_filed", **ref, "filed_at": _iso(case.filed_at)},
                case.filed_at,
                usual(),
            )
        if case.rejected_at is not None:
            emit(
                {
                    "kind": "case_rejected",
                    **ref,
                    "rejected_at": _iso(case.rejected_at),
                    "reason": case.reason,
                },
                case.rejected_at,
                usual(),
            )
        if case.decided_at is not None:
            decision: dict[str, Any] = {
                "kind": "case_decided",
                **ref,
                "decided_at": _iso(case.decided_at),
                "decision_no": case.decision_no,
                "amount_fen": case.amount,
                "tier": _tier(case.amount),
            }
            if case.major_flag is not None:
                decision["major"] = case.major_flag
            if case.legal_reviewed_at is not None:
                decision["legal_reviewed_at"] = _iso(case.legal_reviewed_at)
            if case.exemption is not None:
                decision["exemption"] = case.exemption
            emit(decision, case.decided_at, usual())
        for i, (at, fen) in enumerate(zip(case.payment_times, case.payment_amounts, strict=True)):
            payment = {
                "kind": "payment",
                **ref,
                "receipt_no": receipt_no[(case.first.referral_id, i)],
                "decision_no": case.decision_no,
                "paid_at": _iso(at),
                "amount_fen": fen,
            }
            emit(payment, at, usual(48))
        if case.feedback_at is not None:
            emit(
                {"kind": "feedback_sent", **ref, "sent_at": _iso(case.feedback_at)},
                case.feedback_at,
                usual(),
            )
        if case.closed_at is not None:
            emit(
                {"kind": "case_closed", **ref, "closed_at": _iso(case.closed_at)},
                case.closed_at,
                usual(),
            )

    # exact duplicates: the same line again, a little later
    plain = list(referral_lines)
    for _, line in rng.sample(plain, 4):
        lines.append(
            _Line(line.published + timedelta(hours=rng.uniform(1, 72)), len(lines), line.text)
        )
    paid = [line for line in lines if '"kind": "payment"' in line.text]
    for line in rng.sample(paid, 2):
        lines.append(
            _Line(line.published + timedelta(days=rng.uniform(1, 10)), len(lines), line.text)
        )
    # amendments: same referral, a corrected description, days later
    duplicated = {line.text for line in lines[len(lines) - 6 :]}
    for r, line in rng.sample([p for p in plain if p[1].text not in duplicated], 3):
        amended = {
            **r.record,
            "description": r.record["description"]
            + "（补充："
            + rng.choice(
                ("经复核，现场情况属实", "补充现场照片及测量数据", "更正当事人联系方式及地址")
            )
            + "）",
        }
        emit(amended, line.published, lambda: timedelta(days=rng.uniform(2, 10)))

    # bad lines: not JSON, a referral missing a field, an unknown district, an unknown street
    for text, at in _bad_lines(b, serial):
        lines.append(_Line(at, len(lines), text))

    return [line.text for line in sorted(lines)]


def _bad_lines(b: _Builder, serial: dict[tuple[str, int], int]) -> list[tuple[str, datetime]]:
    rng = b.rng
    out: list[tuple[str, datetime]] = []
    specimens = []
    for agency, year, broken in (
        ("HOUSING", 2022, "address"),
        ("HOUSING", 2021, "district"),
        ("ENVIRONMENT", 2022, "street"),
    ):
        at = b.day(date(year, 2, 1), date(year, 11, 30))
        r = b.referral(agency, year, at)
        n = serial[(agency, year)] = serial[(agency, year)] + 1
        r.referral_id = f"{AGENCY_PREFIX[agency]}-{year}-{n:04d}"
        record = _referral_record(b, r)
        if broken == "address":
            del record["address"]
        elif broken == "district":
            record["district_code"] = "430299"
            record.pop("street_code", None)
        else:
            record["street_code"] = record["district_code"] + "999"
        specimens.append((json.dumps(record, ensure_ascii=False), at + timedelta(hours=1)))
    out += specimens
    at = b.day(date(2022, 3, 1), date(2022, 9, 30))
    out.append(('{"kind": "case_filed", "agency": "HOUSING", "referral_id": "ZJ-2022-00', at))
    rng.shuffle(out)
    return out


def _referral_record(b: _Builder, r: _Referral) -> dict[str, Any]:
    rng = b.rng
    road = rng.choice(ROADS)
    number = rng.randint(1, 388)
    category = r.category
    if category in ("CATERING_FUMES", "STREET_VENDING"):
        address = f"{road}{number}号{rng.choice(SHOPS)}"
    elif category in ("SIDEWALK_PARKING", "MUCK_TRANSPORT") and r.agency == "TRAFFIC_POLICE":
        address = f"{road}与{rng.choice(ROADS)}交叉口"
    elif category == "ILLEGAL_CONSTRUCTION" and r.party and r.party[0] == "PERSON":
        address = f"{road}{number}号{rng.choice(ESTATES)}{rng.randint(1, 30)}栋"
    else:
        address = f"{road}{number}号工地"
    if r.street_name:
        address = f"{r.street_name}{address}"
    else:
        address = f"{b.org.districts[r.district].name}{address}"
    template = rng.choice(DESCRIPTIONS[category])
    record: dict[str, Any] = {
        "kind": "referral",
        "agency": r.agency,
        "referral_id": r.referral_id,
        "referred_at": _iso(r.referred_at),
        "district_code": r.district,
    }
    if r.street:
        record["street_code"] = r.street
    record["address"] = address
    record["category"] = category
    if r.party is not None:
        record["party_type"] = r.party[0]
        record["party_id_hash"] = party_hash(r.party[1])
    record["description"] = template.format(n=rng.randint(20, 600))
    record["evidence"] = [
        {
            "uri": f"https://evidence.example/{r.referral_id}-{i}.jpg",
            "sha256": _sha(f"{b.seed}:{r.referral_id}:{i}"),
        }
        for i in range(1, rng.randint(1, 3) + 1)
    ]
    if r.agency == "HOUSING":
        permit = None
        if category != "ILLEGAL_CONSTRUCTION" or rng.random() < 0.3:
            permit = f"{r.district}{r.referred_at:%Y%m%d}{rng.randint(0, 9999):04d}"
        record["housing"] = {"project_name": f"{road}{rng.choice(PROJECTS)}", "permit_no": permit}
    elif r.agency == "TRAFFIC_POLICE":
        plate = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(5))
        record["traffic"] = {"plate_no": f"湘B·{plate}", "vehicle_type": _VEHICLE[category]}
    else:
        pollutant, limit, unit = _ENV_BLOCK[category]
        measured = round(limit * rng.uniform(1.2, 3.5), 1)
        record["environment"] = {
            "pollutant": pollutant,
            "measured_value": measured,
            "limit_value": limit,
            "unit": unit,
        }
    return record
