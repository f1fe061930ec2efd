"""The pipeline page's live figures: each process's readiness, lag per topic, and events
per minute over the last hour.

Events per minute are counted from the input topics' end offsets (fetch high
watermarks), sampled by this process while it runs: the store keeps no arrival times, and
Prometheus (deploy/) keeps the longer history.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from streams.logging import get_logger

log = get_logger(__name__)

Sample = tuple[float, int]  # (unix time, events written to the input topics so far)


def per_minute(samples: Sequence[Sample], now: float, minutes: int = 60) -> list[int | None]:
    """Events in each of the last ``minutes`` whole minutes, oldest first, from samples of
    a growing total; None for a minute the samples do not cover."""
    end = now - now % 60
    counts: list[int | None] = []
    for index in range(minutes, 0, -1):
        start, stop = end - 60 * index, end - 60 * (index - 1)
        before = [total for at, total in samples if at <= start]
        until = [total for at, total in samples if at <= stop]
        counts.append(until[-1] - before[-1] if before and until else None)
    return counts


class Sampler:
    """Reads a growing total every ``every`` seconds in a daemon thread, an hour kept."""

    def __init__(self, read: Callable[[], int], every: float = 15.0) -> None:
        self.read = read
        self.every = every
        self.samples: deque[Sample] = deque(maxlen=int(3700 / every) + 2)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="events-sampler", daemon=True)

    def start(self) -> Sampler:
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append((time.time(), self.read()))
            except Exception as e:  # the broker may be away; the next turn tries again
                log.warning("events_sample_failed", error=str(e).splitlines()[0] if str(e) else "")
            self._stop.wait(self.every)

    def stop(self) -> None:
        self._stop.set()

    def per_minute(self) -> list[int | None]:
        return per_minute(list(self.samples), time.time())


def parse_probes(text: str) -> dict[str, str]:
    """``"worker=http://w:9101,sink=http://s:9102"`` as {name: base url}."""
    probes = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        name, _, url = pair.partition("=")
        probes[name.strip()] = url.strip().rstrip("/")
    return probes


def probe(url: str, timeout: float = 2.0) -> dict[str, Any]:
    """A process's /ready answer, or why there was none."""
    try:
        with urllib.request.urlopen(f"{url}/ready", timeout=timeout) as response:
            return {"url": url, "http_status": response.status, **json.load(response)}
    except urllib.error.HTTPError as e:
        try:
            body = json.load(e)
        except ValueError:
            body = {}
        return {"url": url, "http_status": e.code, **body}
    except (urllib.error.URLError, OSError, ValueError) as e:
        return {"url": url, "http_status": None, "status": "unreachable", "error": str(e)}
