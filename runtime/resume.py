"""The one line an interrupted batch run leaves on stderr: what was kept, how to go on.

Pure: the run fills in an ``Interruption`` as it stops, and ``advice`` words it.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.signals import signal_name


@dataclass(frozen=True)
class Interruption:
    signum: int
    total: int  # records the input files make
    published: int  # of them, delivered to the broker before the stop
    next_record: tuple[str, int] | None  # (file, line) of the first not published
    embedded: bool
    # The embedded broker's state, copied into the store before it went away: None when
    # there was nothing to save, False when the stop had to be cut short.
    state_saved: bool | None
    cases: int  # stored by this run
    dead_letters: int  # stored by this run


def advice(stop: Interruption) -> str:
    head = f"interrupted by {signal_name(stop.signum)}"
    if stop.published == 0:
        return f"{head} before anything was published; run the same command again"
    sent = f"{stop.published:,} of {stop.total:,} records published"
    stored = f"{stop.cases:,} cases and {stop.dead_letters:,} dead letters stored"
    if stop.embedded:
        if stop.state_saved:
            return (
                f"{head}: {sent}, {stored}, with the state they came from; run the same "
                "files again on this --db to complete them"
            )
        return (
            f"{head}: {sent}, {stored}, but the state a next run builds on was not saved "
            "(it is saved when a run ends or stops in time); run the same files again on "
            "a new --db"
        )
    if stop.next_record is None:
        return (
            f"{head}: all {stop.total:,} records published, {stored} so far; the cluster "
            "keeps them, with the offsets committed, for `referrals worker` and `referrals "
            "sink` to finish, and `referrals feed` closes their months"
        )
    file, line = stop.next_record
    return (
        f"{head}: {sent}, {stored} so far; the cluster keeps them for `referrals worker` "
        f"and `referrals sink` to finish; publish the rest, from {file} line {line} on, "
        "to complete the input"
    )


# What each long-running command has kept when a signal stops it, and how it goes on.
_SERVICES = {
    "worker": "its offsets are committed and its partitions pass to the other workers; "
    "`referrals worker` resumes from them",
    "sink": "every batch it stored is committed; `referrals sink` resumes after the last",
    "feed": "every month it closed is stored and sent; `referrals feed` goes on from the store",
    "serve": "the page only reads --db; `referrals serve` starts it again",
    "up": "workers, sink and feed stopped, their offsets committed; `referrals up` resumes "
    "from them",
}


def service_advice(command: str, signum: int, *, embedded: bool = False) -> str:
    """The line a long-running command leaves when a signal stops it."""
    line = f"{command} stopped by {signal_name(signum)}: {_SERVICES[command]}"
    if embedded:
        line += "; the embedded broker's records went with it (--broker keeps them)"
    return line
