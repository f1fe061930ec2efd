"""`referrals up`: the pipeline's services as child processes, kept running.

N stream workers, the SQL sink and the scorecard feed each run as a ``referrals`` child
process (runtime/children.py), with probes on a loopback port of their own. Every second
the supervisor looks at each:

- one that exited is started again;
- one whose ``/health`` stops answering (hung, or frozen by SIGSTOP) is stopped — SIGTERM
  with SIGCONT, then SIGKILL — and started again;
- when a consumer group has partitions whose records wait and whose committed offsets have
  not moved for ``stalled_after`` seconds (``StallWatch``, consumers/cluster.py), the sink
  is restarted for its group, and for the workers' group the worker started longest ago:
  any member leaving makes the group rebalance, and every worker then reads on from the
  committed offsets (the feed reads the store, not a topic: only the first two rules hold
  it). A group is not judged while one of its members is starting: the clock starts when
  every member's /health says it has finished (a worker: joined, tables recovered), or
  ``start_grace`` after its start for one that never says so.

Restarts back off, 1 s, 2 s, 4 s ... up to a minute, for a child that keeps failing; one
that ran for a minute starts over from 1 s. Each restart is logged (``child_restarted``) and
counted (``referrals_supervisor_restarts_total`` on the supervisor's own /metrics).
"""

from __future__ import annotations

import json
import signal
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kafka.errors import KafkaError

from consumers.cluster import Positions, StallWatch, positions
from consumers.health import pipeline_groups
from runtime import signals
from runtime.children import Child
from runtime.embedded import free_loopback_port
from streams.errors import ReferralsError
from streams.logging import get_logger
from streams.monitoring import metrics
from streams.monitoring.probes import Outcome, start_probes
from streams.settings import Settings
from streams.topics import Topics

log = get_logger(__name__)


@dataclass(frozen=True)
class Policy:
    """When the supervisor acts, in seconds."""

    stalled_after: float = 120.0  # a partition's records waiting, its commits unmoved
    unanswered_after: float = 15.0  # /health of a child that answered before
    start_grace: float = 90.0  # for a starting child's first answer
    backoff_first: float = 1.0
    backoff_max: float = 60.0
    healthy_after: float = 60.0  # a child that ran this long starts the backoff over
    look_every: float = 1.0
    lag_every: float = 5.0
    stop_grace: float = 15.0  # SIGTERM to SIGKILL, for a child that still answers
    hung_grace: float = 5.0  # the same for one that stopped answering

    def backoff(self, failures: int) -> float:
        """The wait before starting a child again after ``failures`` quick ends in a row."""
        return float(min(self.backoff_first * 2 ** max(failures - 1, 0), self.backoff_max))


@dataclass
class Slot:
    """One child the supervisor keeps running, and what it knows of it."""

    name: str  # worker-1, sink, feed
    command: str  # the `referrals` sub-command
    group: str | None  # the consumer group whose lag it moves
    args: tuple[str, ...] = ()
    child: Child | None = None
    port: int = 0
    due: float = 0.0  # when to start it next
    failures: int = 0  # restarts in a row without a healthy run
    answered_at: float | None = None
    started: bool = False  # its /health said it has finished starting

    def starting(self, now: float, policy: Policy) -> bool:
        """Still on its way in: its lag is not its own yet. A child that never says it
        has started is judged like the others after the start grace."""
        if self.child is None or self.started:
            return False
        return now - self.child.started_at < policy.start_grace

    def verdict(self, now: float, exited: int | None, answered: bool, policy: Policy) -> str | None:
        """Why the running child must be restarted, if it must."""
        if exited is not None:
            return "exited"
        if answered:
            self.answered_at = now
            return None
        if self.answered_at is not None:
            return "unresponsive" if now - self.answered_at > policy.unanswered_after else None
        started = self.child.started_at if self.child is not None else now
        return "unresponsive" if now - started > policy.start_grace else None

    def ended(self, now: float, ran: float, policy: Policy) -> float:
        """Book an end of the child after ``ran`` seconds; the wait before its restart."""
        self.failures = 1 if ran >= policy.healthy_after else self.failures + 1
        delay = policy.backoff(self.failures)
        self.due = now + delay
        self.child = None
        self.answered_at = None
        self.started = False
        return delay


