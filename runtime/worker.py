"""One stream-processing worker: the Faust app run until it is told to stop."""

from __future__ import annotations

import faust

from consumers.store import open_store
from streams.app import build_app
from streams.end_offsets import probe_end_offsets
from streams.errors import ConfigurationError
from streams.logging import get_logger
from streams.settings import Settings

log = get_logger(__name__)


def run_worker(settings: Settings, bootstrap: str) -> None:
    """Run one worker against ``bootstrap`` until SIGTERM/SIGINT."""
    exact = settings.end_offsets == "listoffsets"
    if settings.end_offsets == "auto":
        probe = probe_end_offsets(bootstrap)
        exact = probe.exact
        if not exact:
            # This broker's ListOffsets is short of the log end (docs/measured.md): table
            # recovery would drop each changelog's tail.
            log.info(
                "broker_end_offsets_inexact",
                list_offsets=probe.list_offsets_end,
                high_watermark=probe.fetch_high_watermark,
                remedy="end offsets from fetch high watermarks",
            )
    elif settings.end_offsets != "fetch":
        raise ConfigurationError(
            "REFERRALS_END_OFFSETS must be auto, listoffsets or fetch, "
            f"got {settings.end_offsets!r}"
        )
    # The archive's table is the store's: made or checked as every process does it.
    open_store(settings.db).dispose()
    pipeline = build_app(settings, bootstrap, exact_end_offsets=exact)
    worker = faust.Worker(pipeline.app, loglevel=settings.log_level, quiet=True)
    worker.execute_from_commandline()
