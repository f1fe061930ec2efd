"""The options every command shares, declared once, and the context object they build.

Every command takes ``--db``, ``--broker``, ``--org`` and ``--rubric`` after its name
(``referrals run FILE --db URL``, as docs/contract.md writes them) and also before it
(``referrals --db URL run FILE``, through the app's callback). ``shared`` adds the four
options to a command's signature so no command repeats them, and hands the command a
``Context`` with the settings resolved (environment first, then the root options, then the
command's own) and the organisation and rubric loaded once.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.orm import Session

from streams.logging import configure
from streams.organisation import Organisation, load_organisation
from streams.scorecards.rubric import Rubric, load_rubric
from streams.settings import Settings

out = Console()
err = Console(stderr=True)

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL [env REFERRALS_DB; default sqlite:///referrals.db]"),
]
BrokerOption = Annotated[
    str | None,
    typer.Option(
        "--broker",
        help="kafka://host:port of a running cluster [env REFERRALS_BROKER; default: embedded]",
    ),
]
OrgOption = Annotated[
    Path | None,
    typer.Option(
        "--org", help="organisation TOML [env REFERRALS_ORG; default: the Zhuzhou sample]"
    ),
]
RubricOption = Annotated[
    Path | None,
    typer.Option(
        "--rubric",
        help="scoring rubric TOML [env REFERRALS_RUBRIC; default: the rubric of docs/rules.md]",
    ),
]
SHARED: dict[str, Any] = {
    "db": DbOption,
    "broker": BrokerOption,
    "org": OrgOption,
    "rubric": RubricOption,
}


@dataclass
class Context:
    """What a command works with: settings, and the organisation and rubric, loaded once."""

    settings: Settings
    _org: Organisation | None = field(default=None, repr=False)
    _rubric: Rubric | None = field(default=None, repr=False)

    @property
    def org(self) -> Organisation:
        if self._org is None:
            self._org = load_organisation(self.settings.org)
        return self._org

    @property
    def rubric(self) -> Rubric:
        if self._rubric is None:
            self._rubric = load_rubric(self.settings.rubric)
        return self._rubric

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session on the configured store, its engine disposed of afterwards."""
        from consumers.store import open_store

        engine = open_store(self.settings.db)
        try:
            with Session(engine) as session:
                yield session
        finally:
            engine.dispose()


def resolve(values: dict[str, Any], root: dict[str, Any]) -> Context:
    """Environment first, then the root options, then the command's: checked at once, so a
    bad organisation, rubric or broker URL is refused before anything starts."""
    settings = Settings.from_env()
    for name in SHARED:
        value = values.get(name)
        value = root.get(name) if value is None else value
        if value is not None:
            settings = replace(settings, **{name: value})
    if settings.broker is not None:
        settings.bootstrap_servers  # noqa: B018 - validates the URL before anything starts
    context = Context(settings)
    context.org  # noqa: B018 - loaded now: a malformed file is a one-line error at start
    context.rubric  # noqa: B018
    configure(settings.log_format, "warning")
    return context


def shared(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give ``fn(ctx: Context, ...)`` the four shared options; typer sees them in its
    signature, ``fn`` receives the resolved ``Context`` instead."""
    signature = inspect.signature(fn)
    hints = {k: v for k, v in inspect.get_annotations(fn, eval_str=True).items() if k != "ctx"}
    own = [
        p.replace(annotation=hints[p.name])
        for p in signature.parameters.values()
        if p.name != "ctx"
    ]
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=kind)
        for name, kind in SHARED.items()
    ]
    extra.append(
        inspect.Parameter("typer_context", inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
    )

    @functools.wraps(fn)
    def command(**kwargs: Any) -> Any:
        values = {name: kwargs.pop(name) for name in SHARED}
        root = kwargs.pop("typer_context").find_root().obj or {}
        return fn(resolve(values, root), **kwargs)

    del command.__wrapped__  # typer must read the signature below, not fn's
    command.__signature__ = signature.replace(parameters=[*own, *extra])  # type: ignore[attr-defined]
    command.__annotations__ = {**hints, **SHARED, "typer_context": typer.Context}
    return command


def root_callback(
    ctx: typer.Context,
    db: DbOption = None,
    broker: BrokerOption = None,
    org: OrgOption = None,
    rubric: RubricOption = None,
) -> None:
    """Inter-agency case referrals: publish, process and query."""
    ctx.obj = {"db": db, "broker": broker, "org": org, "rubric": rubric}


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2) + "\n")