class Supervisor:
    def __init__(
        self,
        settings: Settings,
        bootstrap: str,
        *,
        workers: int,
        every: float,
        logs: Path | None,
        policy: Policy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.logs = logs
        if logs is not None:
            logs.mkdir(parents=True, exist_ok=True)
        self.policy = policy or Policy()
        self.clock = clock
        self.slots = [Slot(f"worker-{i}", "worker", settings.app_id) for i in range(workers)]
        self.slots += [
            Slot("sink", "sink", Topics.of(settings).sink_group),
            Slot("feed", "feed", None, ("--every", f"{every:g}")),
        ]
        self.groups = pipeline_groups(settings)
        self.watch = StallWatch(self.policy.stalled_after, clock)
        self.restarts: list[tuple[str, str]] = []  # (slot, reason), in order
        self._lag_due = 0.0

    def slot(self, name: str) -> Slot:
        return next(s for s in self.slots if s.name == name)

    def run(self, stop: threading.Event) -> None:
        """Keep every child running until ``stop`` is set, then stop them all."""
        try:
            while True:
                self.look()
                if stop.wait(self.policy.look_every):
                    break
        finally:
            self.stop_all()

    def look(self) -> None:
        for slot in self.slots:
            if slot.child is None:
                if self.clock() >= slot.due:
                    self._start(slot)
                continue
            answered, started = self._answers(slot)
            if started and not slot.started:
                slot.started = True
                took = self.clock() - slot.child.started_at
                log.info("child_up", process=slot.name, pid=slot.child.pid, after_s=round(took, 1))
                if slot.group is not None:
                    self.watch.forgive(slot.group)  # its lag is judged from now on
            reason = slot.verdict(self.clock(), slot.child.exited(), answered, self.policy)
            if reason is not None:
                self._restart(slot, reason)
        if self.clock() >= self._lag_due:
            self._lag_due = self.clock() + self.policy.lag_every
            self._check_lag()

    def _start(self, slot: Slot) -> None:
        slot.port = free_loopback_port()
        args = (*slot.args, "--port", str(slot.port))
        slot.child = Child(
            self.settings, self.bootstrap, self.logs, slot.command, args=args, name=slot.name
        )
        if slot.group is not None:
            self.watch.forgive(slot.group)  # a new member needs its time to join
        log.info("child_started", process=slot.name, pid=slot.child.pid, port=slot.port)

    def _answers(self, slot: Slot) -> tuple[bool, bool]:
        """Whether the child's /health answers, and whether it says it has started."""
        url = f"http://127.0.0.1:{slot.port}/health"
        try:
            with urllib.request.urlopen(url, timeout=1.0) as response:
                if response.status != 200:
                    return False, False
                body = response.read()
        except (urllib.error.URLError, OSError):
            return False, False
        try:
            started = json.loads(body).get("started", True) is True
        except (ValueError, AttributeError):
            started = True  # an answer without the field: a process that does not say
        return True, started

    def _restart(self, slot: Slot, reason: str, detail: str = "") -> None:
        child = slot.child
        if child is None:
            return
        status = child.exited()
        if status is None:
            hung = reason == "unresponsive"
            child.stop(self.policy.hung_grace if hung else self.policy.stop_grace)
            status = child.exited()
        now = self.clock()
        delay = slot.ended(now, now - child.started_at, self.policy)
        self.restarts.append((slot.name, reason))
        metrics.child_restarted(slot.command, reason)
        log.warning(
            "child_restarted",
            process=slot.name,
            pid=child.pid,
            reason=reason,
            detail=detail or f"exit status {status}",
            restart_in_s=delay,
            restarts=sum(1 for name, _ in self.restarts if name == slot.name),
        )

    def _check_lag(self) -> None:
        try:
            reading = positions(self.bootstrap, self.groups)
        except (KafkaError, ReferralsError) as e:
            log.warning("lag_unknown", error=str(e))
            return
        self.judge(reading)

    def judge(self, reading: Positions) -> None:
        """Restart a consumer of each group whose partitions stalled."""
        self.watch.observe(reading)
        for group, partitions in self.watch.stalled().items():
            members = [s for s in self.slots if s.group == group]
            now = self.clock()
            if any(s.child is None or s.starting(now, self.policy) for s in members):
                self.watch.forgive(group)  # one is down or on its way in: not stalled yet
                continue
            oldest = min(members, key=lambda s: s.child.started_at if s.child else 0.0)
            self._restart(oldest, "stalled", ", ".join(partitions[:6]))
            self.watch.forgive(group)

    def check(self) -> Outcome:
        """The supervisor's /ready: every child running."""
        down = [s.name for s in self.slots if s.child is None or s.child.exited() is not None]
        return Outcome(not down, f"down: {', '.join(down)}" if down else "every child running")

    def stop_all(self) -> None:
        """SIGTERM to every child at once, so they stop together, then wait for each."""
        running = [s.child for s in self.slots if s.child is not None]
        for child in running:
            child.ask_to_stop()
        for child in running:
            child.stop(self.policy.stop_grace)


def supervise(
    settings: Settings,
    bootstrap: str,
    *,
    workers: int,
    every: float,
    logs: Path | None,
    port: int | None,
    policy: Policy | None = None,
) -> None:
    """Run the services on ``bootstrap`` until SIGINT or SIGTERM, then raise Interrupted."""
    supervisor = Supervisor(
        settings, bootstrap, workers=workers, every=every, logs=logs, policy=policy
    )
    with signals.stop_requested() as stop:
        probes = start_probes("up", port, {"children": supervisor.check})
        try:
            supervisor.run(stop.event)
        finally:
            if probes is not None:
                probes.stop()
    raise signals.Interrupted(stop.signum or signal.SIGTERM)
