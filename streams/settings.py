"""The one place configuration is read: environment variables prefixed ``REFERRALS_``.

Command-line options override them (the CLI builds a Settings with ``replace``); nothing
else in the project reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from streams.errors import ConfigurationError

PREFIX = "REFERRALS_"
_T = TypeVar("_T")


def _default_org() -> Path:
    from streams.organisation import default_organisation_path

    return default_organisation_path()


@dataclass(frozen=True)
class Settings:
    # SQLAlchemy URL of the store.
    db: str = "sqlite:///referrals.db"
    # kafka://host:port[,host:port] of a running cluster; None starts the embedded broker.
    broker: str | None = None
    org: Path = field(default_factory=_default_org)
    rubric: Path | None = None
    # Faust application id: the consumer groups and the prefix of the internal topics and
    # changelogs.
    app_id: str = "referrals"
    # Put before the name of every input and output topic (e.g. "zhuzhou."), so that two
    # pipelines can share a cluster; none by default, the names of docs/contract.md.
    topic_prefix: str = ""
    # Partitions of every topic the pipeline creates; fixed once topics exist.
    partitions: int = 4
    # Replicas of every topic the pipeline creates (Faust's changelogs too), and the
    # min.insync.replicas set on them (unset: the broker's default). 1 and unset suit the
    # embedded broker; a three-broker cluster takes 3 and 2 (deploy/, docs/operations.md).
    replication_factor: int = 1
    min_insync_replicas: int | None = None
    # How long (wall-clock seconds) an event waits for the referral or decision it names.
    hold_seconds: float = 3600.0
    # Days of event time an alias or a case number stays in a worker's memory after it was
    # last touched; older ones are read back from the SQL archive when an event names them.
    hot_days: float = 180.0
    # Days of event time a case waits for its number, so that cases opened a little
    # earlier come first; a batch run numbers at the end of its input (inf).
    number_after_days: float = 1.0
    # Seconds a consumer-group rebalance may take; Faust's first join waits half of it.
    rebalance_timeout: float = 10.0
    # Where a worker reads partitions' end offsets (table recovery needs the true end):
    # "auto" probes the broker at start (the embedded one answers ListOffsets short of the
    # end), "listoffsets" trusts ListOffsets (a real Kafka cluster; no probe topic is
    # created), "fetch" always asks fetch high watermarks.
    end_offsets: str = "auto"
    # "console" for people, "json" for log collectors.
    log_format: str = "console"
    log_level: str = "info"
    # --- partner agencies (docs: README "Partner agencies") ---
    # TOML file of the HTTP intake's API keys per agency, hashed (`referrals keys hash`).
    api_keys: Path | None = None
    # The largest request body the HTTP intake reads, in bytes.
    intake_max_bytes: int = 65_536
    # Requests one API key may make per minute (a burst of as many, then that rate).
    intake_rate_per_minute: int = 120
    # Confluent Schema Registry URL (http(s)://host:port; mock://NAME in one process):
    # the Confluent wire format is read beside single-object encoding when it is set.
    schema_registry: str | None = None
    # --- Kafka client security, for every process (deploy/security/) ---
    # PLAINTEXT, or SASL_SSL for SASL/SCRAM over TLS.
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_username: str | None = None
    # A file holding the SCRAM password (a mounted secret), never the password itself.
    kafka_password_file: Path | None = None
    # PEM file of the CA that signed the brokers' certificates; None: the system's CAs.
    kafka_ca_file: Path | None = None
    # Port of `referrals serve`: the monitoring page, its JSON API, /health, /ready, /metrics.
    serve_port: int = 8000
    # Ports of the /health, /ready and /metrics probes of `worker`, `sink` and `feed`;
    # unset, the process opens none.
    worker_port: int | None = None
    sink_port: int | None = None
    feed_port: int | None = None
    # /ready answers 503 while the process's consumer group has more records than this
    # still to process.
    ready_max_lag: int = 10_000
    # The processes whose /ready the monitoring page shows: "name=http://host:port" pairs,
    # comma-separated (deploy/compose.yaml's worker, sink and feed, for instance).
    probes: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(PREFIX + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _convert(f.name, raw, cls.__dataclass_fields__[f.name].type)
        return cls(**values)  # type: ignore[arg-type]

    @property
    def bootstrap_servers(self) -> str:
        """host:port list of the configured cluster (only when ``broker`` is set)."""
        if self.broker is None:
            raise ConfigurationError("no broker configured: the embedded broker is in use")
        return parse_broker_url(self.broker)

    def kafka_client_config(self) -> dict[str, Any]:
        """The security options of a kafka-python client (producer, consumer, admin)."""
        protocol = self.kafka_security_protocol.upper()
        if protocol == "PLAINTEXT":
            return {}
        if protocol not in ("SASL_SSL", "SSL", "SASL_PLAINTEXT"):
            raise ConfigurationError(
                f"{PREFIX}KAFKA_SECURITY_PROTOCOL must be PLAINTEXT, SSL, SASL_PLAINTEXT or "
                f"SASL_SSL, got {self.kafka_security_protocol!r}"
            )
        config: dict[str, Any] = {"security_protocol": protocol}
        if protocol in ("SSL", "SASL_SSL") and self.kafka_ca_file is not None:
            config["ssl_cafile"] = str(self.kafka_ca_file)
        if protocol.startswith("SASL"):
            config.update(
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self._required("kafka_username", self.kafka_username),
                sasl_plain_password=self.kafka_password(),
            )
        return config

    def topic_configs(self) -> dict[str, str]:
        """Topic-level configs of every topic the pipeline creates."""
        if self.replication_factor < 1:
            raise ConfigurationError(
                f"{PREFIX}REPLICATION_FACTOR must be at least 1, got {self.replication_factor}"
            )
        if self.min_insync_replicas is None:
            return {}
        if not 1 <= self.min_insync_replicas <= self.replication_factor:
            raise ConfigurationError(
                f"{PREFIX}MIN_INSYNC_REPLICAS must be between 1 and {PREFIX}REPLICATION_FACTOR "
                f"({self.replication_factor}), got {self.min_insync_replicas}: with more, "
                "no write with acks=all would ever succeed"
            )
        return {"min.insync.replicas": str(self.min_insync_replicas)}

    def kafka_password(self) -> str:
        """The SCRAM password, read from ``kafka_password_file``."""
        path = self._required("kafka_password_file", self.kafka_password_file)
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ConfigurationError(f"cannot read {PREFIX}KAFKA_PASSWORD_FILE {path}: {e}") from e

    def _required(self, name: str, value: _T | None) -> _T:
        if value is None:
            raise ConfigurationError(
                f"{PREFIX}{name.upper()} is required with "
                f"{PREFIX}KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}"
            )
        return value


def kafka_security() -> dict[str, Any]:
    """The security options of this process's kafka-python clients, from REFERRALS_KAFKA_*
    (the same for every client a process makes; deploy/security/ sets them)."""
    return Settings.from_env().kafka_client_config()


def topic_durability() -> tuple[int, dict[str, str]]:
    """Replication factor and topic configs of the topics this process creates, from
    REFERRALS_REPLICATION_FACTOR and REFERRALS_MIN_INSYNC_REPLICAS."""
    settings = Settings.from_env()
    return settings.replication_factor, settings.topic_configs()


def parse_broker_url(url: str) -> str:
    parsed = urlparse(url if "://" in url else f"kafka://{url}")
    if parsed.scheme != "kafka" or not parsed.netloc:
        raise ConfigurationError(f"broker URL must look like kafka://host:port, got {url!r}")
    return parsed.netloc


def _convert(name: str, raw: str, annotation: object) -> object:
    text = str(annotation)
    try:
        if "int" in text and "float" not in text:
            return int(raw)
        if "float" in text:
            return float(raw)
    except ValueError as e:
        raise ConfigurationError(f"{PREFIX}{name.upper()} must be a number, got {raw!r}") from e
    if "Path" in text:
        return Path(raw)
    return raw
