"""SIGINT and SIGTERM become Interrupted (exit 130/143) at a safe point, or a stop request."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from runtime import signals


@pytest.fixture(autouse=True)
def handlers() -> Iterator[None]:
    """The project's handlers for the test, the previous ones and a clean state after."""
    previous = {sig: signal.getsignal(sig) for sig in signals.HANDLED}
    signals.reset()
    signals.install()
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signals.reset()


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_the_first_signal_raises_interrupted_with_the_shells_status(sig: int, status: int) -> None:
    """Each signal raises Interrupted naming it, and the status is 128 + its number."""
    with pytest.raises(signals.Interrupted) as stopped:
        signal.raise_signal(sig)
    assert stopped.value.exit_status == status
    assert stopped.value.message == f"interrupted by {signal.Signals(sig).name}"
    assert not stopped.value.explained


def test_a_signal_while_stopping_does_not_interrupt_the_stop() -> None:
    """After the first signal has been raised, another one only asks to hurry."""
    with pytest.raises(signals.Interrupted):
        signal.raise_signal(signal.SIGINT)
    assert not signals.hurry()
    signal.raise_signal(signal.SIGTERM)
    assert signals.hurry()
    assert signals.received() == signal.SIGINT


def test_a_deferred_signal_is_raised_when_the_block_ends() -> None:
    """Inside ``deferred`` the signal waits: the block finishes, then it is raised."""
    finished = []
    with pytest.raises(signals.Interrupted), signals.deferred():
        with signals.deferred():
            signal.raise_signal(signal.SIGTERM)
            finished.append("inner")
        finished.append("outer")
    assert finished == ["inner", "outer"]


def test_inside_stop_requested_a_signal_sets_the_request() -> None:
    """A loop's stop request is set, its callbacks called, and nothing is raised."""
    called: list[int] = []
    with signals.stop_requested() as stop:
        stop.on_stop(called.append)
        assert not stop
        signal.raise_signal(signal.SIGTERM)
        assert stop and stop.wait(0)
    assert called == [signal.SIGTERM]
    assert stop.interrupted("kept").exit_status == 143


def test_a_callback_added_after_the_signal_is_called_at_once() -> None:
    """A stop requested before a loop registers its hook still reaches it."""
    with signals.stop_requested() as stop:
        signal.raise_signal(signal.SIGINT)
        called: list[int] = []
        stop.on_stop(called.append)
    assert called == [signal.SIGINT]


def test_resume_hint_gives_a_bare_interruption_the_commands_line() -> None:
    """An Interrupted without a line of its own gets the command's; one with a line keeps it."""
    with pytest.raises(signals.Interrupted) as bare, signals.resume_hint(lambda s: "kept X"):
        raise signals.Interrupted(signal.SIGTERM)
    assert (bare.value.message, bare.value.exit_status) == ("kept X", 143)
    with pytest.raises(signals.Interrupted) as own, signals.resume_hint(lambda s: "kept X"):
        raise signals.Interrupted(signal.SIGINT, "kept Y")
    assert own.value.message == "kept Y"
