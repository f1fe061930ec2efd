"""Publishing input: JSONL lines as Avro records onto the input topics.

A line that is not JSON or does not fit its schema cannot travel on an Avro topic; it
goes straight to the dead-letter topic with its file and line number instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from schemas.codec import SchemaStore, default_store
from schemas.jsonl import InputError, record_from_json
from streams import topics
from streams.deadletters.letters import DeadLetter
from streams.errors import Reason, RetryableError
from streams.messages import Source

Header = tuple[str, bytes]


@dataclass(frozen=True)
class Outgoing:
    """One record ready for a topic; kept in the input log for replays."""

    topic: str
    key: bytes | None
    value: bytes
    source_file: str | None = None
    source_line: int | None = None

    @property
    def headers(self) -> list[Header]:
        if self.source_file is None:
            return []
        return [
            ("source-file", self.source_file.encode()),
            ("source-line", str(self.source_line).encode()),
        ]


@dataclass
class Prepared:
    records: list[Outgoing] = field(default_factory=list)
    rejected: int = 0


def _key(kind: str, obj: dict[str, Any]) -> bytes:
    if kind == "payment":
        return str(obj.get("receipt_no")).encode()
    if obj.get("case_id"):
        return f"case:{obj['case_id']}".encode()
    return f"{obj.get('agency')}:{obj.get('referral_id')}".encode()


def prepare_line(line: str, file: str, number: int, store: SchemaStore) -> Outgoing:
    """The record one JSONL line becomes: on its input topic, or as a dead letter."""
    try:
        obj = json.loads(line)
        name, record = record_from_json(obj, store)
        topic = topics.input_topic(obj["kind"], obj.get("agency"))
        value = store.encode(name, record)
        return Outgoing(topic, _key(obj["kind"], obj), value, file, number)
    except json.JSONDecodeError as e:
        return reject_line(line, file, number, f"line is not JSON: {e}", "undecodable", store)
    except (InputError, KeyError) as e:
        return reject_line(line, file, number, str(e), "schema", store)


def reject_line(
    line: str, file: str, number: int, reason: str, code: str, store: SchemaStore
) -> Outgoing:
    """A dead letter for a line that cannot be published, naming its file and line."""
    source = Source(file=file, line=number)
    letter = DeadLetter(source.event_id, Reason(code), reason, source, line.encode())
    value = store.encode("DeadLetter", letter.to_avro(datetime.now(UTC)))
    return Outgoing(topics.DEADLETTERS, letter.key.encode(), value, file, number)


def prepare_file(path: Path, store: SchemaStore | None = None) -> Iterator[Outgoing]:
    store = store or default_store()
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                yield prepare_line(line, str(path), number, store)


class Publisher:
    """A kafka-python producer that keeps order per key and never duplicates on retry."""

    def __init__(self, bootstrap: str) -> None:
        try:
            self.producer = KafkaProducer(
                bootstrap_servers=bootstrap,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
            )
        except KafkaError as e:
            raise RetryableError(f"broker {bootstrap} unreachable: {e}") from e

    def send(self, records: list[Outgoing], progress: Callable[[int], None] | None = None) -> None:
        futures = []
        for done, record in enumerate(records, start=1):
            futures.append(
                self.producer.send(
                    record.topic, key=record.key, value=record.value, headers=record.headers
                )
            )
            if progress is not None:
                progress(done)
        self.producer.flush()
        for future in futures:
            future.get(timeout=30)

    def close(self) -> None:
        self.producer.close()


def prepare_agency_file(
    path: Path, agency: str, store: SchemaStore | None = None
) -> Iterator[Outgoing]:
    """A partner agency's file: its referrals; ``kind`` and ``agency`` may be left out."""
    store = store or default_store()
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                yield prepare_line(line, str(path), number, store)
                continue
            if isinstance(obj, dict):
                obj = {"kind": "referral", "agency": agency, **obj}
                if obj["kind"] != "referral" or obj["agency"] != agency:
                    reason = (
                        f"{agency} publishes its own referrals, not a {obj['kind']} "
                        f"from {obj['agency']}"
                    )
                    yield reject_line(line, str(path), number, reason, "schema", store)
                    continue
                line = json.dumps(obj, ensure_ascii=False)
            yield prepare_line(line, str(path), number, store)
