"""What partner agencies do: publish their referrals, and the keys of the HTTP intake."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from referrals.commands.choices import Agency, Format, FormatOpt, InputFile
from referrals.options import Context, emit_json, err, shared
from streams.errors import ConfigurationError, RecordRefused
from streams.topics import Topics

if TYPE_CHECKING:
    from consumers.publisher import FileReport

app = typer.Typer()
keys = typer.Typer(help="API keys of the HTTP intake: new keys and their hashes.")
app.add_typer(keys, name="keys")

# Exit status of `publish` when some lines were refused (the valid ones were sent).
EXIT_REFUSED = 3
NO_DURABLE_BROKER = (
    "publish needs a running cluster: the embedded broker lives only as long as this command, "
    "so the referrals would be lost. Point it at your cluster with --broker kafka://HOST:PORT "
    "(or REFERRALS_BROKER), check the file without sending with --check, or process it "
    "locally with `referrals run FILE`"
)


@app.command()
@shared
def publish(
    ctx: Context,
    file: InputFile,
    agency: Annotated[Agency, typer.Option(help="the agency publishing")],
    check: Annotated[
        bool, typer.Option("--check", help="check every line and send nothing (no broker needed)")
    ] = False,
    format: FormatOpt = Format.text,
) -> None:
    """Publish a partner agency's referrals (JSONL): the lines that pass the intake's
    checks are sent; each other line is reported with its field and rule, and the exit
    status is 3."""
    from consumers.publisher import AgencyPublisher, FileReport, vet_agency_file
    from schemas.codec import default_store

    if ctx.settings.broker is None and not check:
        raise ConfigurationError(NO_DURABLE_BROKER)
    if check:
        passed, refused = vet_agency_file(
            file, agency.value, ctx.org, datetime.now(UTC), default_store()
        )
        report, checked = FileReport([], refused), len(passed)
    else:
        with AgencyPublisher(
            agency.value,
            ctx.settings.bootstrap_servers,
            org=ctx.org,
            security=ctx.settings.kafka_client_config(),
            names=Topics.of(ctx.settings),
        ) as publisher:
            report = publisher.publish_file(file)
        checked = 0
    _tell(report, file, agency.value, checked, format)
    if report.undelivered:
        from consumers.publisher import DeliveryFailed

        raise DeliveryFailed(
            f"{len(report.undelivered)} referrals from {file} were not acknowledged by the "
            f"broker: {report.undelivered[0].error}; publishing the file again is safe"
        )
    if report.refused:
        raise typer.Exit(EXIT_REFUSED)


def _tell(report: FileReport, file: Path, agency: str, checked: int, format: Format) -> None:
    if format is Format.json:
        emit_json(
            {
                "published": len(report.delivered),
                "passed_check": checked,
                "refused": [_refusal(r) for r in report.refused],
                "deliveries": [
                    {
                        "line": d.record.source_line,
                        "topic": d.topic,
                        "partition": d.partition,
                        "offset": d.offset,
                        "error": d.error,
                    }
                    for d in report.deliveries
                ],
            }
        )
        return
    for refusal in report.refused:
        err.print(
            f"{file}:{refusal.line}: {refusal.field or '(record)'}: {refusal.message} "
            f"[{refusal.rule}]",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for failed in report.undelivered:
        err.print(f"{file}:{failed.record.source_line}: not delivered: {failed.error}")
    refused = f", {len(report.refused)} lines refused" if report.refused else ""
    if checked:
        err.print(f"{checked} referrals from {file} pass every check{refused}; nothing sent")
    else:
        err.print(f"published {len(report.delivered)} referrals from {file} as {agency}{refused}")


def _refusal(refusal: RecordRefused) -> dict[str, object]:
    return {
        "line": refusal.line,
        "field": refusal.field,
        "rule": refusal.rule,
        "message": refusal.message,
    }


@keys.command("new")
def new_key(agency: Annotated[Agency, typer.Option(help="the agency the key is for")]) -> None:
    """Make a new API key: the key (give it to the agency) and the line for the keys file."""
    from web.intake_keys import hash_key, new_api_key

    key = new_api_key()
    sys.stdout.write(f"key:  {key}\nhash: {hash_key(key)}\n")
    err.print(
        f'add the hash to [agencies.{agency.value}] keys = ["..."] in REFERRALS_API_KEYS',
        markup=False,
    )


@keys.command("hash")
def hash_command() -> None:
    """Hash an API key read from standard input (kept out of the shell's history)."""
    from web.intake_keys import hash_key

    key = sys.stdin.readline().strip()
    if not key:
        raise ConfigurationError("no key on standard input")
    sys.stdout.write(hash_key(key) + "\n")


@app.command()
@shared
def receipts(ctx: Context) -> None:
    """Run the receipts consumer until interrupted: status receipts to each agency on
    receipts.<agency>, and their statuses into --db for the HTTP intake."""
    from consumers.cluster import ensure_topics
    from consumers.receipts import ReceiptsConsumer
    from consumers.store import open_store
    from streams.logging import configure

    configure(ctx.settings.log_format, ctx.settings.log_level)
    if ctx.settings.broker is None:
        raise ConfigurationError(
            "receipts follow a running pipeline: point --broker (or REFERRALS_BROKER) at its "
            "cluster"
        )
    bootstrap = ctx.settings.bootstrap_servers
    ensure_topics(bootstrap, ctx.settings.partitions, Topics.of(ctx.settings))
    engine = open_store(ctx.settings.db)
    consumer = ReceiptsConsumer(
        bootstrap,
        engine,
        security=ctx.settings.kafka_client_config(),
        names=Topics.of(ctx.settings),
    )
    try:
        consumer.run()
    except KeyboardInterrupt:
        consumer.close()
    finally:
        engine.dispose()
