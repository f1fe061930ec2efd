"""Generated inputs whose figures are known in advance."""

from __future__ import annotations

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
    profile: Annotated[str, typer.Option("--profile", help="the profile: zhuzhou-2022")],
    out: Annotated[Path, typer.Option("--out", help="the JSONL file to write")],
    seed: Annotated[int, typer.Option(help="the random seed; same seed, same file")] = 0,
) -> None:
    """Write a synthetic JSONL input for the organisation given by --org: 2021 and 2022,
    whose 2022 report gives the figures of the bureau's summary."""
    from referrals.generate import PROFILES, generate_zhuzhou_2022

    if profile not in PROFILES:
        known = ", ".join(PROFILES)
        raise ConfigurationError(f"unknown profile {profile!r}; known profiles: {known}")
    lines = generate_zhuzhou_2022(seed, ctx.org)
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    err.print(f"wrote {len(lines)} lines to {out}", markup=False, highlight=False, soft_wrap=True)
