"""The processes a benchmark starts: brokers, pipeline workers, the SQL sink.

The only module of bench/ that imports the process-running parts of the project
(``runtime/``) and the test suite's Apache Kafka, so that when those move, this file is the
one to change.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from runtime.batch import EMBEDDED_REBALANCE_TIMEOUT
from runtime.children import Child, settings_env
from runtime.embedded import EmbeddedBroker
from runtime.session import RESTARTS, STALLED_AFTER_S
from streams.end_offsets import log_end_offsets, probe_end_offsets
from streams.errors import BrokerError
from streams.settings import Settings
from tests.support.kafka import ApacheKafka

EMBEDDED = "embedded"
KAFKA = "kafka"
__all__ = [
    "RESTARTS",
    "STALLED_AFTER_S",
    "Broker",
    "BrokerError",
    "Child",
    "broker",
    "log_end_offsets",
    "pipeline_settings",
    "probe_end_offsets",
    "spawn",
]


@dataclass(frozen=True)
class Broker:
    """A running broker: where to reach it, its process, and (Apache Kafka) its log dirs."""

    kind: str
    bootstrap: str
    pid: int
    data_dir: Path | None


@contextlib.contextmanager
def broker(kind: str) -> Iterator[Broker]:
    """A fresh, empty broker of ``kind`` ("embedded": Tansu in memory, as `referrals run`
    starts it; "kafka": a single-node Apache Kafka 4 in KRaft mode) for the block's life."""
    if kind == EMBEDDED:
        with EmbeddedBroker() as tansu:
            assert tansu.pid is not None
            yield Broker(kind, tansu.bootstrap, tansu.pid, None)
        return
    with ApacheKafka() as kafka:
        assert kafka.pid is not None and kafka.log_path is not None
        yield Broker(kind, kafka.bootstrap, kafka.pid, kafka.log_path.parent / "data")


def pipeline_settings(kind: str, db: str) -> Settings:
    """The settings a user's run would have on this broker: `referrals run` shortens the
    rebalance timeout on the embedded broker, where a worker is alone in its group."""
    settings = Settings(db=db)
    if kind == EMBEDDED:
        settings = replace(
            settings, rebalance_timeout=EMBEDDED_REBALANCE_TIMEOUT, end_offsets="fetch"
        )
    return settings


def spawn(settings: Settings, bootstrap: str, log_dir: Path, command: str = "worker") -> Child:
    """`referrals <command>` as a child process, logging into ``log_dir``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    return Child(settings, bootstrap, log_dir, command)


def python_child(
    module: str, args: Sequence[str], settings: Settings, log: Path
) -> subprocess.Popen[bytes]:
    """``python -m module args`` with the settings in its environment, output into ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module, *args],
            env={**os.environ, **settings_env(settings)},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
