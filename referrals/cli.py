"""The ``referrals`` command (CONTRACT.md): one function per sub-command, each a thin
shell over the batch run, the worker, the sink and the store's queries."""

from __future__ import annotations

import contextlib
import json
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import click
import typer
from kafka.errors import KafkaError
from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from referrals.embedded import BrokerError
from referrals.queries import CaseNotFound, case_document, dead_letters, find_case
from streams.errors import ConfigurationError, ReferralsError
from streams.logging import configure
from streams.organisation import OrganisationError, load_organisation
from streams.scorecards.rubric import load_rubric
from streams.settings import Settings

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Inter-agency case referrals: publish, process and query.",
)
out = Console()
err = Console(stderr=True)


class Format(StrEnum):
    text = "text"
    json = "json"


class Agency(StrEnum):
    HOUSING = "HOUSING"
    TRAFFIC_POLICE = "TRAFFIC_POLICE"
    ENVIRONMENT = "ENVIRONMENT"


Db = Annotated[
    str | None,
    typer.Option(help="SQLAlchemy URL [env REFERRALS_DB; default sqlite:///referrals.db]"),
]
Broker = Annotated[
    str | None,
    typer.Option(
        help="kafka://host:port of a running cluster [env REFERRALS_BROKER; default: embedded]"
    ),
]
Org = Annotated[
    Path | None,
    typer.Option(help="organisation TOML [env REFERRALS_ORG; default: the Zhuzhou sample]"),
]
Rubric = Annotated[
    Path | None,
    typer.Option(help="scoring rubric TOML [env REFERRALS_RUBRIC; default: DOMAIN.md's]"),
]
FormatOpt = Annotated[Format, typer.Option("--format", help="text for people, json for scripts")]
InputFile = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


def settings_for(
    db: str | None, broker: str | None, org: Path | None, rubric: Path | None = None
) -> Settings:
    """Environment first, then the command line; the organisation is checked at once."""
    settings = Settings.from_env()
    if db is not None:
        settings = replace(settings, db=db)
    if broker is not None:
        settings = replace(settings, broker=broker)
    if org is not None:
        settings = replace(settings, org=org)
    if rubric is not None:
        settings = replace(settings, rubric=rubric)
    if settings.broker is not None:
        settings.bootstrap_servers  # noqa: B018 - validates the URL before anything starts
    load_organisation(settings.org)
    load_rubric(settings.rubric)
    configure(settings.log_format, "warning")
    return settings


@contextlib.contextmanager
def store_session(settings: Settings) -> Iterator[Session]:
    """A session on the configured store, its engine disposed of afterwards."""
    from consumers.store import open_store

    engine = open_store(settings.db)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")


@app.command()
def run(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
    format: FormatOpt = Format.text,
    db: Db = None,
    broker: Broker = None,
    org: Org = None,
    rubric: Rubric = None,
) -> None:
    """Publish JSONL files, wait until the whole pipeline has processed them, summarise."""
    from referrals.batch import run_batch
    from referrals.display import ProgressReporter, print_summary

    settings = settings_for(db, broker, org, rubric)
    with ProgressReporter(err, enabled=format is Format.text) as reporter:
        summary = run_batch(settings, files, reporter)
    if format is Format.json:
        sys.stdout.write(summary.as_json() + "\n")
    else:
        print_summary(out, summary)


@app.command()
def case(
    reference: Annotated[str, typer.Argument(metavar="AGENCY:REFERRAL_ID")],
    format: FormatOpt = Format.text,
    db: Db = None,
    broker: Broker = None,
    org: Org = None,
    rubric: Rubric = None,
) -> None:
    """The case that holds a referral (or a case id): state, times, referrals, ledger."""
    from referrals.display import print_case

    settings = settings_for(db, broker, org, rubric)
    with store_session(settings) as session:
        document = case_document(find_case(session, reference))
    if format is Format.json:
        emit_json(document)
    else:
        print_case(out, document)


@app.command()
def deadletters(
    format: FormatOpt = Format.text,
    db: Db = None,
    broker: Broker = None,
    org: Org = None,
    rubric: Rubric = None,
) -> None:
    """Dead letters with their reason, source and time."""
    from referrals.display import print_dead_letters

    settings = settings_for(db, broker, org, rubric)
    with store_session(settings) as session:
        letters = dead_letters(session)
    if format is Format.json:
        emit_json(letters)
    else:
        print_dead_letters(out, letters)


class CardFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Level(StrEnum):
    squad = "squad"
    district = "district"
    city = "city"


