"""`python -m bench` (`make bench`): every figure of issue 6 in one run, under 20 minutes
on a 2-core machine with the defaults; `--quick` for a smoke test of the harness."""

from __future__ import annotations

import argparse
import shutil
import signal
import sys
import time
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from rich.console import Console

from bench import report
from bench.figures import SETUPS, catalogue
from bench.suite import GROUPS, Options, Suite, work_dir

RESULTS = Path(__file__).parent / "results"


@dataclass(frozen=True)
class Scale:
    """The sizes and budgets of a run; every one can be set on the command line."""

    sizes: str
    e2e_budget: float
    baseline_events: int
    rows: int
    cases: int
    successive: int
    successive_lines: int
    successive_budget: float
    deadline: float


FULL = Scale("10000,100000,1000000", 600.0, 10_000, 50_000, 100_000, 10, 1_000, 120.0, 1_140.0)
QUICK = Scale("300,1000,3000", 90.0, 1_000, 2_000, 1_000, 3, 100, 120.0, 600.0)


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes and budgets (smoke test)")
    p.add_argument("--only", help=f"comma-separated groups of {', '.join(GROUPS)}")
    p.add_argument("--out", type=Path, default=RESULTS / "latest.json", help="the JSON file")
    p.add_argument("--sizes", help="events of the end-to-end runs, e.g. 10000,100000,1000000")
    p.add_argument("--setups", default=",".join(SETUPS), help=", ".join(SETUPS))
    p.add_argument(
        "--e2e-budget",
        type=float,
        help="seconds of timed end-to-end runs in all (start-up not counted), shared in "
        "proportion to size rank; what a fast run leaves goes to the later ones",
    )
    p.add_argument("--baseline-events", type=int, help="events through the baselines")
    p.add_argument("--no-faust-defaults", action="store_true", help="skip the agent on defaults")
    p.add_argument("--rows", type=int, help="rows through the SQL sink benchmark")
    p.add_argument("--cases", type=int, help="cases of the scorecards benchmark")
    p.add_argument("--successive", type=int, help="successive `referrals run`s against one --db")
    p.add_argument("--successive-lines", type=int, help="lines of each successive run")
    p.add_argument("--successive-budget", type=float, help="seconds for the successive runs")
    p.add_argument(
        "--deadline",
        type=float,
        help="wall seconds for everything (19 minutes by default); the end-to-end runs, "
        "which come last, get less time when the machine is slow",
    )
    p.add_argument("--seed", type=int, default=2022)
    p.add_argument("--profile", action="store_true", help="py-spy each run's first worker")
    p.add_argument("--keep", action="store_true", help="keep the work dir (logs, stores)")
    return p


def options_from(args: argparse.Namespace) -> Options:
    scale = QUICK if args.quick else FULL
    given = {f.name: getattr(args, f.name) for f in fields(Scale)}
    scale = replace(scale, **{k: v for k, v in given.items() if v is not None})
    only = set(_list(args.only)) if args.only else set(GROUPS)
    unknown = only - set(GROUPS) or set(_list(args.setups)) - set(SETUPS)
    if unknown:
        raise SystemExit(f"unknown group or setup: {', '.join(sorted(unknown))}")
    return Options(
        sizes=sorted(int(n) for n in _list(scale.sizes)),
        setups=_list(args.setups),
        e2e_budget_s=scale.e2e_budget,
        baseline_events=scale.baseline_events,
        faust_defaults=not (args.no_faust_defaults or args.quick),
        rows=scale.rows,
        cases=scale.cases,
        successive=scale.successive,
        successive_lines=scale.successive_lines,
        successive_budget_s=scale.successive_budget,
        deadline_s=scale.deadline,
        seed=args.seed,
        only=only,
        profile_dir=args.out.parent / "profiles" if args.profile else None,
        quick=args.quick,
    )


def _terminate(signum: int, frame: FrameType | None) -> None:
    # SIGTERM as an exception: the finally blocks stop the brokers and workers started,
    # which run in sessions of their own and would otherwise outlive the benchmark.
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    options = options_from(args)
    signal.signal(signal.SIGTERM, _terminate)
    # a table of figures needs room; a pipe or a file gets 160 columns, not rich's 80
    console = Console(width=None if sys.stdout.isatty() else 160)
    figures = catalogue(options.sizes, options.setups)
    work = work_dir()
    suite = Suite(options, figures, console, work)
    started = time.perf_counter()
    begun = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        suite.run()
    finally:
        meta = {"started": begun, "seconds": round(time.perf_counter() - started, 1)}
        printable = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(options).items()}
        printable["only"] = sorted(options.only)
        report.write(args.out, figures, suite.series, printable, meta)
        if args.keep:
            console.print(f"work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    report.show(console, figures)
    console.print(f"{len(figures)} figures in {args.out} ({meta['seconds']:.0f} s)")


if __name__ == "__main__":
    main(sys.argv[1:])
