"""SIGINT and SIGTERM for every command: stop cleanly, exit 130 or 143, say what was kept.

By default the first signal raises ``Interrupted`` in the main thread, as Ctrl-C raises
KeyboardInterrupt, so every ``finally`` on the way out stops what the command started
(child processes, the embedded broker). It is a BaseException, so no ``except Exception``
swallows it, and not a KeyboardInterrupt, which typer turns into a bare exit 130 that
forgets SIGTERM. A signal while the command is already stopping only makes ``hurry()``
true: the stop in progress is never itself interrupted, and may skip what it can.

A loop that must stop between two turns rather than anywhere (the SQL sink, the feed, the
supervisor, a Faust worker, whose asyncio loop would swallow an exception raised in one of
its callbacks) runs inside ``stop_requested()``: there a signal sets an event instead.

SIGINT is handled even where the parent left it ignored (a job started with ``&`` by a
non-interactive shell ignores it): ``kill -INT`` must stop a run as Ctrl-C does.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM)


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


class Interrupted(BaseException):
    """The command was stopped by a signal; ``message`` says what was kept and how to go on."""

    def __init__(self, signum: int, message: str | None = None) -> None:
        self.signum = signum
        self.explained = message is not None
        self.message = message or f"interrupted by {signal_name(signum)}"
        super().__init__(self.message)

    @property
    def exit_status(self) -> int:
        """The shell's convention: 128 + the signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


class StopRequest:
    """Set by SIGINT or SIGTERM inside ``stop_requested()``; a loop waits on it."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.signum: int | None = None
        self._callbacks: list[Callable[[int], object]] = []

    def set(self, signum: int) -> None:
        self.signum = signum
        self.event.set()
        for callback in self._callbacks:
            callback(signum)

    def on_stop(self, callback: Callable[[int], object]) -> None:
        """Call ``callback(signum)`` when the stop is requested (now, if it already was)."""
        self._callbacks.append(callback)
        if self.signum is not None:
            callback(self.signum)

    def wait(self, timeout: float) -> bool:
        return self.event.wait(timeout)

    def __bool__(self) -> bool:
        return self.event.is_set()

    def interrupted(self, message: str) -> Interrupted:
        """The exception that ends the command once its loop has stopped."""
        if self.signum is None:
            raise RuntimeError("no stop was requested")
        return Interrupted(self.signum, message)


class _State:
    """What the handler knows: the first signal, whether it was raised yet, how many came
    after it, and whether it must wait (``deferred``) or go to a loop (``request``)."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.raised = False
        self.later = 0
        self.deferring = 0
        self.request: StopRequest | None = None


_state = _State()


def _handle(signum: int, frame: FrameType | None) -> None:
    if _state.signum is not None:
        _state.later += 1
        return
    _state.signum = signum
    if _state.request is not None:
        _state.request.set(signum)
    elif not _state.deferring:
        _state.raised = True
        raise Interrupted(signum)


def install() -> None:
    """Handle SIGINT and SIGTERM in this (the main) thread from now on; also after a library
    (Faust's event loop) that took them over has let them go."""
    for sig in HANDLED:
        signal.signal(sig, _handle)


def received() -> int | None:
    """The first signal received, if any."""
    return _state.signum


def hurry() -> bool:
    """Whether another signal came while the command was stopping after the first."""
    return _state.later > 0


def reset() -> None:
    """Forget every signal received (tests run several commands in one process)."""
    global _state
    _state = _State()


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """A signal inside the block is raised at its end: around a process start, whose PID
    must be recorded before anything may unwind past it."""
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1
    if (
        not _state.deferring
        and _state.request is None
        and _state.signum is not None
        and not _state.raised
    ):
        _state.raised = True
        raise Interrupted(_state.signum)


@contextlib.contextmanager
def resume_hint(message: Callable[[Interrupted], str]) -> Iterator[None]:
    """Give an Interrupted that leaves the block without a line of its own the command's
    line: what was kept and how to resume."""
    try:
        yield
    except Interrupted as stop:
        if stop.explained:
            raise
        raise Interrupted(stop.signum, message(stop)) from None


@contextlib.contextmanager
def stop_requested() -> Iterator[StopRequest]:
    """Inside the block a signal sets the request instead of raising."""
    request = StopRequest()
    if _state.signum is not None and not _state.raised:
        request.set(_state.signum)
    previous, _state.request = _state.request, request
    try:
        yield request
    finally:
        _state.request = previous