@app.command()
def scorecard(
    month: Annotated[str, typer.Option(help="YYYY-MM, Asia/Shanghai")],
    level: Annotated[Level, typer.Option(help="squad, district or city")] = Level.district,
    format: Annotated[CardFormat, typer.Option("--format")] = CardFormat.table,
    db: Db = None,
    broker: Broker = None,
    org: Org = None,
    rubric: Rubric = None,
) -> None:
    """The latest revision of a month's scorecards, one row per unit of the level."""
    from consumers.scorecard_feed import latest_scorecards
    from referrals.display import print_scorecards, scorecards_csv

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ConfigurationError(f"--month must look like 2022-03, got {month!r}")
    settings = settings_for(db, broker, org, rubric)
    with store_session(settings) as session:
        cards = latest_scorecards(session, month, level.value)
    if format is CardFormat.json:
        emit_json(cards)
    elif format is CardFormat.csv:
        sys.stdout.write(scorecards_csv(cards))
    else:
        print_scorecards(out, cards, month, level.value)


@app.command()
def penalties(
    year: Annotated[int, typer.Option(help="the year, counted in Asia/Shanghai")],
    format: FormatOpt = Format.text,
    db: Db = None,
    broker: Broker = None,
    org: Org = None,
    rubric: Rubric = None,
) -> None:
    """Penalties collected by district in a year against the year before."""
    from referrals.display import print_penalties
    from referrals.queries import penalties_by_district

    settings = settings_for(db, broker, org, rubric)
    with store_session(settings) as session:
        rows = penalties_by_district(session, year, load_organisation(settings.org))
    if format is Format.json:
        emit_json(rows)
    else:
        print_penalties(out, rows, year)


class Lang(StrEnum):
    zh = "zh"
    en = "en"


@app.command()
def report(
    year: Annotated[int, typer.Option(help="the year, counted in Asia/Shanghai")],
    format: FormatOpt = Format.text,
    lang: Annotated[Lang, typer.Option(help="language of the text report")] = Lang.zh,
    db: Db = None,
    broker: Broker = None,
    org: Org = None,
    rubric: Rubric = None,
) -> None:
    """The annual report: referrals, cases, major cases, penalties, change on the year before."""
    from referrals.queries import annual_report_of
    from streams.reports.annual import report_text

    settings = settings_for(db, broker, org, rubric)
    with store_session(settings) as session:
        document = annual_report_of(session, year)
    if format is Format.json:
        emit_json(document)
    else:
        sys.stdout.write(report_text(document, lang.value) + "\n")


@app.command()
def generate(
    profile: Annotated[str, typer.Option("--profile", help="the profile: zhuzhou-2022")],
    out: Annotated[Path, typer.Option("--out", help="the JSONL file to write")],
    seed: Annotated[int, typer.Option(help="the random seed; same seed, same file")] = 0,
    db: Db = None,
    broker: Broker = None,
    org: Org = None,
    rubric: Rubric = None,
) -> None:
    """Write a synthetic JSONL input: 2021 and 2022 for the organisation (the profile is
    written for the shipped Zhuzhou sample; --db and --broker are accepted and unused)."""
    from referrals.generate import PROFILES, generate_zhuzhou_2022

    if profile not in PROFILES:
        known = ", ".join(PROFILES)
        raise ConfigurationError(f"unknown profile {profile!r}; known profiles: {known}")
    settings = settings_for(db, broker, org, rubric)
    lines = generate_zhuzhou_2022(seed, load_organisation(settings.org))
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    err.print(f"wrote {len(lines)} lines to {out}", markup=False, highlight=False, soft_wrap=True)


@app.command()
def publish(
    file: InputFile,
    agency: Annotated[Agency, typer.Option(help="the agency publishing")],
    db: Db = None,
    broker: Broker = None,
    org: Org = None,
    rubric: Rubric = None,
) -> None:
    """Publish a partner agency's referrals (JSONL) to the broker."""
    from consumers.cluster import ensure_topics
    from consumers.publisher import Publisher, prepare_agency_file
    from referrals.batch import cluster

    settings = settings_for(db, broker, org, rubric)
    records = list(prepare_agency_file(file, agency.value))
    with cluster(settings) as (bootstrap, _):
        ensure_topics(bootstrap, settings.partitions)
        publisher = Publisher(bootstrap)
        try:
            publisher.send(records)
        finally:
            publisher.close()
    err.print(f"published {len(records)} records from {file} as {agency.value}")


@app.command()
def worker(db: Db = None, broker: Broker = None, org: Org = None, rubric: Rubric = None) -> None:
    """Run one stream-processing worker until interrupted (run several to scale out)."""
    from consumers.cluster import ensure_topics
    from referrals.batch import cluster
    from streams.worker import run_worker

    settings = settings_for(db, broker, org, rubric)
    configure(settings.log_format, settings.log_level)
    with cluster(settings) as (bootstrap, embedded):
        if embedded:
            err.print(f"embedded broker at kafka://{bootstrap}")
        ensure_topics(bootstrap, settings.partitions)
        run_worker(settings, bootstrap)


