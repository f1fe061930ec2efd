"""A city's referrals as JSONL lines in publication order, for as many events as asked.

The end-to-end benchmark's own generator, until ``referrals generate`` has a scaled
profile (``bench.inputs.event_lines`` is the one place to switch). The mix is that of a
busy city: three agencies; most referrals filed and decided, some rejected; fines paid
in one or two instalments; repeat offenders whose referrals merge into one case; exact
duplicates, amendments, events published days late, and a few lines that must be
dead-lettered. The density is constant (about 300 events a day), so history grows with
the number of events as it would in a real city: 10^6 events span about nine years.

Pure and deterministic: the same seed and length give the same lines.
"""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from random import Random
from typing import Any

from streams.organisation import Organisation, default_organisation_path, load_organisation

START = datetime.fromisoformat("2016-01-04T08:00:00+08:00")
INCIDENTS_PER_DAY = 58  # x ~5.2 events each: ~300 events a day
AGENCIES = (("HOUSING", 5), ("TRAFFIC_POLICE", 3), ("ENVIRONMENT", 2))
AGENCY_PREFIX = {"HOUSING": "ZJ", "TRAFFIC_POLICE": "JJ", "ENVIRONMENT": "HB"}
ROADS = (
    "建设南路",
    "新华西路",
    "长江北路",
    "人民中路",
    "滨江北路",
    "红旗中路",
    "车站路",
    "田心大道",
)
# Kept here rather than taken from referrals/generate, which is being reorganised.
DESCRIPTIONS = {
    "ILLEGAL_CONSTRUCTION": ("屋顶违法加建约{n}平方米", "未取得规划许可擅自建设{n}平方米"),
    "CONSTRUCTION_DUST": ("施工工地未落实扬尘防治措施", "工地裸土未覆盖，出入口车辆未冲洗"),
    "MUCK_TRANSPORT": ("渣土车未密闭运输，沿途撒漏", "未取得核准擅自运输建筑垃圾"),
    "SIDEWALK_PARKING": ("机动车在人行道违法停放，阻碍通行", "车辆长时间占用人行道停放"),
    "STREET_VENDING": ("占用道路摆摊经营，影响通行", "店外占道经营，堆放杂物"),
    "CATERING_FUMES": ("餐饮油烟未经净化直排", "油烟净化设施未正常使用，周边居民投诉"),
    "NIGHT_CONSTRUCTION_NOISE": ("夜间22时后违规施工，噪声扰民", "未经批准夜间连续施工作业"),
}
CATEGORIES = {
    "HOUSING": (("ILLEGAL_CONSTRUCTION", 6), ("CONSTRUCTION_DUST", 2), ("MUCK_TRANSPORT", 2)),
    "TRAFFIC_POLICE": (("SIDEWALK_PARKING", 3), ("MUCK_TRANSPORT", 2), ("STREET_VENDING", 1)),
    "ENVIRONMENT": (("CATERING_FUMES", 3), ("NIGHT_CONSTRUCTION_NOISE", 2)),
}


def _block(agency: str, rng: Random, n: int) -> dict[str, Any]:
    """The agency's own block of a referral."""
    if agency == "HOUSING":
        return {"housing": {"project_name": f"项目{n}", "permit_no": None}}
    if agency == "TRAFFIC_POLICE":
        return {"traffic": {"plate_no": f"湘B·{n % 100000:05d}", "vehicle_type": "重型自卸货车"}}
    measured = round(rng.uniform(2.4, 7.0), 1)
    return {
        "environment": {
            "pollutant": "油烟",
            "measured_value": measured,
            "limit_value": 2.0,
            "unit": "mg/m³",
        }
    }


def party_hash(number: str) -> str:
    """``party_id_hash`` as producers send it: SHA-256 of the upper-cased number."""
    return hashlib.sha256(number.upper().encode()).hexdigest()


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


