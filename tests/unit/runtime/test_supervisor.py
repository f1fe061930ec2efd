"""What the supervisor decides about its children: when, why, whom to restart, how soon."""

from __future__ import annotations

from pathlib import Path

from kafka import TopicPartition

from consumers.cluster import Position
from runtime.supervisor import Policy, Slot, Supervisor
from streams.settings import Settings
from streams.topics import DEFAULT

SINK_GROUP = DEFAULT.sink_group

POLICY = Policy(
    stalled_after=10, unanswered_after=3, start_grace=20, backoff_first=1, backoff_max=8
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeChild:
    """A child process as the supervisor sees it, without a process."""

    def __init__(self, started_at: float, pid: int) -> None:
        self.started_at = started_at
        self.pid = pid
        self.stopped = False

    def exited(self) -> int | None:
        return 0 if self.stopped else None

    def stop(self, grace: float = 0) -> None:
        self.stopped = True


def test_backoff_doubles_up_to_its_ceiling() -> None:
    """1, 2, 4, 8, 8 seconds for the first five quick ends in a row."""
    assert [POLICY.backoff(n) for n in range(1, 6)] == [1, 2, 4, 8, 8]


def test_an_exited_or_silent_child_is_condemned_and_a_starting_one_gets_its_grace() -> None:
    """Exited: at once. Unanswered: after the start grace, or after ``unanswered_after``
    once it has answered."""
    slot = Slot("sink", "sink", SINK_GROUP)
    slot.child = FakeChild(started_at=0.0, pid=1)  # type: ignore[assignment]
    assert slot.verdict(5.0, 1, answered=False, policy=POLICY) == "exited"
    assert slot.verdict(19.0, None, answered=False, policy=POLICY) is None
    assert slot.verdict(21.0, None, answered=False, policy=POLICY) == "unresponsive"
    assert slot.verdict(22.0, None, answered=True, policy=POLICY) is None
    assert slot.verdict(25.0, None, answered=False, policy=POLICY) is None
    assert slot.verdict(25.5, None, answered=False, policy=POLICY) == "unresponsive"


def test_quick_ends_back_off_and_a_healthy_run_starts_the_count_over() -> None:
    """Each quick end doubles the wait; a child that ran ``healthy_after`` waits the least."""
    slot = Slot("feed", "feed", None)
    assert [slot.ended(0.0, ran=2.0, policy=POLICY) for _ in range(3)] == [1, 2, 4]
    assert slot.ended(50.0, ran=POLICY.healthy_after, policy=POLICY) == 1
    assert slot.due == 51.0 and slot.child is None


def _supervisor(clock: Clock, tmp_path: Path) -> Supervisor:
    supervisor = Supervisor(
        Settings(), "127.0.0.1:1", workers=2, every=60, logs=tmp_path, policy=POLICY, clock=clock
    )
    for n, slot in enumerate(supervisor.slots):
        slot.child = FakeChild(started_at=float(n), pid=n + 1)  # type: ignore[assignment]
    return supervisor


def test_a_stalled_workers_group_restarts_the_worker_started_longest_ago(tmp_path: Path) -> None:
    """Records waiting under unmoved commits of the app group: worker-0 (the oldest) is
    restarted as stalled, once; the sink, whose group moves, is left alone."""
    clock = Clock()
    supervisor = _supervisor(clock, tmp_path)
    stuck = TopicPartition("referrals.housing", 0)
    sink_tp = TopicPartition("cases.snapshots", 0)
    for step in range(3):
        clock.now = 100.0 + 6 * step
        supervisor.judge(
            {
                ("referrals", stuck): Position(3, 9),
                (SINK_GROUP, sink_tp): Position(step, 10),
            }
        )
    assert supervisor.restarts == [("worker-0", "stalled")]
    worker_0, worker_1 = supervisor.slots[:2]
    assert worker_0.child is None and worker_0.due == clock.now + 1
    assert worker_1.child is not None and not worker_1.child.exited()


def test_a_stalled_sink_group_restarts_the_sink(tmp_path: Path) -> None:
    """The sink's group stalls: the sink is restarted, no worker."""
    clock = Clock()
    supervisor = _supervisor(clock, tmp_path)
    for step in range(3):
        clock.now = 100.0 + 6 * step
        supervisor.judge({(SINK_GROUP, TopicPartition("deadletters", 1)): Position(0, 4)})
    assert supervisor.restarts == [("sink", "stalled")]


def test_a_group_is_not_judged_while_a_member_is_starting(tmp_path: Path) -> None:
    """A worker restarted a moment ago and still joining (its /health says not started)
    holds the stall clock: unmoved commits are not held against the group until it has
    started, and count from then; one that never says so is judged after the start grace."""
    clock = Clock()
    supervisor = _supervisor(clock, tmp_path)
    worker_1 = supervisor.slots[1]
    worker_1.child = FakeChild(started_at=clock.now, pid=9)  # type: ignore[assignment]
    stuck = {("referrals", TopicPartition("referrals.groups", 2)): Position(3, 9)}
    for step in range(4):  # 18 s of unmoved commits, all while worker-1 starts
        clock.now = 100.0 + 6 * step
        supervisor.judge(stuck)
    assert supervisor.restarts == []

    worker_1.started = True
    supervisor.watch.forgive("referrals")  # as look() does when the answer turns
    clock.now += 6
    supervisor.judge(stuck)
    assert supervisor.restarts == []
    clock.now += 6
    supervisor.judge(stuck)
    assert supervisor.restarts == [("worker-0", "stalled")]


def test_a_member_that_never_says_it_started_is_judged_after_the_start_grace(
    tmp_path: Path,
) -> None:
    clock = Clock()
    supervisor = _supervisor(clock, tmp_path)
    supervisor.slots[1].child = FakeChild(started_at=clock.now, pid=9)  # type: ignore[assignment]
    stuck = {("referrals", TopicPartition("referrals.groups", 2)): Position(3, 9)}
    for step in range(7):  # 36 s: the 20 s start grace, then the 10 s stall limit
        clock.now = 100.0 + 6 * step
        supervisor.judge(stuck)
    assert supervisor.restarts == [("worker-0", "stalled")]
