"""The probe server: /health while alive, /ready 200 or 503 as the checks say, /metrics
in Prometheus' format, on a real port."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from streams.errors import ConfigurationError
from streams.monitoring.probes import (
    Heartbeat,
    Outcome,
    ProbeServer,
    loop_responsive,
    readiness,
    start_probes,
)


class Switch:
    def __init__(self) -> None:
        self.ok = True

    def __call__(self) -> Outcome:
        return Outcome(self.ok, "on" if self.ok else "off")


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.fixture
def switch() -> Switch:
    return Switch()


@pytest.fixture
def server(switch: Switch) -> Iterator[ProbeServer]:
    started = start_probes("test", 0, {"broker": switch}, host="127.0.0.1")
    assert started is not None
    yield started
    started.stop()


def test_health_answers_while_the_process_lives(server: ProbeServer) -> None:
    """/health is 200 with the process's name whatever the checks say."""
    status, body = get(server.port, "/health")
    assert (status, json.loads(body)) == (
        200,
        {"process": "test", "status": "alive", "started": True},
    )


def test_health_says_whether_the_process_has_finished_starting() -> None:
    """A worker's /health answers before it has joined its group: ``started`` false, then
    true once the process says so."""
    done = threading.Event()
    server = start_probes("worker", 0, {}, host="127.0.0.1", started=done.is_set)
    assert server is not None
    try:
        assert json.loads(get(server.port, "/health")[1])["started"] is False
        done.set()
        assert json.loads(get(server.port, "/health")[1])["started"] is True
    finally:
        server.stop()


def test_ready_follows_its_checks(server: ProbeServer, switch: Switch) -> None:
    """/ready is 200 while every check passes and 503 with the failing one's detail."""
    status, body = get(server.port, "/ready")
    assert status == 200
    assert json.loads(body)["broker"] == {"ok": True, "detail": "on"}
    switch.ok = False
    status, body = get(server.port, "/ready")
    document: dict[str, Any] = json.loads(body)
    assert (status, document["status"], document["broker"]["detail"]) == (503, "not ready", "off")


def test_metrics_is_prometheus_text(server: ProbeServer) -> None:
    """/metrics parses with prometheus_client's parser and carries the pipeline's metrics."""
    status, body = get(server.port, "/metrics")
    names = {f.name for f in text_string_to_metric_families(body.decode())}
    assert status == 200
    assert {"referrals_events_consumed", "referrals_dead_letters"} <= names


def test_a_check_that_raises_fails_readiness_with_its_error() -> None:
    """A check that raises counts as failed, named with its exception."""

    def broken() -> Outcome:
        raise RuntimeError("no route to broker")

    ready, document = readiness("p", {"broken": broken, "fine": lambda: Outcome(True, "")})
    assert not ready
    assert document["broken"] == {"ok": False, "detail": "RuntimeError: no route to broker"}


def test_no_port_no_server_and_a_taken_port_is_refused(server: ProbeServer) -> None:
    """Without a port nothing listens; a port in use is a configuration error."""
    assert start_probes("p", None, {}) is None
    with pytest.raises(ConfigurationError, match="cannot listen"):
        ProbeServer("p", server.port, {}, "127.0.0.1")


def test_a_heartbeat_goes_stale() -> None:
    """A loop that stops beating fails its check once the bound has passed."""
    beat = Heartbeat()
    assert beat.check(60)().ok
    beat.last -= 120
    assert not beat.check(60)().ok


def test_an_event_loop_is_checked_from_another_thread() -> None:
    """A running loop answers; a stopped one does not."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        assert loop_responsive(loop, timeout=2)().ok
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    assert not loop_responsive(loop, timeout=0.2)().ok
    loop.close()
