"""/ready follows the broker: 503 when it goes away, 200 again when it returns, for
`referrals serve` (a child process) and for a probe server with the sink's checks."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from consumers.cluster import ensure_topics
from consumers.health import sink_checks
from runtime.embedded import EmbeddedBroker, free_loopback_port, stop_process, wait_for_broker
from streams.monitoring.probes import start_probes
from streams.settings import Settings
from tests.integration.serving import env, served, wait_for_status

pytestmark = pytest.mark.integration


class SamePortBroker:
    """An embedded broker that can be stopped and started again on its port, as a
    restarted broker behind a fixed address would be."""

    def __init__(self) -> None:
        self.first = EmbeddedBroker().start()
        self.bootstrap = self.first.bootstrap
        self.binary = self.first._resolve_binary()
        self.again: subprocess.Popen[bytes] | None = None

    def stop(self) -> None:
        self.first.stop()
        if self.again is not None:
            stop_process(self.again, grace=0.5)
            self.again = None

    def restart(self, log: Path) -> None:
        port = int(self.bootstrap.rsplit(":", 1)[1])
        # EmbeddedBroker picks a free port of its own; its spawn takes the one we need
        self.again = EmbeddedBroker._spawn(self.binary, port, log)
        wait_for_broker(self.bootstrap, 30, self.again, log, "Tansu")


@pytest.fixture
def broker() -> Iterator[SamePortBroker]:
    started = SamePortBroker()
    try:
        ensure_topics(started.bootstrap, 2)
        yield started
    finally:
        started.stop()


def test_serve_is_not_ready_while_the_broker_is_away(
    broker: SamePortBroker, tmp_path: Path
) -> None:
    """serve's /ready: 200 with the broker up, 503 naming the broker once it stops, 200
    again once a broker answers on the same address."""
    db = f"sqlite:///{tmp_path / 'ready.db'}"
    with served(db, tmp_path / "serve.log", "--broker", f"kafka://{broker.bootstrap}") as base:
        ready = wait_for_status(f"{base}/ready", 200, timeout=60)
        assert ready["broker"]["ok"] and ready["lag"]["ok"]
        broker.stop()
        away = wait_for_status(f"{base}/ready", 503, timeout=60)
        assert not away["broker"]["ok"]
        assert away["store"]["ok"]
        broker.restart(tmp_path / "tansu.log")
        ensure_topics(broker.bootstrap, 2)
        wait_for_status(f"{base}/ready", 200, timeout=60)


def test_a_process_probe_follows_the_broker(broker: SamePortBroker, tmp_path: Path) -> None:
    """The probe server of a long-running process (the sink's checks) turns 503 and back."""
    settings = Settings(partitions=2)
    probes = start_probes("sink", 0, sink_checks(settings, broker.bootstrap), host="127.0.0.1")
    assert probes is not None
    url = f"http://127.0.0.1:{probes.port}/ready"
    try:
        wait_for_status(url, 200, timeout=30)
        broker.stop()
        wait_for_status(url, 503, timeout=30)
        broker.restart(tmp_path / "tansu.log")
        ensure_topics(broker.bootstrap, 2)
        wait_for_status(url, 200, timeout=30)
    finally:
        probes.stop()


def test_the_feed_runs_as_before_and_answers_its_probes(tmp_path: Path) -> None:
    """`referrals feed --every 1 --port P` (no sub-command) runs the feed loop on its own
    embedded broker and reports itself ready: broker answering, loop turning."""
    port = free_loopback_port()
    argv = [sys.executable, "-m", "referrals", "feed", "--every", "1", "--port", str(port)]
    argv += ["--db", f"sqlite:///{tmp_path / 'feed.db'}"]
    with (tmp_path / "feed.log").open("ab") as log:
        process = subprocess.Popen(argv, env=env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = wait_for_status(f"http://127.0.0.1:{port}/ready", 200, timeout=90)
        assert ready["process"] == "feed" and ready["loop"]["ok"]
    finally:
        # Ctrl-C, not SIGTERM: the feed then leaves its loop and stops its embedded broker
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
