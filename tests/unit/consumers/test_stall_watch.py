"""A wait counts the records left and calls a stall only when committed offsets stop."""

from __future__ import annotations

from kafka import TopicPartition

from consumers.cluster import Position, Positions, StallWatch

P0 = TopicPartition("t", 0)
P1 = TopicPartition("t", 1)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def reading(**parts: tuple[int, int]) -> Positions:
    """``g0=(committed, end)``: group g, partition 0."""
    return {
        (name[:-1], TopicPartition("t", int(name[-1]))): Position(*at) for name, at in parts.items()
    }


def test_left_is_the_records_still_to_process_by_group() -> None:
    """What is left sums each partition's end minus its committed offset."""
    watch = StallWatch(after=10, clock=Clock())
    watch.observe(reading(a0=(5, 9), a1=(3, 3), b0=(0, 2)))
    assert watch.left() == 6
    assert watch.left("a") == 4
    assert watch.left("b") == 2


def test_moving_commits_are_never_a_stall_however_long_the_wait() -> None:
    """A partition whose committed offset moves at each reading never stalls, even while
    its log end grows faster and what is left grows."""
    clock = Clock()
    watch = StallWatch(after=10, clock=clock)
    for step in range(100):
        clock.now = step * 5.0
        watch.observe(reading(a0=(step, 3 * step + 1)))
    assert watch.left() == 2 * 99 + 1
    assert watch.stalled() == {}


def test_a_group_stalls_only_when_none_of_its_commits_moves() -> None:
    """A partition waiting while another of its group commits is not a stall (one agent
    may wait on the store while the others go on); once no commit of the group moves for
    ``after``, the group stalls, naming its partitions behind."""
    clock = Clock()
    watch = StallWatch(after=10, clock=clock)
    for step in range(4):
        clock.now = step * 4.0
        watch.observe(reading(a0=(2, 7), a1=(step, 50), b0=(1, 1)))
    assert watch.stalled() == {}
    for step in range(4, 8):
        clock.now = step * 4.0
        watch.observe(reading(a0=(2, 7), a1=(3, 50), b0=(1, 1)))
    assert watch.stalled() == {"a": ["t/0: 5", "t/1: 47"]}


def test_a_growing_log_end_is_not_progress() -> None:
    """New records under a commit that does not move still make a stall."""
    clock = Clock()
    watch = StallWatch(after=10, clock=clock)
    for step in range(4):
        clock.now = step * 4.0
        watch.observe(reading(b0=(2, 7 + step)))
    assert watch.stalled() == {"b": ["t/0: 8"]}


def test_a_partition_caught_up_or_a_group_forgiven_starts_again() -> None:
    """No lag, no stall; and a restarted consumer's group gets its full time again."""
    clock = Clock()
    watch = StallWatch(after=10, clock=clock)
    watch.observe(reading(a0=(2, 7), b0=(1, 4)))
    clock.now = 11.0
    watch.forgive("a")
    watch.observe(reading(a0=(2, 7), b0=(1, 4)))
    assert watch.stalled() == {"b": ["t/0: 3"]}
    clock.now = 12.0
    watch.observe(reading(a0=(2, 7), b0=(4, 4)))
    clock.now = 25.0
    watch.observe(reading(a0=(2, 7), b0=(4, 4)))
    assert watch.stalled() == {"a": ["t/0: 5"]}
