"""The ``referrals`` command (docs/contract.md): the sub-commands of referrals/commands/,
and the one place where errors become one line on stderr and an exit status."""

from __future__ import annotations

import sys
from typing import NoReturn

import click
import typer
from kafka.errors import KafkaError
from sqlalchemy.exc import SQLAlchemyError

from referrals.commands import db, feed, generate, partners, pipeline, queries, schemas, serve
from referrals.options import root_callback
from runtime import signals
from streams.errors import NotFound, ReferralsError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Help texts are plain: rich markup would eat their "[env REFERRALS_DB; ...]" notes.
    rich_markup_mode=None,
    help="Inter-agency case referrals: publish, process and query.",
)
app.callback()(root_callback)
for commands in (pipeline, queries, feed, partners, generate, schemas, serve, db):
    app.add_typer(commands.app)

try:  # typer >= 0.29 vendors click: its usage errors are not click's
    from typer._click.exceptions import UsageError as _VendoredUsageError
except ImportError:  # pragma: no cover - older typer raises click's own
    _VendoredUsageError = click.UsageError  # type: ignore[misc,assignment]


def _fail(message: str, code: int) -> NoReturn:
    """One plain line on stderr (no wrapping, markup or emoji codes), then exit."""
    sys.stderr.write(f"referrals: {' '.join(message.split())}\n")
    sys.exit(code)


# Outside systems' own errors that reach the command line unwrapped.
_OUTSIDE_ERRORS = (KafkaError, SQLAlchemyError, OSError)


def main() -> None:
    signals.install()
    try:
        code = app(standalone_mode=False)
    except signals.Interrupted as e:
        _fail(e.message, e.exit_status)
    except (click.UsageError, _VendoredUsageError) as e:
        _fail(e.format_message(), 2)
    except (click.Abort, typer.Abort):
        sys.exit(130)
    except NotFound as e:
        _fail(str(e), 1)
    except (ReferralsError, *_OUTSIDE_ERRORS) as e:
        _fail(str(e).splitlines()[0] if str(e) else e.__class__.__name__, 2)
    sys.exit(code if isinstance(code, int) else 0)
