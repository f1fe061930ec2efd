"""The scorecard feed: closing months as the watermark passes them (``referrals feed``),
and a closed month's scorecards as files for the circular (``referrals feed export``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from referrals.commands.queries import month_option
from referrals.options import (
    BrokerOption,
    Context,
    DbOption,
    OrgOption,
    RubricOption,
    err,
    out,
    resolve,
    shared,
)
from streams.topics import Topics

app = typer.Typer()
feed_app = typer.Typer(
    invoke_without_command=True,
    help="Run the scorecard feed (no sub-command), or export a month's scorecards as files.",
)
app.add_typer(feed_app, name="feed")

PortOption = Annotated[
    int | None,
    typer.Option(
        "--port", help="port of /health, /ready and /metrics [env REFERRALS_FEED_PORT; none]"
    ),
]


@feed_app.callback()
def feed(
    typer_context: typer.Context,
    every: Annotated[float, typer.Option(help="seconds between two looks at the store")] = 60.0,
    port: PortOption = None,
    db: DbOption = None,
    broker: BrokerOption = None,
    org: OrgOption = None,
    rubric: RubricOption = None,
) -> None:
    """Run the scorecard feed until interrupted: close months as the watermark passes
    them and publish their scorecards and penalty totals (a new revision when changed)."""
    if typer_context.invoked_subcommand is not None:
        return
    root = typer_context.find_root().obj or {}
    ctx = resolve({"db": db, "broker": broker, "org": org, "rubric": rubric}, root)
    run_feed(ctx, every, port or ctx.settings.feed_port)


def run_feed(ctx: Context, every: float, port: int | None) -> None:
    from kafka import KafkaProducer

    from consumers.cluster import ensure_topics
    from consumers.health import broker_check
    from consumers.scorecard_feed import close_months
    from consumers.scorecards.state import ConcurrentClose
    from runtime import resume, signals
    from runtime.embedded import broker_for
    from streams.logging import configure, get_logger
    from streams.monitoring import metrics
    from streams.monitoring.probes import Heartbeat, start_probes
    from streams.settings import kafka_security
    from web.circular import LEVELS

    configure(ctx.settings.log_format, ctx.settings.log_level)
    log = get_logger("referrals.feed")
    heartbeat = Heartbeat()
    embedded = ctx.settings.broker is None
    with (
        signals.resume_hint(lambda s: resume.service_advice("feed", s.signum, embedded=embedded)),
        broker_for(ctx.settings) as (bootstrap, _),
        ctx.session() as session,
    ):
        # a turn takes a look at the store and a sleep: three missed turns is a stuck loop
        checks = {"broker": broker_check(bootstrap), "loop": heartbeat.check(3 * every + 30)}
        probes = start_probes("feed", port, checks)
        ensure_topics(bootstrap, ctx.settings.partitions, Topics.of(ctx.settings))
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **kafka_security())
        # a signal ends the turn in hand, its transaction committed, and the sleep
        with signals.stop_requested() as stop:
            while not stop:
                try:
                    with session.begin():
                        closed = close_months(
                            session,
                            ctx.org,
                            ctx.rubric,
                            drained=False,
                            producer=producer,
                            names=Topics.of(ctx.settings),
                        )
                except ConcurrentClose as e:  # another feed closed first: next turn
                    log.warning("feed_close_overlapped", error=str(e))
                    closed = []
                for month in closed:
                    for level in LEVELS:
                        metrics.scorecard_revision(month.month, level, month.revision)
                heartbeat.beat()
                stop.wait(every)
        producer.close(timeout=10)
        if probes is not None:
            probes.stop()
        if stop.signum is not None:
            raise signals.Interrupted(stop.signum)


@feed_app.command("export")
@shared
def export(
    ctx: Context,
    month: Annotated[str, typer.Option(help="YYYY-MM, Asia/Shanghai")],
    out_dir: Annotated[Path, typer.Option("--out", help="the folder to write the files into")],
) -> None:
    """Write a closed month's scorecards at every level as CSV (UTF-8 with BOM) and JSON,
    and the district scores as an SVG and a PNG bar chart: the circular's attachments."""
    from web.circular import export_month

    month = month_option(month)
    with ctx.session() as session:
        exported = export_month(session, month, out_dir)
    which = f"revision {exported.revision}"
    if exported.restated:
        which += f" (restated: revisions 1-{exported.revision - 1} superseded)"
    err.print(f"{month}: {which}", markup=False, highlight=False)
    for path in exported.files:
        out.print(str(path), markup=False, highlight=False, soft_wrap=True)
