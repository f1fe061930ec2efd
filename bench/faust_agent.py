"""The minimal Faust agent the pipeline is measured against: per event, one Avro decode,
one table update and one send. Run as its own process, like a worker:

    python -m bench.faust_agent BOOTSTRAP project|defaults

"project" gives it every Faust setting in which the pipeline's app (``streams.app``)
differs from Faust's defaults, and the pipeline's own consumer (``streams.consumer``), as
the worker would have them on this broker; "defaults" gives it Faust's own. Either way the
comparison follows the pipeline's tuning as it changes.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import faust

from schemas.codec import default_store
from streams import consumer
from streams.app import build_app
from streams.settings import Settings


def source_topic(profile: str) -> str:
    return f"bench.agent.{profile}.in"


def sink_topic(profile: str) -> str:
    return f"bench.agent.{profile}.out"


# Settings that name the app's own files or reply topic: not tuning, never copied.
_OWN = frozenset({"id", "broker", "datadir", "tabledir", "reply_to"})


def exact_end_offsets(bootstrap: str) -> bool:
    from bench._pipeline import probe_end_offsets

    return probe_end_offsets(bootstrap).exact


def project_conf(settings: Settings, bootstrap: str, exact: bool) -> dict[str, Any]:
    """The Faust settings the pipeline's app sets to other than Faust's defaults."""
    ours = build_app(settings, bootstrap, exact_end_offsets=exact).app.conf
    plain = faust.App("bench-defaults", broker=f"kafka://{bootstrap}").conf
    return {
        name: getattr(ours, name)
        for name in ours.setting_names()
        if name not in _OWN and getattr(ours, name) != getattr(plain, name)
    }


def build_agent(
    profile: str, bootstrap: str, conf: dict[str, Any], partitions: int, exact: bool | None
) -> faust.App:
    """The agent's app; ``exact`` (not None) gives it the pipeline's consumer."""
    app_id = f"bench-agent-{profile}"
    datadir = Path(tempfile.gettempdir()) / f"{app_id}-faust"
    app = faust.App(
        app_id,
        **{"store": "memory://", "web_enabled": False, **conf},
        broker=f"kafka://{bootstrap}",
        datadir=datadir,
    )
    if exact is not None:
        consumer.install(app, exact_end_offsets=exact)
    codec = default_store()
    source = app.topic(
        source_topic(profile), key_serializer="raw", value_serializer="raw", partitions=partitions
    )
    sink = app.topic(
        sink_topic(profile), key_serializer="raw", value_serializer="raw", partitions=partitions
    )
    schema: Any = faust.Schema(key_serializer="json", value_serializer="json")
    seen = app.Table("bench-seen", default=int, partitions=partitions, schema=schema)

    @app.agent(source)
    async def decode_count_send(stream: Any) -> None:
        async for key, value in stream.items():
            record = codec.decode(value).record
            seen[key.decode()] += 1
            await sink.send(key=key, value=str(len(record)).encode())

    return app


def main(argv: list[str]) -> None:
    bootstrap, profile = argv
    settings = Settings.from_env()
    exact = exact_end_offsets(bootstrap) if profile == "project" else None
    conf = project_conf(settings, bootstrap, bool(exact)) if profile == "project" else {}
    app = build_agent(profile, bootstrap, conf, settings.partitions, exact)
    faust.Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1:])
