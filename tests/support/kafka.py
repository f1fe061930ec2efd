"""Apache Kafka (KRaft, one combined broker+controller) for the test suite.

The jars come from Maven Central through tests/kafka/pom.xml into .cache/kafka/<version>/libs
(fetched once; `python -m tests.support.kafka --fetch` does it ahead of time). Each start
formats a fresh log dir in a temp dir, so every test session begins with an empty cluster.
``halt`` and ``resume`` stop the broker and bring it back on the same port and log dir,
its topics, offsets and groups kept, as a broker outage would.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from types import TracebackType

from runtime.embedded import free_loopback_port, stop_process, wait_for_broker
from streams.errors import BrokerStartFailed

REPO_ROOT = Path(__file__).resolve().parents[2]
POM = REPO_ROOT / "tests" / "kafka" / "pom.xml"


class KafkaSetupError(RuntimeError):
    """Java, Maven or the jars are missing, or the broker would not start."""


def kafka_version() -> str:
    """kafka.version from the pom, so that bumping it there is the only edit."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    node = ET.parse(POM).getroot().find("m:properties/m:kafka.version", ns)
    if node is None or not node.text:
        raise KafkaSetupError(f"no <kafka.version> property in {POM}")
    return node.text.strip()


def libs_dir(version: str | None = None) -> Path:
    return REPO_ROOT / ".cache" / "kafka" / (version or kafka_version()) / "libs"


