"""One stream-processing worker: the Faust app run until it is told to stop."""

from __future__ import annotations

import faust

from consumers.end_offsets import probe_end_offsets
from streams.app import build_app
from streams.logging import get_logger
from streams.settings import Settings

log = get_logger(__name__)


def run_worker(settings: Settings, bootstrap: str) -> None:
    """Run one worker against ``bootstrap`` until SIGTERM/SIGINT."""
    single = settings.single_record_batches == "on"
    if settings.single_record_batches == "auto":
        probe = probe_end_offsets(bootstrap)
        single = not probe.exact
        if single:
            # This broker's ListOffsets is short of the log end (MEASURED.md): table
            # recovery would drop each changelog's tail unless every changelog record is
            # its own batch.
            log.warning(
                "broker_end_offsets_inexact",
                list_offsets=probe.list_offsets_end,
                high_watermark=probe.fetch_high_watermark,
                remedy="single-record producer batches",
            )
    pipeline = build_app(settings, bootstrap, single_record_batches=single)
    worker = faust.Worker(pipeline.app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
