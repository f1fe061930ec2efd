"""The one place configuration is read: environment variables prefixed ``REFERRALS_``.

Command-line options override them (the CLI builds a Settings with ``replace``); nothing
else in the project reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from urllib.parse import urlparse

from streams.errors import ConfigurationError

PREFIX = "REFERRALS_"


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
    # Faust application id: the consumer group and the prefix of its changelog topics.
    app_id: str = "referrals"
    # Partitions of every topic the pipeline creates; fixed once topics exist.
    partitions: int = 4
    # How long (wall-clock seconds) an event waits for the referral or decision it names.
    hold_seconds: float = 3600.0
    # Seconds a consumer-group rebalance may take; Faust's first join waits half of it.
    rebalance_timeout: float = 10.0
    # Faust producer batches of one record: "auto" when the broker's ListOffsets is short
    # of the log end (the embedded broker), "on" or "off" to force (bench/).
    single_record_batches: str = "auto"
    # "console" for people, "json" for log collectors.
    log_format: str = "console"
    log_level: str = "info"
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
