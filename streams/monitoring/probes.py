"""/health, /ready and /metrics for any long-running process, on a port of its own.

``/health`` answers while the process lives, and says whether it has finished starting (a
worker: joined its group and recovered its tables), so a supervisor does not judge the lag
of a consumer still on its way in. ``/ready`` runs the process's checks (broker
reachable, its loop running, its consumer lag below the bound) and answers 200 when all
pass, 503 otherwise, with each check's outcome as JSON. ``/metrics`` is
prometheus-client's exposition of the process's registry.

The checks are plain callables, so this module knows nothing of Kafka: the broker-backed
ones are built in consumers/health.py. The server runs in a daemon thread and never
touches the process's own loop, so a hung loop shows as a failing check, not a hung probe.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from streams.errors import ConfigurationError
from streams.logging import get_logger
from streams.monitoring.metrics import registry

log = get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    detail: str


Check = Callable[[], Outcome]


def readiness(process: str, checks: Mapping[str, Check]) -> tuple[bool, dict[str, Any]]:
    """Run every check (a check that raises fails with its error) and say whether all passed."""
    results: dict[str, dict[str, Any]] = {}
    for name, check in checks.items():
        try:
            outcome = check()
        except Exception as e:  # a probe must answer whatever a check runs into
            outcome = Outcome(False, f"{e.__class__.__name__}: {e}")
        results[name] = {"ok": outcome.ok, "detail": outcome.detail}
    ready = all(r["ok"] for r in results.values())
    return ready, {"process": process, "status": "ready" if ready else "not ready", **results}


class Heartbeat:
    """Beaten by a process's main loop on every turn; fresh while the loop turns."""

    def __init__(self) -> None:
        self.last = time.monotonic()

    def beat(self) -> None:
        self.last = time.monotonic()

    def check(self, within: float) -> Check:
        def fresh() -> Outcome:
            age = time.monotonic() - self.last
            return Outcome(age <= within, f"last turn {age:.1f} s ago (bound {within:g} s)")

        return fresh


def loop_responsive(loop: asyncio.AbstractEventLoop, timeout: float = 2.0) -> Check:
    """An asyncio loop (the Faust worker's) running and answering within ``timeout``."""

    def answers() -> Outcome:
        if not loop.is_running():
            return Outcome(False, "event loop not running")
        answered = threading.Event()
        loop.call_soon_threadsafe(answered.set)
        if answered.wait(timeout):
            return Outcome(True, "event loop answering")
        return Outcome(False, f"event loop busy for more than {timeout:g} s")

    return answers


def health(process: str, started: bool = True) -> dict[str, Any]:
    return {"process": process, "status": "alive", "started": started}


class _Handler(BaseHTTPRequestHandler):
    server: ProbeServer

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/health":
            document = health(self.server.process, self.server.started())
            self._send(200, "application/json", json.dumps(document).encode())
        elif path == "/ready":
            ready, document = readiness(self.server.process, self.server.checks)
            body = json.dumps(document, ensure_ascii=False).encode()
            self._send(200 if ready else 503, "application/json; charset=utf-8", body)
        elif path == "/metrics":
            self._send(200, CONTENT_TYPE_LATEST, generate_latest(registry))
        else:
            self._send(404, "text/plain", b"not found: /health, /ready, /metrics\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a probe every few seconds would drown the process's own log


class ProbeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self,
        process: str,
        port: int,
        checks: Mapping[str, Check],
        host: str,
        started: Callable[[], bool] = lambda: True,
    ) -> None:
        self.process = process
        self.checks = dict(checks)
        self.started = started
        try:
            super().__init__((host, port), _Handler)
        except OSError as e:
            raise ConfigurationError(f"{process}: cannot listen on port {port}: {e}") from e
        self.thread = threading.Thread(
            target=self.serve_forever, name=f"{process}-probes", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def start_probes(
    process: str,
    port: int | None,
    checks: Mapping[str, Check],
    host: str = "0.0.0.0",
    started: Callable[[], bool] = lambda: True,
) -> ProbeServer | None:
    """Serve the probes on ``port`` in a daemon thread; no port, no server. ``started``
    says, for /health, whether the process has finished starting."""
    if port is None:
        return None
    server = ProbeServer(process, port, checks, host, started)
    server.thread.start()
    log.info("probes_listening", process=process, port=server.port)
    return server
