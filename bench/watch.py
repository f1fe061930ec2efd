"""Watching a running pipeline from a thread of its own: how far each consumer group has
committed, what the store holds, and how much memory the workers and the broker take.

End offsets come from fetch high watermarks (the embedded broker's ListOffsets is short),
and committed offsets are read before them, as ``consumers.cluster.backlog`` does, so a
zero backlog is never premature.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from bench._pipeline import Broker, BrokerError, log_end_offsets
from consumers.cluster import committed_offsets
from consumers.models import ReferralRow
from streams import topics
from streams.errors import RetryableError


@dataclass(frozen=True)
class Sample:
    t: float  # seconds since the clock started
    intake: int  # input records the workers' group has committed
    stored: int  # referral rows in the store
    behind: int  # records some group has not committed yet
    worker_rss: int  # bytes, the largest worker with its children
    broker: int  # Apache Kafka: bytes in its log dirs; embedded: its RSS


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants; 0 once it is gone."""
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in (root, *root.children(recursive=True)))
    except psutil.Error:
        return 0


def dir_bytes(path: Path) -> dict[str, int]:
    """Bytes under an Apache Kafka log dir by topic (dirs are named topic-partition)."""
    sizes: dict[str, int] = {}
    for entry in os.scandir(path):
        if not entry.is_dir() or "-" not in entry.name:
            continue
        topic = entry.name.rsplit("-", 1)[0]
        for file in os.scandir(entry.path):
            # only the logs: index files are preallocated and sparse
            if file.name.endswith(".log"):
                sizes[topic] = sizes.get(topic, 0) + file.stat().st_size
    return sizes


class Watch:
    def __init__(
        self,
        broker: Broker,
        app_id: str,
        engine: Engine,
        workers: Callable[[], list[int]],
        every: float,
    ) -> None:
        self.broker = broker
        self.app_id = app_id
        self.engine = engine
        self.workers = workers
        self.every = every
        self.samples: list[Sample] = []
        self.errors: list[str] = []
        self.peak_worker_rss = 0
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-watch", daemon=True)
        self.origin: Sample | None = None

    def broker_bytes(self) -> int:
        if self.broker.data_dir is not None:
            return sum(dir_bytes(self.broker.data_dir).values())
        return tree_rss(self.broker.pid)

    def stored(self) -> int:
        with Session(self.engine) as session:
            return session.scalar(select(func.count()).select_from(ReferralRow)) or 0

    def sample(self) -> Sample:
        groups = {
            self.app_id: (*topics.INPUTS, *topics.internal(self.app_id)),
            topics.Topics(self.app_id).sink_group: topics.OUTPUTS,
        }
        committed = {group: committed_offsets(self.broker.bootstrap, group) for group in groups}
        ends = log_end_offsets(self.broker.bootstrap, [t for ts in groups.values() for t in ts])
        behind = sum(
            max(0, end - committed[group].get(tp, 0))
            for group, names in groups.items()
            for tp, end in ends.items()
            if tp.topic in names
        )
        intake = sum(
            offset for tp, offset in committed[self.app_id].items() if tp.topic in topics.INPUTS
        )
        rss = self._worker_rss()
        return Sample(
            time.perf_counter() - self.started,
            intake,
            self.stored(),
            behind,
            rss,
            self.broker_bytes(),
        )

    def _worker_rss(self) -> int:
        rss = max((tree_rss(pid) for pid in self.workers()), default=0)
        self.peak_worker_rss = max(self.peak_worker_rss, rss)
        return rss

    def try_sample(self) -> Sample | None:
        """A sample, or None (the reason kept) when the cluster could not answer."""
        try:
            return self.sample()
        except (KafkaError, BrokerError, RetryableError, SQLAlchemyError) as e:
            self.errors.append(f"{type(e).__name__}: {e}")
            return None

    def start(self) -> Sample:
        """Start the clock and the sampling thread; the first sample, what was there before
        the clock started, is subtracted from the later ones."""
        self.origin = self.sample()
        self.started = time.perf_counter()
        self._thread.start()
        return self.origin

    def _loop(self) -> None:
        while True:
            sample = self.try_sample()
            if sample is not None:
                self.samples.append(sample)
            # the memory peak at a finer grain than the offsets, which cost a round trip
            for _ in range(4):
                if self._stop.wait(self.every / 4):
                    return
                self._worker_rss()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def group_members(bootstrap: str, group: str) -> int:
    """Members of a consumer group once it is stable (0 while it rebalances, or while a
    fresh cluster has no coordinator yet)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        info = admin.describe_groups([group]).get(group, {})
    except KafkaError:
        return 0
    finally:
        admin.close()
    return len(info.get("members") or []) if info.get("group_state") == "Stable" else 0
