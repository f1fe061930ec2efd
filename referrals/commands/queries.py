"""What the bureau asks the store: a case, the dead letters, scorecards, the annual report,
penalties."""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from referrals.commands.choices import CardFormat, Format, FormatOpt, Lang, Level
from referrals.options import Context, emit_json, out, shared
from streams.errors import ConfigurationError

app = typer.Typer()


@app.command()
@shared
def case(
    ctx: Context,
    reference: Annotated[str, typer.Argument(metavar="AGENCY:REFERRAL_ID")],
    format: FormatOpt = Format.text,
) -> None:
    """The case that holds a referral (or a case id): state, times, referrals, ledger."""
    from consumers.queries import case_document, find_case
    from referrals.display import print_case

    with ctx.session() as session:
        document = case_document(find_case(session, reference))
    if format is Format.json:
        emit_json(document)
    else:
        print_case(out, document)


@app.command()
@shared
def deadletters(ctx: Context, format: FormatOpt = Format.text) -> None:
    """Dead letters with their reason, source and time."""
    from consumers.queries import dead_letters
    from referrals.display import print_dead_letters

    with ctx.session() as session:
        letters = dead_letters(session)
    if format is Format.json:
        emit_json(letters)
    else:
        print_dead_letters(out, letters)


def month_option(month: str) -> str:
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ConfigurationError(f"--month must look like 2022-03, got {month!r}")
    return month


@app.command()
@shared
def scorecard(
    ctx: Context,
    month: Annotated[str, typer.Option(help="YYYY-MM, Asia/Shanghai")],
    level: Annotated[Level, typer.Option(help="squad, district or city")] = Level.district,
    format: Annotated[CardFormat, typer.Option("--format")] = CardFormat.table,
) -> None:
    """The latest revision of a month's scorecards, one row per unit of the level."""
    from consumers.scorecard_feed import latest_scorecards
    from referrals.display import print_scorecards, scorecards_csv

    month = month_option(month)
    with ctx.session() as session:
        cards = latest_scorecards(session, month, level.value)
    if format is CardFormat.json:
        emit_json(cards)
    elif format is CardFormat.csv:
        sys.stdout.write(scorecards_csv(cards))
    else:
        print_scorecards(out, cards, month, level.value)


@app.command()
@shared
def penalties(
    ctx: Context,
    year: Annotated[int, typer.Option(help="the year, counted in Asia/Shanghai")],
    format: FormatOpt = Format.text,
) -> None:
    """Penalties collected by district in a year against the year before."""
    from consumers.queries import penalties_by_district
    from referrals.display import print_penalties

    with ctx.session() as session:
        rows = penalties_by_district(session, year, ctx.org)
    if format is Format.json:
        emit_json(rows)
    else:
        print_penalties(out, rows, year)


@app.command()
@shared
def report(
    ctx: Context,
    year: Annotated[int, typer.Option(help="the year, counted in Asia/Shanghai")],
    format: FormatOpt = Format.text,
    lang: Annotated[Lang, typer.Option(help="language of the text report")] = Lang.zh,
) -> None:
    """The annual report: referrals, cases, major cases, penalties, change on the year before."""
    from consumers.queries import annual_report_of
    from streams.reports.annual import report_text

    with ctx.session() as session:
        document = annual_report_of(session, year)
    if format is Format.json:
        emit_json(document)
    else:
        sys.stdout.write(report_text(document, lang.value) + "\n")
