"""Three Apache Kafka nodes (KRaft, each broker and controller) on loopback ports, set up
from the KAFKA_* environment of deploy/compose.yaml's brokers, as the apache/kafka image
turns it into server.properties. From the same jars as tests/support/kafka.py."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from runtime.embedded import free_loopback_port, stop_process, wait_for_broker
from streams.errors import BrokerStartFailed
from tests.support.kafka import KafkaSetupError, _cluster_id, fetch_jars, java_major_version

# Where a node listens and who it is: given here per node, on loopback, not by compose.
PLACEMENT = {
    "KAFKA_NODE_ID",
    "KAFKA_LISTENERS",
    "KAFKA_ADVERTISED_LISTENERS",
    "KAFKA_CONTROLLER_QUORUM_VOTERS",
    "KAFKA_LOG_DIRS",
}


def image_properties(env: Mapping[str, str]) -> dict[str, str]:
    """The apache/kafka image's reading of KAFKA_* variables: the prefix dropped, lower
    case, '___' for '-', '__' for '_', '_' for '.'; placement variables left out."""
    properties = {}
    for name, value in env.items():
        if not name.startswith("KAFKA_") or name in PLACEMENT:
            continue
        key = name.removeprefix("KAFKA_").lower()
        key = key.replace("___", "-").replace("__", "\0").replace("_", ".").replace("\0", "_")
        properties[key] = str(value)
    return properties


class KafkaCluster:
    def __init__(self, env: Mapping[str, str], nodes: int = 3, heap: str = "256m") -> None:
        self.properties = image_properties(env)
        self.nodes = nodes
        self.heap = heap
        self.processes: list[subprocess.Popen[bytes]] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="referrals-kafka-cluster-"))
        self.ports = [(free_loopback_port(), free_loopback_port()) for _ in range(nodes)]

    @property
    def bootstrap(self) -> str:
        return ",".join(f"127.0.0.1:{broker}" for broker, _ in self.ports)

    def _java(self, libs: Path, *args: str) -> list[str]:
        return ["java", f"-Xmx{self.heap}", "-Djava.awt.headless=true", "-cp", f"{libs}/*", *args]

    def _config(self, node: int) -> Path:
        broker, controller = self.ports[node - 1]
        voters = ",".join(f"{i}@127.0.0.1:{c}" for i, (_, c) in enumerate(self.ports, start=1))
        properties = {
            **self.properties,
            "node.id": str(node),
            "listeners": f"PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{broker}",
            "controller.quorum.voters": voters,
            "log.dirs": str(self.workdir / f"node-{node}"),
        }
        path = self.workdir / f"node-{node}.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
        return path

    def start(self) -> KafkaCluster:
        if java_major_version() < 17:
            raise KafkaSetupError("Apache Kafka 4 needs Java 17+; `java -version` is older")
        libs, cluster_id = fetch_jars(), _cluster_id()
        log_path = self.workdir / "kafka.log"
        with log_path.open("ab") as log:
            for node in range(1, self.nodes + 1):
                config = self._config(node)
                fmt = ["kafka.tools.StorageTool", "format", "--cluster-id", cluster_id]
                subprocess.run(
                    self._java(libs, *fmt, "--config", str(config)),
                    stdout=log,
                    stderr=log,
                    check=True,
                )
                self.processes.append(
                    subprocess.Popen(
                        self._java(libs, "kafka.Kafka", str(config)),
                        stdin=subprocess.DEVNULL,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        try:
            for process, (broker, _) in zip(self.processes, self.ports, strict=True):
                wait_for_broker(f"127.0.0.1:{broker}", 120.0, process, log_path, "Kafka")
        except BrokerStartFailed as exc:
            self.stop()
            raise KafkaSetupError(str(exc)) from exc
        return self

    def stop_node(self, node: int) -> None:
        """Stop one node (1-based) as a broker is stopped: SIGTERM, then its shutdown."""
        stop_process(self.processes[node - 1], grace=30.0)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                stop_process(process, grace=10.0)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
