"""The figures of issue 6, each with its baseline and its target, and how they are judged.

A figure is known by a key that starts with its number in the issue ("2.e2e.embedded_1w.
10^5"). The set of keys depends only on the options (the sizes and setups asked for), so
the written JSON always holds every key: with a value, or with the reason it is missing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

# Setups of the end-to-end runs: 1 worker on the embedded broker (as `referrals run`),
# 2 workers on Apache Kafka (as a deployment).
SETUPS = {"embedded_1w": ("embedded", 1), "kafka_2w": ("kafka", 2)}
# Targets are ratios to the baseline, or plain bounds on the value.
AT_LEAST, AT_MOST, BELOW = "ratio >=", "ratio <=", "value <"


@dataclass(frozen=True)
class Target:
    kind: str
    bound: float

    def met(self, value: float, ratio: float | None) -> bool | None:
        if self.kind == BELOW:
            return value < self.bound
        if ratio is None:
            return None
        return ratio >= self.bound if self.kind == AT_LEAST else ratio <= self.bound

    def __str__(self) -> str:
        if self.kind == BELOW:
            return f"< {self.bound:g}"
        return f"{'>=' if self.kind == AT_LEAST else '<='} {self.bound:g}x"


@dataclass
class Figure:
    key: str
    label: str
    unit: str
    target: Target | None = None
    value: float | None = None
    baseline: float | None = None
    baseline_label: str = ""
    missing: str | None = None
    # a run stopped by its time budget: the value is the rate up to the budget
    partial: bool = False
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        if self.target is None or self.value is None:
            return None
        return self.target.met(self.value, self.ratio)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["target"] = str(self.target) if self.target else None
        out["ratio"] = self.ratio
        out["met"] = self.met
        return out


def size_label(events: int) -> str:
    """10^4 for 10 000; a plain number otherwise (quick sizes)."""
    text = str(events)
    if events >= 10 and text.strip("0") == "1":
        return f"10^{len(text) - 1}"
    return text


def catalogue(sizes: Iterable[int], setups: Iterable[str]) -> dict[str, Figure]:
    """Every figure these options ask for, in the issue's order, none measured yet."""
    sizes, setups = list(sizes), list(setups)
    figures: list[Figure] = []
    add = figures.append
    for broker in ("embedded", "kafka"):
        add(
            Figure(
                f"1.aiokafka_decode.{broker}",
                f"aiokafka consume + Avro decode, {broker}",
                "records/s",
            )
        )
        add(
            Figure(
                f"1.faust_agent.{broker}",
                f"minimal Faust agent (project settings), {broker}",
                "events/s",
            )
        )
    add(
        Figure(
            "1.faust_agent_defaults.embedded",
            "minimal Faust agent (Faust defaults), embedded",
            "events/s",
        )
    )
    add(Figure("1.executemany", "SQLAlchemy Core executemany", "rows/s"))
    for setup in setups:
        target = Target(AT_LEAST, 1.0 if setup == "embedded_1w" else 1.6)
        for size in sizes:
            label = f"end-to-end {size_label(size)} events, {setup.replace('_', ', ')}"
            add(Figure(f"2.e2e.{setup}.{size_label(size)}", label, "events/s", target))
    if sizes:
        largest, middle = (
            size_label(sizes[-1]),
            size_label(sizes[-2] if len(sizes) > 1 else sizes[-1]),
        )
        for setup in setups:
            add(
                Figure(
                    f"3.last_tenth.{setup}",
                    f"last tenth of the {largest} run, {setup}",
                    "events/s",
                    Target(AT_LEAST, 0.8),
                )
            )
        for setup in setups:
            for label in dict.fromkeys((middle, largest)):
                add(
                    Figure(
                        f"6.worker_rss.{setup}.{label}",
                        f"peak worker RSS at {label} events, {setup}",
                        "MB",
                        Target(AT_MOST, 2.0) if label == largest else None,
                    )
                )
                add(
                    Figure(
                        f"6.broker_bytes.{setup}.{label}",
                        f"broker bytes per event at {label}, {setup}",
                        "B/event",
                        Target(AT_MOST, 1.25) if label == largest else None,
                    )
                )
    add(Figure("4.sink", "SQL sink", "rows/s", Target(AT_LEAST, 0.5)))
    add(Figure("5.close_month", "close a month, 100 000 cases", "s"))
    add(
        Figure(
            "5.rescore_year", "rescore a year of scorecards, 100 000 cases", "s", Target(BELOW, 5.0)
        )
    )
    add(Figure("7.worker_first_event", "worker start to first event stored, embedded", "s"))
    add(Figure("7.run_sample", "`referrals run` of the 31-line sample", "s", Target(BELOW, 10.0)))
    add(
        Figure(
            "7.successive_runs",
            "last of the successive runs against one --db",
            "s",
            Target(AT_MOST, 1.5),
        )
    )
    ordered = sorted(figures, key=lambda f: f.key.split(".", 1)[0])
    return {f.key: f for f in ordered}
