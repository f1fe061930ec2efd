"""The benchmark run: each group of figures measured in turn, each failure kept as the
reason its figures are missing, so one broken step never costs the others."""

from __future__ import annotations

import importlib
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console

from bench import baselines, runs
from bench.e2e import Run, run_e2e
from bench.figures import SETUPS, Figure, size_label
from bench.inputs import Prepared, event_lines, prepare
from bench.rates import tenths

# The end-to-end runs last: they take whatever time the deadline leaves them.
GROUPS = ("baselines", "sink", "scorecards", "runs", "e2e")
# Start-up and tear-down of one end-to-end run (broker, workers, warm-up), not timed.
RUN_OVERHEAD_S = 45.0
MIN_BUDGET_S = 5.0
MB = 1024 * 1024


@dataclass
class Options:
    sizes: list[int]
    setups: list[str]
    e2e_budget_s: float
    baseline_events: int
    faust_defaults: bool
    rows: int
    cases: int
    successive: int
    successive_lines: int
    successive_budget_s: float
    # wall seconds for the whole benchmark; the end-to-end budgets shrink to keep to it
    deadline_s: float
    seed: int
    only: set[str]
    profile_dir: Path | None
    quick: bool = False


@dataclass
class Suite:
    options: Options
    figures: dict[str, Figure]
    console: Console
    work: Path
    series: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    # seconds the end-to-end runs have been timed so far, out of options.e2e_budget_s
    timed_s: float = 0.0
    began: float = field(default_factory=time.perf_counter)
    # seconds to generate and encode one event, measured on the first size
    encode_s: float = 1 / 15_000

    def seconds_left(self) -> float:
        return self.options.deadline_s - (time.perf_counter() - self.began)

    def fig(self, key: str) -> Figure:
        return self.figures[key]

    def value(self, key: str) -> float | None:
        figure = self.figures.get(key)
        return figure.value if figure is not None else None

    def step(self, keys: list[str], what: str, body: Callable[[], None]) -> None:
        """Run one step; if it fails, its figures are missing with the reason."""
        self.console.print(f"[bold]{what}[/]…")
        started = time.perf_counter()
        try:
            body()
        # The harness's boundary: whatever a step raises (a broker that would not start, a
        # module of another helper that fails) becomes the reason its figures are missing.
        except Exception as e:
            reason = f"{what} failed: {type(e).__name__}: {e}"
            self.console.print(f"[red]{reason}[/]\n{traceback.format_exc(limit=3)}")
            for key in keys:
                if key in self.figures and self.figures[key].value is None:
                    self.figures[key].missing = self.figures[key].missing or reason
        self.console.print(f"  done in {time.perf_counter() - started:.0f} s")

    # ------------------------------------------------------------------ 1: baselines

    def baselines(self) -> None:
        records = prepare(event_lines(self.options.seed, self.options.baseline_events), "gen")
        for kind in ("embedded", "kafka"):
            keys = [k for k in self.figures if k.startswith("1.") and k.endswith(kind)]
            self.step(keys, f"baselines on {kind}", partial(self._baselines_on, kind, records))

    def _baselines_on(self, kind: str, prepared: Prepared) -> None:
        from bench._pipeline import broker

        budget = 120.0
        with broker(kind) as b:
            log_dir = self.work / f"agent-{kind}"
            agent = baselines.faust_agent_rate(b, prepared.records, "project", log_dir, budget)
            raw = baselines.aiokafka_rate(b, agent.processed + 1)
            self._set(f"1.aiokafka_decode.{kind}", raw)
            self._set(
                f"1.faust_agent.{kind}",
                agent.rate,
                baseline=(raw, "aiokafka + decode"),
                partial=agent.partial,
                details={"startup_s": agent.startup_s, "events": agent.processed},
            )
            if kind == "embedded" and self.options.faust_defaults:
                plain = baselines.faust_agent_rate(b, prepared.records, "defaults", log_dir, budget)
                self._set(
                    "1.faust_agent_defaults.embedded",
                    plain.rate,
                    baseline=(agent.rate, "project settings"),
                    partial=plain.partial,
                    details={"startup_s": plain.startup_s, "events": plain.processed},
                )
            elif kind == "embedded":
                self.fig(
                    "1.faust_agent_defaults.embedded"
                ).missing = "not asked (--quick, --no-faust-defaults)"

    # ------------------------------------------------------------------ 2, 3, 6, 7

    def e2e(self) -> None:
        sizes, setups = self.options.sizes, self.options.setups
        weights = {size: rank for rank, size in enumerate(sizes, start=1)}
        plan = [(size, setup) for size in sizes for setup in setups]
        for index, (size, setup) in enumerate(plan):
            if index == 0 or plan[index - 1][0] != size:
                began = time.perf_counter()
                prepared = prepare(event_lines(self.options.seed, size), f"generated-{size}")
                took = time.perf_counter() - began
                self.encode_s = took / size
                self.console.print(f"{size} events generated and encoded in {took:.0f} s")
            share = weights[size] / sum(weights[s] for s, _ in plan[index:])
            to_encode = sum({s for s, _ in plan[index:] if s > size}) * self.encode_s
            wall = self.seconds_left() - RUN_OVERHEAD_S * (len(plan) - index) - to_encode
            left = min(self.options.e2e_budget_s - self.timed_s, wall)
            budget = max(MIN_BUDGET_S, left * share)
            key = f"2.e2e.{setup}.{size_label(size)}"
            label = size_label(size)
            keys = [key, f"3.last_tenth.{setup}", f"6.worker_rss.{setup}.{label}"]
            keys += [f"6.broker_bytes.{setup}.{label}", "7.worker_first_event"]
            self.step(
                keys,
                f"end-to-end {size_label(size)} events, {setup} (budget {budget:.0f} s)",
                partial(self._e2e_run, setup, prepared, budget),
            )

    def _e2e_run(self, setup: str, prepared: Prepared, budget: float) -> None:
        kind, workers = SETUPS[setup]
        size = size_label(len(prepared.records))
        key = f"2.e2e.{setup}.{size}"
        profile = None
        if self.options.profile_dir is not None:
            profile = self.options.profile_dir / f"worker-{setup}-{size}.txt"
        run = run_e2e(
            setup,
            kind,
            workers,
            prepared,
            budget,
            self.work / f"e2e-{setup}-{size}",
            profile=profile,
        )
        self.series[key] = run.series
        self.timed_s += run.elapsed
        agent = self.value(f"1.faust_agent.{kind}")
        self._set(
            key,
            run.rate,
            baseline=(agent, f"Faust agent, {kind}") if agent else None,
            partial=not run.complete,
            details=_run_details(run),
        )
        self._per_size(setup, size, run)
        if setup == "embedded_1w" and self.fig("7.worker_first_event").value is None:
            startup = self.fig(f"1.faust_agent.{kind}").details.get("startup_s")
            self._set(
                "7.worker_first_event",
                run.startup_s,
                baseline=(startup, "Faust agent start to first answer") if startup else None,
                details={"run": key},
            )

    def _per_size(self, setup: str, size: str, run: Run) -> None:
        sizes = [size_label(s) for s in self.options.sizes]
        middle = sizes[-2] if len(sizes) > 1 else sizes[-1]
        if size == sizes[-1] and run.series:
            end = (run.elapsed, run.processed) if run.complete else None
            first, last = tenths(run.series, end)
            self._set(
                f"3.last_tenth.{setup}",
                last,
                baseline=(first, "first tenth"),
                partial=not run.complete,
                details={"run": f"2.e2e.{setup}.{size}", "events": run.processed},
            )
        if size not in (middle, sizes[-1]):
            return
        rss_key, bytes_key = f"6.worker_rss.{setup}.{size}", f"6.broker_bytes.{setup}.{size}"
        mid_rss = self.value(f"6.worker_rss.{setup}.{middle}") if size != middle else None
        mid_bytes = self.value(f"6.broker_bytes.{setup}.{middle}") if size != middle else None
        self._set(
            rss_key,
            run.peak_worker_rss / MB,
            baseline=(mid_rss, f"at {middle}") if mid_rss else None,
            partial=not run.complete,
        )
        if run.broker_bytes_per_event is None:
            self.fig(bytes_key).missing = "nothing processed"
            return
        self._set(
            bytes_key,
            run.broker_bytes_per_event,
            baseline=(mid_bytes, f"at {middle}") if mid_bytes else None,
            partial=not run.complete,
            note="log dirs (.log files)" if SETUPS[setup][0] == "kafka" else "Tansu RSS growth",
        )

    # ------------------------------------------------------------ 4, 5: other helpers' modules

    def sink(self) -> None:
        rows = self.options.rows

        def body() -> None:
            measure = _optional("bench.sink")
            if measure is None:
                for key in ("1.executemany", "4.sink"):
                    self.fig(key).missing = "bench/sink.py is not there yet"
                return
            result = measure(rows)
            self._set("1.executemany", result["executemany_rows_s"], details={"rows": rows})
            self._set(
                "4.sink",
                result["sink_rows_s"],
                baseline=(result["executemany_rows_s"], "executemany"),
                details={"rows": rows, **result},
            )

        self.step(["1.executemany", "4.sink"], f"SQL sink, {rows} rows", body)

    def scorecards(self) -> None:
        keys = ["5.close_month", "5.rescore_year"]
        cases = self.options.cases

        def body() -> None:
            measure = _optional("bench.scorecards")
            if measure is None:
                for key in keys:
                    self.fig(key).missing = "bench/scorecards.py is not there yet"
                return
            result = measure(cases)
            for key, name in zip(keys, ("close_month_s", "rescore_year_s"), strict=True):
                self.fig(key).label = self.fig(key).label.replace(
                    "100 000", f"{cases:,}".replace(",", " ")
                )
                self._set(key, result[name], details={"cases": cases, **result})

        self.step(keys, f"scorecards, {cases} cases", body)

    # ------------------------------------------------------------------ 7: commands

    def runs(self) -> None:
        def sample() -> None:
            help_s, run_s = runs.sample_run(self.work / "sample")
            self._set("7.run_sample", run_s, baseline=(help_s, "referrals --help"))

        def successive() -> None:
            o = self.options
            # the end-to-end runs come after and need their share of the deadline
            budget = min(o.successive_budget_s, self.seconds_left() / 4)
            result = runs.successive_runs(
                self.work / "successive", o.successive, o.successive_lines, budget, o.seed
            )
            if len(result.seconds) < 2:
                # one run has nothing to be compared with
                raise runs.RunFailed(f"{len(result.seconds)} run(s) timed: {result.stopped}")
            self._set(
                "7.successive_runs",
                result.seconds[-1],
                baseline=(result.seconds[0], "first run"),
                partial=len(result.seconds) < o.successive,
                note=f"run {len(result.seconds)} of {o.successive}, {o.successive_lines} lines",
                details={"seconds": result.seconds, "stopped": result.stopped},
            )

        self.step(["7.run_sample"], "`referrals run` of the sample", sample)
        self.step(["7.successive_runs"], "successive runs against one --db", successive)

    # ------------------------------------------------------------------

    def _set(
        self,
        key: str,
        value: float,
        *,
        baseline: tuple[float | None, str] | None = None,
        partial: bool = False,
        note: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        figure = self.fig(key)
        figure.value = value
        figure.missing = None
        if baseline is not None and baseline[0] is not None:
            figure.baseline, figure.baseline_label = baseline
        figure.partial = partial
        figure.note = note or figure.note
        figure.details.update(details or {})

    def run(self) -> None:
        self.began = time.perf_counter()
        for group in GROUPS:
            if group not in self.options.only:
                for key in _keys_of(group, self.figures):
                    self.figures[
                        key
                    ].missing = f"not run (--only {','.join(sorted(self.options.only))})"
                continue
            getattr(self, group)()
        for figure in self.figures.values():
            if figure.value is None and figure.missing is None:
                figure.missing = "its baseline or run did not happen"


def _keys_of(group: str, figures: dict[str, Figure]) -> list[str]:
    prefixes = {
        "baselines": ("1.aiokafka", "1.faust"),
        "e2e": ("2.", "3.", "6.", "7.worker"),
        "sink": ("1.executemany", "4."),
        "scorecards": ("5.",),
        "runs": ("7.run", "7.successive"),
    }[group]
    return [k for k in figures if k.startswith(prefixes)]


def _optional(module: str) -> Callable[[int], dict[str, Any]] | None:
    """``measure`` of a benchmark module another helper writes, or None while it is absent."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name != module:
            raise
        return None
    measure: Callable[[int], dict[str, Any]] = found.measure
    return measure


def _run_details(run: Run) -> dict[str, Any]:
    return {
        "events": run.events,
        "published": run.published,
        "processed": round(run.processed),
        "elapsed_s": round(run.elapsed, 2),
        "complete": run.complete,
        "startup_s": round(run.startup_s, 2),
        "expected_referrals": run.expected_referrals,
        "stored_referrals": run.stored_referrals,
        "notes": run.notes,
        "broker_topic_bytes": run.broker_topics,
        "profile": run.profile,
    }


def work_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="referrals-bench-"))
