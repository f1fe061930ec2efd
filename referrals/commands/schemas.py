"""The schemas partners compile against: the compatibility gate and the schema registry."""

from __future__ import annotations

import sys

import typer

from referrals.options import Context, err, shared
from streams.errors import ConfigurationError

app = typer.Typer()
schemas = typer.Typer(help="The Avro schemas: compatibility with earlier versions, registry.")
app.add_typer(schemas, name="schemas")


@schemas.command("check")
def check() -> None:
    """Check every schema against its kept earlier versions, backward and forward; exit 1
    naming each break."""
    from schemas.codec import default_store
    from schemas.compat import check as check_all

    found = check_all(default_store())
    for problem in found:
        sys.stderr.write(f"referrals: {problem}\n")
    if found:
        raise typer.Exit(1)
    err.print(f"{len(default_store().names())} schemas compatible with every kept version")


@schemas.command("record")
def record() -> None:
    """Keep today's version of every changed schema under schemas/history/ (commit it)."""
    from schemas.codec import default_store
    from schemas.compat import record as record_all

    for path in record_all(default_store()):
        sys.stdout.write(f"{path}\n")


@schemas.command("register")
@shared
def register(ctx: Context) -> None:
    """Register the project's schemas with REFERRALS_SCHEMA_REGISTRY; prints subject and id."""
    from schemas.codec import default_store
    from schemas.registry import register_all, registry_for

    registry = registry_for(ctx.settings.schema_registry)
    if registry is None:
        raise ConfigurationError("no schema registry: set REFERRALS_SCHEMA_REGISTRY to its URL")
    for subject, schema_id in register_all(default_store(), registry).items():
        sys.stdout.write(f"{subject}\t{schema_id}\n")
