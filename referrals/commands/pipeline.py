"""Running the pipeline: a batch run, the demo, and the long-running worker and sink."""

from __future__ import annotations

import contextlib
import sys
import tempfile
import threading
from pathlib import Path
from typing import Annotated

import typer

from referrals.commands.choices import Format, FormatOpt
from referrals.options import Context, err, out, shared
from streams.topics import Topics

app = typer.Typer()
ProbePort = Annotated[
    int | None, typer.Option("--port", help="port of /health, /ready and /metrics; none unset")
]


@app.command()
@shared
def run(
    ctx: Context,
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    format: FormatOpt = Format.text,
) -> None:
    """Publish JSONL files, wait until the whole pipeline has processed them, summarise."""
    from referrals.display import ProgressReporter, print_summary
    from runtime.batch import run_batch

    with ProgressReporter(err, enabled=format is Format.text) as reporter:
        summary = run_batch(ctx.settings, files, reporter)
    if format is Format.json:
        sys.stdout.write(summary.as_json() + "\n")
    else:
        print_summary(out, summary)


@app.command()
@shared
def worker(
    ctx: Context,
    port: ProbePort = None,
    keep_state: Annotated[
        bool,
        typer.Option(
            "--keep-state",
            hidden=True,
            help="copy the tables into the archive when stopped (a batch run's worker)",
        ),
    ] = False,
) -> None:
    """Run one stream-processing worker until interrupted (run several to scale out)."""
    from consumers.cluster import ensure_topics
    from consumers.health import worker_checks
    from runtime.embedded import broker_for
    from runtime.worker import run_worker
    from streams.logging import configure
    from streams.monitoring.probes import start_probes

    configure(ctx.settings.log_format, ctx.settings.log_level)
    with _stopped_as("worker", ctx), broker_for(ctx.settings) as (bootstrap, embedded):
        if embedded:
            err.print(f"embedded broker at kafka://{bootstrap}")
        checks = worker_checks(ctx.settings, bootstrap)
        started = threading.Event()
        port = port or ctx.settings.worker_port
        start_probes("worker", port, checks, started=started.is_set)
        ensure_topics(bootstrap, ctx.settings.partitions, Topics.of(ctx.settings))
        run_worker(ctx.settings, bootstrap, keep_state=keep_state, on_started=started.set)


@app.command()
@shared
def sink(ctx: Context, port: ProbePort = None) -> None:
    """Run the SQL sink until interrupted: case snapshots and dead letters into --db."""
    from consumers.cluster import ensure_topics
    from consumers.health import sink_checks
    from consumers.sink import SqlSink
    from consumers.store import open_store
    from runtime import signals
    from runtime.embedded import broker_for
    from streams.logging import configure
    from streams.monitoring.probes import start_probes

    configure(ctx.settings.log_format, ctx.settings.log_level)
    with _stopped_as("sink", ctx), broker_for(ctx.settings) as (bootstrap, _):
        start_probes("sink", port or ctx.settings.sink_port, sink_checks(ctx.settings, bootstrap))
        ensure_topics(bootstrap, ctx.settings.partitions, Topics.of(ctx.settings))
        consumer = SqlSink(bootstrap, open_store(ctx.settings.db), names=Topics.of(ctx.settings))
        # the sink stops between two batches: the one in hand is stored and committed
        with signals.stop_requested() as stop:
            stop.on_stop(lambda _: consumer.stop())
            consumer.run()
        if stop.signum is not None:
            raise signals.Interrupted(stop.signum)


@app.command()
@shared
def up(
    ctx: Context,
    workers: Annotated[int, typer.Option(min=1, help="stream workers to run")] = 1,
    every: Annotated[float, typer.Option(help="the feed's seconds between two looks")] = 60.0,
    logs: Annotated[
        Path | None, typer.Option(help="folder of one log file per child; none: this stderr")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="port of this supervisor's /health, /metrics")
    ] = None,
) -> None:
    """Run the pipeline's services until interrupted: N workers, the SQL sink and the
    scorecard feed as child processes, each restarted, with backoff, when it exits, stops
    answering or its partitions stall with records waiting."""
    from runtime.embedded import broker_for
    from runtime.supervisor import supervise
    from streams.logging import configure

    configure(ctx.settings.log_format, ctx.settings.log_level)
    with _stopped_as("up", ctx), broker_for(ctx.settings) as (bootstrap, embedded):
        if embedded:
            err.print(f"embedded broker at kafka://{bootstrap}")
        supervise(ctx.settings, bootstrap, workers=workers, every=every, logs=logs, port=port)


def _stopped_as(command: str, ctx: Context) -> contextlib.AbstractContextManager[None]:
    """The line a long-running command leaves when a signal stops it."""
    from runtime import resume, signals

    embedded = ctx.settings.broker is None
    return signals.resume_hint(
        lambda stop: resume.service_advice(command, stop.signum, embedded=embedded)
    )


@app.command()
@shared
def demo(
    ctx: Context,
    seed: Annotated[int, typer.Option(help="seed of the generated year")] = 0,
    serve: Annotated[bool, typer.Option(help="leave the monitoring page up afterwards")] = False,
) -> None:
    """The main job: a generated Zhuzhou 2021-2022 through the real pipeline, then the 2022
    report, the December district scorecards and the penalties by district."""
    from dataclasses import replace

    from consumers.queries import annual_report_of, penalties_by_district
    from consumers.scorecard_feed import latest_scorecards
    from referrals.display import (
        ProgressReporter,
        print_penalties,
        print_scorecards,
        print_summary,
    )
    from referrals.generate import generate_zhuzhou_2022
    from runtime.batch import run_batch
    from streams.reports.annual import report_text
    from streams.settings import Settings

    workdir = Path(tempfile.mkdtemp(prefix="referrals-demo-"))
    settings = ctx.settings
    if settings.db == Settings().db:  # the demo never writes into the working folder's store
        settings = replace(settings, db=f"sqlite:///{workdir / 'demo.db'}")
    year = workdir / "zhuzhou-2022.jsonl"
    lines = generate_zhuzhou_2022(seed, ctx.org)
    year.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    out.rule("[bold]referral-pipeline: Zhuzhou 2021-2022, generated, through the real pipeline")
    with ProgressReporter(err, enabled=True) as reporter:
        summary = run_batch(settings, [year], reporter)
    print_summary(out, summary)
    context = Context(settings, ctx.org, ctx.rubric)
    with context.session() as session:
        report = annual_report_of(session, 2022)
        cards = latest_scorecards(session, "2022-12", "district")
        money = penalties_by_district(session, 2022, ctx.org)
    out.rule("[bold]2022 annual report")
    out.print(report_text(report, "zh"))
    out.print(report_text(report, "en"))
    print_scorecards(out, cards, "2022-12", "district")
    print_penalties(out, money, 2022)
    out.print(f"input: {year}\ndatabase: {settings.db}")
    if serve:
        from referrals.commands.serve import run_page

        run_page(context, settings.serve_port)
