"""Generated inputs: the 2022 of the bureau's summary, or a city's traffic at any scale."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import typer

from referrals.options import Context, err, shared
from streams.errors import ConfigurationError

app = typer.Typer()


@app.command()
@shared
def generate(
    ctx: Context,
    profile: Annotated[str, typer.Option("--profile", help="zhuzhou-2022 or zhuzhou-scaled")],
    out: Annotated[Path, typer.Option("--out", help="the JSONL file to write")],
    seed: Annotated[int, typer.Option(help="the random seed; same seed, same file")] = 0,
    incidents: Annotated[
        int | None, typer.Option(help="zhuzhou-scaled: how many incidents")
    ] = None,
    years: Annotated[
        str, typer.Option(help="zhuzhou-scaled: the years, e.g. 2013-2022")
    ] = "2013-2022",
) -> None:
    """Write a synthetic JSONL input for the organisation given by --org.

    zhuzhou-2022: 2021 and 2022, whose 2022 report gives the figures of the bureau's
    summary. zhuzhou-scaled: --incidents incidents over --years, streamed in publication
    order (about six lines each), for benchmarks and long replays."""
    from referrals.generate import (
        PROFILES,
        SCALED_PROFILE,
        generate_scaled,
        generate_zhuzhou_2022,
        parse_years,
    )

    if profile not in PROFILES:
        known = ", ".join(PROFILES)
        raise ConfigurationError(f"unknown profile {profile!r}; known profiles: {known}")
    lines: Iterable[str]
    if profile == SCALED_PROFILE:
        if incidents is None:
            raise ConfigurationError(f"--profile {SCALED_PROFILE} needs --incidents N")
        lines = generate_scaled(seed, ctx.org, incidents, parse_years(years))
    elif incidents is not None:
        raise ConfigurationError(f"--incidents is for --profile {SCALED_PROFILE} only")
    else:
        lines = generate_zhuzhou_2022(seed, ctx.org)
    written = 0
    with out.open("w", encoding="utf-8") as file:
        for line in lines:
            file.write(line + "\n")
            written += 1
    err.print(f"wrote {written} lines to {out}", markup=False, highlight=False, soft_wrap=True)
