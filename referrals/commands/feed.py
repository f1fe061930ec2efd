"""The scorecard feed: closing months as the watermark passes them."""

from __future__ import annotations

import contextlib
import time
from typing import Annotated

import typer

from referrals.options import Context, shared

app = typer.Typer()


@app.command()
@shared
def feed(
    ctx: Context,
    every: Annotated[float, typer.Option(help="seconds between two looks at the store")] = 60.0,
) -> None:
    """Run the scorecard feed until interrupted: close months as the watermark passes
    them and publish their scorecards and penalty totals (a new revision when changed)."""
    from kafka import KafkaProducer

    from consumers.cluster import ensure_topics
    from consumers.scorecard_feed import close_months
    from runtime.embedded import broker_for
    from streams.logging import configure
    from streams.settings import kafka_security

    configure(ctx.settings.log_format, ctx.settings.log_level)
    with broker_for(ctx.settings) as (bootstrap, _), ctx.session() as session:
        ensure_topics(bootstrap, ctx.settings.partitions)
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **kafka_security())
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                with session.begin():
                    close_months(session, ctx.org, ctx.rubric, drained=False, producer=producer)
                time.sleep(every)
