"""The minimal Faust agent the pipeline is measured against: per event, one Avro decode,
one table update and one send. Run as its own process, like a worker:

    python -m bench.faust_agent BOOTSTRAP project|defaults

"project" gives it every Faust setting in which the pipeline's app (``streams.app``)
differs from Faust's defaults, as the worker would have them on this broker (single-record
producer batches included where the broker's end offsets are inexact); "defaults" gives
it Faust's own. Either way the comparison follows the pipeline's tuning as it changes.
"""

from __future__ import annotations

import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import faust

from schemas.codec import default_store
from streams.app import build_app
from streams.settings import Settings


def source_topic(profile: str) -> str:
    return f"bench.agent.{profile}.in"


def sink_topic(profile: str) -> str:
    return f"bench.agent.{profile}.out"


# Settings that name the app's own files or reply topic: not tuning, never copied.
_OWN = frozenset({"id", "broker", "datadir", "tabledir", "reply_to"})


def project_conf(settings: Settings, bootstrap: str) -> dict[str, Any]:
    """The Faust settings the pipeline's app sets to other than Faust's defaults."""
    single = settings.single_record_batches == "on"
    if settings.single_record_batches == "auto":
        from bench._pipeline import probe_end_offsets

        single = not probe_end_offsets(bootstrap).exact
    ours = build_app(settings, bootstrap, single_record_batches=single).app.conf
    plain = faust.App("bench-defaults", broker=f"kafka://{bootstrap}").conf
    return {
        name: getattr(ours, name)
        for name in ours.setting_names()
        if name not in _OWN and getattr(ours, name) != getattr(plain, name)
    }


def build_agent(profile: str, bootstrap: str, conf: dict[str, Any], partitions: int) -> faust.App:
    app_id = f"bench-agent-{profile}"
    datadir = Path(tempfile.gettempdir()) / f"{app_id}-faust"
    app = faust.App(
        app_id,
        **{"store": "memory://", "web_enabled": False, **conf},
        broker=f"kafka://{bootstrap}",
        datadir=datadir,
    )
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
    settings = replace(Settings.from_env(), single_record_batches="auto")
    conf = project_conf(settings, bootstrap) if profile == "project" else {}
    app = build_agent(profile, bootstrap, conf, settings.partitions)
    faust.Worker(app, loglevel=settings.log_level, quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main(sys.argv[1:])