def java_major_version() -> int:
    java = shutil.which("java")
    if java is None:
        raise KafkaSetupError(
            "java not found: Apache Kafka for the tests needs Java 17+ "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match is None:
        raise KafkaSetupError(f"cannot read the Java version from `java -version`: {out.stderr!r}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def fetch_jars(version: str | None = None) -> Path:
    """The libs dir, filled from Maven Central unless a complete copy is there already."""
    version = version or kafka_version()
    libs = libs_dir(version)
    if (libs / f"kafka_2.13-{version}.jar").is_file():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaSetupError(
            "mvn not found: the Apache Kafka jars for the tests come from Maven Central "
            "(Debian: apt-get install maven)"
        )
    libs.parent.mkdir(parents=True, exist_ok=True)
    # Into a temp sibling first and renamed when complete: an interrupted fetch must not
    # leave a libs dir that looks usable, and two sessions fetching at once must not collide.
    tmp = Path(tempfile.mkdtemp(prefix="libs.", dir=libs.parent))
    cmd = [mvn, "-B", "-q", "-Dstyle.color=never", "-f", str(POM), "dependency:copy-dependencies"]
    cmd += [f"-DoutputDirectory={tmp}", f"-Dkafka.version={version}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    if out.returncode != 0 or not (tmp / f"kafka_2.13-{version}.jar").is_file():
        shutil.rmtree(tmp, ignore_errors=True)
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-15:])
        raise KafkaSetupError(f"`{' '.join(cmd)}` failed ({out.returncode}):\n{tail}")
    if libs.exists() and not (libs / f"kafka_2.13-{version}.jar").is_file():
        shutil.rmtree(libs)  # incomplete (copied by hand, say): not worth keeping
    try:
        tmp.rename(libs)
    except OSError:  # another session finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return libs


def _cluster_id() -> str:
    # Kafka's Uuid.toString: url-safe base64 of 16 random bytes, unpadded; a leading "-"
    # would read as an option, which Kafka's own generator avoids as well.
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cid.startswith("-"):
            return cid


class ApacheKafka:
    """A throwaway single-node KRaft cluster on free loopback ports."""

    def __init__(self, *, start_timeout: float = 90.0, heap: str = "512m") -> None:
        self.start_timeout = start_timeout
        self.heap = heap
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._bootstrap: str | None = None
        self._config: Path | None = None

    @property
    def bootstrap(self) -> str:
        if self._bootstrap is None:
            raise KafkaSetupError("Apache Kafka is not running; call start() first")
        return self._bootstrap

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> Path | None:
        return self._workdir / "kafka.log" if self._workdir is not None else None

    def _java(self, libs: Path, *args: str) -> list[str]:
        return [
            "java",
            f"-Xmx{self.heap}",
            "-Djava.awt.headless=true",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-cp",
            f"{libs}/*",
            *args,
        ]

    def _write_config(self, workdir: Path, broker_port: int, controller_port: int) -> Path:
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "listeners": f"PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker_port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.quorum.bootstrap.servers": f"127.0.0.1:{controller_port}",
            "log.dirs": str(workdir / "data"),
            "auto.create.topics.enable": "true",
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # one partition instead of 50: the first group join creates it, and 50 slow it down
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.num.partitions": "1",
        }
        path = workdir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        return path

    def start(self) -> ApacheKafka:
        if self._process is not None:
            return self
        if java_major_version() < 17:
            raise KafkaSetupError("Apache Kafka 4 needs Java 17+; `java -version` is older")
        libs = fetch_jars()
        atexit.register(self.stop)
        # As in EmbeddedBroker: a port taken between our probe and the bind makes the JVM exit,
        # and then a fresh dir with fresh ports is tried.
        for attempt in range(3):
            self._workdir = Path(tempfile.mkdtemp(prefix="referrals-kafka-"))
            broker_port, controller_port = free_loopback_port(), free_loopback_port()
            config = self._write_config(self._workdir, broker_port, controller_port)
            log_path = self._workdir / "kafka.log"
            fmt = ["kafka.tools.StorageTool", "format", "--standalone"]
            fmt += ["--cluster-id", _cluster_id(), "--config", str(config)]
            with log_path.open("ab") as log:
                subprocess.run(self._java(libs, *fmt), stdout=log, stderr=log, check=False)
            self._process = self._spawn(libs, config)
            bootstrap = f"127.0.0.1:{broker_port}"
            try:
                wait_for_broker(bootstrap, self.start_timeout, self._process, log_path, "Kafka")
            except BrokerStartFailed as exc:
                if self._process.poll() is not None and attempt < 2:
                    shutil.rmtree(self._workdir, ignore_errors=True)
                    continue
                self.stop(keep_log=True)
                raise KafkaSetupError(str(exc)) from exc
            except BaseException:
                self.stop(keep_log=True)
                raise
            self._bootstrap = bootstrap
            self._config = config
            break
        return self

    def _spawn(self, libs: Path, config: Path) -> subprocess.Popen[bytes]:
        assert self._workdir is not None
        with (self._workdir / "kafka.log").open("ab") as log:
            return subprocess.Popen(
                self._java(libs, "kafka.Kafka", str(config)),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def halt(self) -> None:
        """Stop the broker (SIGTERM: a controlled shutdown), keeping its log dir and ports."""
        if self._process is None:
            raise KafkaSetupError("Apache Kafka is not running; nothing to halt")
        stop_process(self._process, grace=30.0)
        self._process = None

    def resume(self) -> None:
        """Start the halted broker again on the same port, from the same log dir."""
        if self._config is None or self._bootstrap is None or self._process is not None:
            raise KafkaSetupError("resume() needs a broker that was started and halted")
        self._process = self._spawn(fetch_jars(), self._config)
        assert self.log_path is not None
        try:
            wait_for_broker(
                self._bootstrap, self.start_timeout, self._process, self.log_path, "Kafka"
            )
        except BrokerStartFailed as exc:
            raise KafkaSetupError(str(exc)) from exc

    def stop(self, *, keep_log: bool = False) -> None:
        atexit.unregister(self.stop)
        if self._process is not None:
            stop_process(self._process, grace=10.0)
            self._process = None
        self._bootstrap = None
        self._config = None
        if self._workdir is not None and not keep_log:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> ApacheKafka:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.kafka")
    parser.add_argument("--fetch", action="store_true", help="fetch the jars and exit")
    args = parser.parse_args(argv)
    try:
        if args.fetch:
            print(fetch_jars())
            return 0
        with ApacheKafka() as kafka:
            print(f"Apache Kafka {kafka_version()} on {kafka.bootstrap}; Ctrl-C stops it")
            while True:
                time.sleep(3600)
    except KafkaSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