class _City:
    """Draws incidents one after another; each becomes the lines it publishes, with the
    instant each line is published."""

    def __init__(self, seed: int, org: Organisation) -> None:
        self.rng = Random(seed)
        self.streets = {
            d: sorted(
                code for s in org.squads.values() if s.district_code == d for code in s.streets
            )
            for d in sorted(org.districts)
        }
        self.serial = 0
        self.receipts = 0

    def _pick(self, choices: tuple[tuple[str, int], ...]) -> str:
        return self.rng.choices([c for c, _ in choices], [w for _, w in choices])[0]

    def _after(self, at: datetime, low_days: float, high_days: float) -> datetime:
        return at + timedelta(minutes=self.rng.randint(int(low_days * 1440), int(high_days * 1440)))

    def _published(self, at: datetime) -> datetime:
        """When a line about ``at`` is published: usually within hours, some days late."""
        late = self.rng.random() < 0.03
        return at + timedelta(hours=self.rng.uniform(48, 240) if late else self.rng.uniform(0, 6))

    def referral(self, agency: str, at: datetime, place: dict[str, Any]) -> dict[str, Any]:
        self.serial += 1
        rid = f"{AGENCY_PREFIX[agency]}-{at.year}-{self.serial:07d}"
        return {
            "kind": "referral",
            "agency": agency,
            "referral_id": rid,
            "referred_at": _iso(at),
            **place,
            "description": self.rng.choice(DESCRIPTIONS[place["category"]]).format(
                n=self.serial % 500
            ),
            "evidence": [{"uri": f"https://evidence.example/{rid}.jpg", "sha256": party_hash(rid)}],
            **_block(agency, self.rng, self.serial),
        }

    def incident(self, at: datetime) -> Iterator[tuple[datetime, str]]:
        rng = self.rng
        agency = self._pick(AGENCIES)
        district = rng.choice(sorted(self.streets))
        place: dict[str, Any] = {"district_code": district}
        if rng.random() < 0.88:
            place["street_code"] = rng.choice(self.streets[district])
        place["address"] = f"{rng.choice(ROADS)}{rng.randint(1, 388)}号"
        place["category"] = self._pick(CATEGORIES[agency])
        if rng.random() < 0.75:
            place["party_type"] = "ORGANIZATION"
            place["party_id_hash"] = party_hash(f"91430200MA{self.serial:08d}")
        first = self.referral(agency, at, place)
        yield from self._referral_lines(first, at)
        if "party_id_hash" in place and rng.random() < 0.08:  # a repeat: merges into the case
            again = self._after(at, 1, 20)
            yield from self._referral_lines(self.referral(agency, again, place), again)
        yield from self._lifecycle({"agency": agency, "referral_id": first["referral_id"]}, at)
        if rng.random() < 0.003:
            yield self._published(at), '{"kind": "case_filed", "agency": "HOUSING", "referral'
        if rng.random() < 0.003:
            yield self._published(at), json.dumps({**first, "district_code": "430299"})

    def _referral_lines(
        self, record: dict[str, Any], at: datetime
    ) -> Iterator[tuple[datetime, str]]:
        text = json.dumps(record, ensure_ascii=False)
        published = self._published(at)
        yield published, text
        roll = self.rng.random()
        if roll < 0.02:  # the partner's system sends it twice
            yield published + timedelta(hours=self.rng.uniform(1, 48)), text
        elif roll < 0.04:  # an amendment: the same referral, corrected
            amended = {**record, "description": record["description"] + "（经复核补充）"}
            yield self._published(self._after(at, 1, 5)), json.dumps(amended, ensure_ascii=False)

    def _lifecycle(self, ref: dict[str, str], at: datetime) -> Iterator[tuple[datetime, str]]:
        rng = self.rng

        def line(kind: str, when: datetime, **fields: Any) -> tuple[datetime, str]:
            record = {"kind": kind, **ref, **fields}
            return self._published(when), json.dumps(record, ensure_ascii=False)

        if rng.random() < 0.2:
            rejected = self._after(at, 2, 10)
            yield line("case_rejected", rejected, rejected_at=_iso(rejected), reason="证据不足")
            closed = self._after(rejected, 1, 5)
            yield line("case_closed", closed, closed_at=_iso(closed))
            return
        filed = self._after(at, 1, 10)
        yield line("case_filed", filed, filed_at=_iso(filed))
        if rng.random() < 0.15:
            return  # still under investigation
        decided = self._after(filed, 10, 40)
        amount = rng.choice((0, rng.randint(500, 20_000), rng.randint(500, 20_000), 40_000)) * 100
        number = f"株城执罚〔{decided.year}〕{self.serial:07d}号"  # noqa: RUF001
        decision: dict[str, Any] = {"decision_no": number, "amount_fen": amount}
        if amount == 0:
            decision |= {"tier": "MINOR", "exemption": "FIRST_VIOLATION"}
        else:
            decision["tier"] = "SERIOUS" if amount >= 3_000_000 else "GENERAL"
        yield line("case_decided", decided, decided_at=_iso(decided), **decision)
        last = decided
        if amount and rng.random() < 0.85:
            parts = (amount,) if rng.random() < 0.6 else (amount // 2, amount - amount // 2)
            for part in parts:
                self.receipts += 1
                last = self._after(last, 3, 30)
                paid = line(
                    "payment",
                    last,
                    receipt_no=f"FS-430200-{self.receipts:09d}",
                    decision_no=number,
                    paid_at=_iso(last),
                    amount_fen=part,
                )
                yield paid
                if rng.random() < 0.01:  # the platform reports a receipt twice
                    yield paid[0] + timedelta(hours=rng.uniform(1, 24)), paid[1]
        sent = self._after(decided, 1, 5)
        yield line("feedback_sent", sent, sent_at=_iso(sent))
        closed = self._after(max(last, sent), 1, 10)
        yield line("case_closed", closed, closed_at=_iso(closed))


def scaled_lines(seed: int, events: int, org: Organisation | None = None) -> Iterator[str]:
    """``events`` JSONL lines, in the order they are published."""
    city = _City(seed, org or load_organisation(default_organisation_path()))
    waiting: list[tuple[datetime, int, str]] = []
    order = 0
    emitted = 0
    at = START
    mean_gap_s = 86_400 / INCIDENTS_PER_DAY
    while emitted < events:
        at += timedelta(seconds=city.rng.expovariate(1 / mean_gap_s))
        for published, text in city.incident(at):
            order += 1
            heapq.heappush(waiting, (published, order, text))
        # what was published before this incident happened can no longer be overtaken
        while waiting and waiting[0][0] <= at and emitted < events:
            yield heapq.heappop(waiting)[2]
            emitted += 1
