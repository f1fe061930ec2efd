"""The Confluent Schema Registry, for partners on Confluent tooling.

The client is confluent-kafka's own (``pip install 'referral-pipeline[registry]'``): it
speaks the registry's REST API with its authentication, retries and caching, and its
``mock://`` stand-in serves tests without a server. It is made at first use, so a
configured but unused registry costs nothing at start.

Subjects follow Confluent's defaults: ``<topic>-value`` for every topic that carries one
schema (TopicNameStrategy, what ``AvroSerializer`` uses unless told otherwise), and the
full record name for every event schema (RecordNameStrategy, for ``cases.lifecycle``,
which carries five).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any, Final

from schemas.codec import NAMESPACE, Registry, RegistryUnavailable, SchemaStore, UnknownSchema
from streams import topics
from streams.errors import ConfigurationError

EVENT_SCHEMAS: Final = (
    "Referral",
    "CaseFiled",
    "CaseRejected",
    "CaseDecided",
    "FeedbackSent",
    "CaseClosed",
    "Payment",
    "CaseSnapshot",
    "DeadLetter",
    "ReferralReceipt",
    "MonthlyScorecard",
    "PenaltyTotals",
)


def value_subject(topic: str) -> str:
    """The subject of a topic's values (TopicNameStrategy)."""
    return f"{topic}-value"


def subjects() -> dict[str, str]:
    """Every subject the project registers, with its schema's short name."""
    by_topic = {
        **dict.fromkeys(topics.REFERRAL_TOPICS.values(), "Referral"),
        **dict.fromkeys(topics.RECEIPT_TOPICS.values(), "ReferralReceipt"),
        topics.PAYMENTS: "Payment",
        topics.SNAPSHOTS: "CaseSnapshot",
        topics.DEADLETTERS: "DeadLetter",
        topics.SCORECARDS: "MonthlyScorecard",
        topics.PENALTIES: "PenaltyTotals",
    }
    return {
        **{value_subject(t): name for t, name in by_topic.items()},
        **{f"{NAMESPACE}.{name}": name for name in EVENT_SCHEMAS},
    }


def register_all(store: SchemaStore, registry: Registry) -> dict[str, int]:
    """Register every subject's current schema; returns the ids by subject. Registering
    an unchanged schema again returns its id, so this is safe to repeat."""
    return {
        subject: register(registry, subject, store.standalone(name))
        for subject, name in subjects().items()
    }


def register(registry: Registry, subject: str, schema: Mapping[str, Any]) -> int:
    from confluent_kafka.schema_registry import Schema

    return int(
        _call(
            f"register {subject}",
            lambda: registry.register_schema(subject, Schema(json.dumps(schema), "AVRO")),
        )
    )


def fetch(registry: Registry, schema_id: int) -> Any:
    """The parsed JSON of the Avro schema registered under ``schema_id``."""
    schema = _call(f"read schema id {schema_id}", lambda: registry.get_schema(schema_id))
    if (schema.schema_type or "AVRO") != "AVRO":
        raise UnknownSchema(f"schema id {schema_id} is a {schema.schema_type} schema, not Avro")
    if schema.references:
        raise UnknownSchema(
            f"schema id {schema_id} refers to other subjects; register it self-contained "
            "(`referrals schemas register` does)"
        )
    return json.loads(schema.schema_str)


def _call(what: str, call: Any) -> Any:
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    try:
        return call()
    except SchemaRegistryError as e:
        if e.http_status_code == 404:
            raise UnknownSchema(f"schema registry cannot {what}: {e}") from e
        raise RegistryUnavailable(f"schema registry cannot {what}: {e}") from e
    except (OSError, ValueError) as e:
        raise RegistryUnavailable(f"schema registry cannot {what}: {type(e).__name__}") from e
    except Exception as e:  # httpx's transport errors, without importing httpx here
        if type(e).__module__.startswith("httpx"):
            raise RegistryUnavailable(f"schema registry cannot {what}: {e}") from e
        raise


class LazyRegistry:
    """A registry client made at first use from ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._client: Any = None
        self._lock = threading.Lock()

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                try:
                    from confluent_kafka.schema_registry import SchemaRegistryClient
                except ImportError as e:
                    raise ConfigurationError(
                        "REFERRALS_SCHEMA_REGISTRY needs confluent-kafka: "
                        "pip install 'referral-pipeline[registry]'"
                    ) from e
                self._client = SchemaRegistryClient.new_client({"url": self.url})
            return self._client

    def get_schema(self, schema_id: int) -> Any:
        return self.client().get_schema(schema_id)

    def register_schema(self, subject_name: str, schema: Any) -> int:
        return int(self.client().register_schema(subject_name, schema))


def registry_for(url: str | None) -> Registry | None:
    return None if url is None else LazyRegistry(url)
