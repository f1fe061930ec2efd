"""What partner agencies do: publish their referrals."""

from __future__ import annotations

from typing import Annotated

import typer

from referrals.commands.choices import Agency, InputFile
from referrals.options import Context, err, shared

app = typer.Typer()


@app.command()
@shared
def publish(
    ctx: Context,
    file: InputFile,
    agency: Annotated[Agency, typer.Option(help="the agency publishing")],
) -> None:
    """Publish a partner agency's referrals (JSONL) to the broker."""
    from consumers.cluster import ensure_topics
    from consumers.publisher import Publisher, prepare_agency_file
    from runtime.embedded import broker_for

    records = list(prepare_agency_file(file, agency.value))
    with broker_for(ctx.settings) as (bootstrap, _):
        ensure_topics(bootstrap, ctx.settings.partitions)
        publisher = Publisher(bootstrap)
        try:
            publisher.send(records)
        finally:
            publisher.close()
    err.print(f"published {len(records)} records from {file} as {agency.value}")