@app.command()
def sink(db: Db = None, broker: Broker = None, org: Org = None, rubric: Rubric = None) -> None:
    """Run the SQL sink until interrupted: case snapshots and dead letters into --db."""
    from consumers.cluster import ensure_topics
    from consumers.sink import SqlSink
    from consumers.store import open_store
    from referrals.batch import cluster

    settings = settings_for(db, broker, org, rubric)
    configure(settings.log_format, settings.log_level)
    with cluster(settings) as (bootstrap, _):
        ensure_topics(bootstrap, settings.partitions)
        with contextlib.suppress(KeyboardInterrupt):
            SqlSink(bootstrap, open_store(settings.db)).run()


@app.command()
def feed(
    db: Db = None,
    broker: Broker = None,
    org: Org = None,
    rubric: Rubric = None,
    every: Annotated[float, typer.Option(help="seconds between two looks at the store")] = 60.0,
) -> None:
    """Run the scorecard feed until interrupted: close months as the watermark passes
    them and publish their scorecards and penalty totals (a new revision when changed)."""
    import time

    from kafka import KafkaProducer

    from consumers.cluster import ensure_topics
    from consumers.scorecard_feed import close_months
    from referrals.batch import cluster

    settings = settings_for(db, broker, org, rubric)
    configure(settings.log_format, settings.log_level)
    organisation, scoring = load_organisation(settings.org), load_rubric(settings.rubric)
    with cluster(settings) as (bootstrap, _), store_session(settings) as session:
        ensure_topics(bootstrap, settings.partitions)
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                with session.begin():
                    close_months(session, organisation, scoring, drained=False, producer=producer)
                time.sleep(every)


@app.command()
def demo(
    db: Db = None,
    broker: Broker = None,
    org: Org = None,
    rubric: Rubric = None,
    seed: Annotated[int, typer.Option(help="seed of the generated year")] = 0,
) -> None:
    """The main job: a generated Zhuzhou 2021-2022 through the real pipeline, then the 2022
    report, the December district scorecards and the penalties by district."""
    from consumers.scorecard_feed import latest_scorecards
    from referrals.batch import run_batch
    from referrals.display import (
        ProgressReporter,
        print_penalties,
        print_scorecards,
        print_summary,
    )
    from referrals.generate import generate_zhuzhou_2022
    from referrals.queries import annual_report_of, penalties_by_district
    from streams.reports.annual import report_text

    workdir = Path(tempfile.mkdtemp(prefix="referrals-demo-"))
    settings = settings_for(db or f"sqlite:///{workdir / 'demo.db'}", broker, org, rubric)
    organisation = load_organisation(settings.org)
    year = workdir / "zhuzhou-2022.jsonl"
    lines = generate_zhuzhou_2022(seed, organisation)
    year.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    out.rule("[bold]referral-pipeline: Zhuzhou 2021-2022, generated, through the real pipeline")
    with ProgressReporter(err, enabled=True) as reporter:
        summary = run_batch(settings, [year], reporter)
    print_summary(out, summary)
    with store_session(settings) as session:
        report = annual_report_of(session, 2022)
        cards = latest_scorecards(session, "2022-12", "district")
        money = penalties_by_district(session, 2022, organisation)
    out.rule("[bold]2022 annual report")
    out.print(report_text(report, "zh"))
    out.print(report_text(report, "en"))
    print_scorecards(out, cards, "2022-12", "district")
    print_penalties(out, money, 2022)
    out.print(f"input: {year}\ndatabase: {settings.db}")


try:  # typer >= 0.29 vendors click: its usage errors are not click's
    from typer._click.exceptions import UsageError as _VendoredUsageError
except ImportError:  # pragma: no cover - older typer raises click's own
    _VendoredUsageError = click.UsageError  # type: ignore[misc,assignment]


def _fail(message: str, code: int) -> NoReturn:
    """One plain line on stderr (no wrapping, markup or emoji codes), then exit."""
    sys.stderr.write(f"referrals: {' '.join(message.split())}\n")
    sys.exit(code)


_USER_ERRORS = (
    ReferralsError,
    OrganisationError,
    BrokerError,
    KafkaError,
    SQLAlchemyError,
    OSError,
)


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except (click.UsageError, _VendoredUsageError) as e:
        _fail(e.format_message(), 2)
    except (click.Abort, typer.Abort):
        sys.exit(130)
    except CaseNotFound as e:
        _fail(str(e), 1)
    except _USER_ERRORS as e:
        _fail(str(e).splitlines()[0] if str(e) else e.__class__.__name__, 2)
    sys.exit(code if isinstance(code, int) else 0)
