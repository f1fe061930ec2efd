"""One stream-processing worker: the Faust app run until it is told to stop."""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import faust

from consumers.store import open_store
from runtime import signals
from streams.app import build_app
from streams.end_offsets import probe_end_offsets
from streams.errors import ConfigurationError, RetryableError
from streams.logging import get_logger
from streams.settings import Settings
from streams.state.tables import tiered_tables

log = get_logger(__name__)


def run_worker(
    settings: Settings,
    bootstrap: str,
    *,
    keep_state: bool = False,
    on_started: Callable[[], None] | None = None,
) -> None:
    """Run one worker against ``bootstrap`` until SIGTERM or SIGINT, then raise
    ``Interrupted``: it never returns. With ``keep_state`` the worker, once stopped, copies
    its tables into the SQL archive: on a broker that goes away with the command (the
    embedded one) that is the state the next run builds on, taken when nothing moves any
    more, so it covers everything the worker ever sent to the store. ``on_started`` is
    called once the worker has joined its group and recovered its tables the first time."""
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
    if on_started is not None:
        pipeline.app.on_rebalance_complete.connect(lambda *_, **__: on_started())
    worker = _Worker(pipeline.app, loglevel=settings.log_level, quiet=True)
    with signals.stop_requested() as stop:
        # Before Faust takes the signals over (and after, should one come between), a
        # signal asks Faust to stop from inside its loop: an exception raised in one of
        # the loop's callbacks would be logged and dropped.
        stop.on_stop(lambda signum: worker.loop.call_soon_threadsafe(worker.stop_for, signum))
        try:
            worker.execute_from_commandline()
        except SystemExit as exit_:
            if worker.stopped_by is None or exit_.code not in (0, None):
                raise
        finally:
            signals.install()  # Faust's loop, closed, left the default handlers behind
    if keep_state:
        with signals.deferred():
            kept = [table.keep_all() for table in tiered_tables(pipeline.app)]
        if not all(kept):
            raise StateNotKept("the worker's state could not be copied into the archive")
        log.info("state_kept", tables=len(kept))
    raise signals.Interrupted(worker.stopped_by or stop.signum or signal.SIGTERM)


class StateNotKept(RetryableError):
    """The archive did not take the tables of a stopping worker (see the warnings above)."""


class _Worker(faust.Worker):
    """Faust's worker, remembering which signal stopped it. Faust stops on SIGINT and
    SIGTERM alike: the agents end, the consumer commits its offsets and leaves the group;
    then it exits 0, which would hide that it was stopped."""

    stopped_by: int | None = None

    def stop_for(self, signum: int) -> None:
        self._schedule_shutdown(signal.Signals(signum))

    def _schedule_shutdown(self, signum: Any) -> None:
        if self.stopped_by is None:
            self.stopped_by = int(signum)
        super()._schedule_shutdown(signum)
