"""Publishing input: JSONL lines as Avro records onto the input topics.

Two publishers. A batch run (runtime/batch.py, ``prepare_file``) publishes everything: a
line that is not JSON or does not fit its schema cannot travel on an Avro topic, so it
goes to the dead-letter topic with its file and line number instead, never fatal; so
does a line too large to travel (``oversized``: the letter carries its start, and the
batch run keeps the whole line in the store). A partner agency (``AgencyPublisher``,
``referrals publish``) sends only what passes the intake's checks (consumers/vetting.py)
and is told about each line it refused.

Both send through ``Publisher``: acks from every in-sync replica, idempotence (kafka-python
enables it by default and turns it off by itself for a broker too old to support it),
retries until the delivery timeout, and a delivery report per record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

from kafka import KafkaProducer
from kafka.errors import KafkaError

from consumers.vetting import Vetted, check_agency, check_referral
from schemas.codec import CodecError, SchemaStore, default_store
from schemas.jsonl import InputError, NotJson, parse_json, record_from_json
from streams import topics
from streams.deadletters.letters import DeadLetter
from streams.errors import Oversized, Reason, RecordRefused, RetryableError
from streams.intake.rules import COPY_BYTES, MAX_EVENT_BYTES, check_size, copy_kept
from streams.messages import Source
from streams.organisation import Organisation, default_organisation_path, load_organisation
from streams.settings import kafka_security
from streams.topics import DEFAULT, Topics

Header = tuple[str, bytes]
# A line longer than this is not parsed: it is over the broker's default message limit,
# so no record of it could travel, and over what any event may be (MAX_EVENT_BYTES).
MAX_LINE_BYTES = 1024 * 1024
# How much of an oversized line the store keeps, and so how much of a line is read.
KEPT_BYTES = 16 * 1024 * 1024
# The store's dead_letters.reason column holds 2000 characters.
MAX_REASON = 1000


@dataclass(frozen=True)
class Payload:
    """A line as read: ``data`` is the line, or its first KEPT_BYTES when it is longer;
    ``size`` the line's length. Beside a dead letter whose ``raw`` is only the line's start,
    it is what the batch run keeps in the store (consumers/payloads.py)."""

    data: bytes
    size: int


@dataclass(frozen=True)
class Outgoing:
    """One record ready for a topic, named by its default name (``streams.topics``): the
    Publisher puts the pipeline's topic prefix before it when it sends."""

    topic: str
    key: bytes | None
    value: bytes
    source_file: str | None = None
    source_line: int | None = None
    payload: Payload | None = field(default=None, repr=False)

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


@dataclass(frozen=True)
class Line:
    """One line of a file as read: its first KEPT_BYTES at most, and its whole length."""

    number: int
    data: bytes
    size: int


def read_lines(path: Path) -> Iterator[Line]:
    """The lines of ``path``, never holding more than KEPT_BYTES of one in memory."""
    with path.open("rb") as lines:
        number = 0
        while data := lines.readline(KEPT_BYTES):
            number += 1
            size = len(data)
            if size == KEPT_BYTES and not data.endswith(b"\n"):
                size += _skip_rest(lines)
            yield Line(number, data, size)


def _skip_rest(lines: BinaryIO) -> int:
    """Read past the rest of a line; its length."""
    skipped = 0
    while rest := lines.readline(KEPT_BYTES):
        skipped += len(rest)
        if rest.endswith(b"\n"):
            break
    return skipped


def _key(kind: str, obj: dict[str, Any]) -> bytes:
    if kind == "payment":
        return str(obj.get("receipt_no")).encode()
    if obj.get("case_id"):
        return f"case:{obj['case_id']}".encode()
    return f"{obj.get('agency')}:{obj.get('referral_id')}".encode()


def prepare_line(
    line: str | bytes, file: str, number: int, store: SchemaStore, size: int | None = None
) -> Outgoing:
    """The record one JSONL line becomes: on its input topic, or as a dead letter.
    ``size`` is the line's whole length when ``line`` is only its start."""
    raw = line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
    whole = Payload(raw, len(raw) if size is None else size)
    if whole.size > MAX_LINE_BYTES:
        reason = f"the line is {whole.size} bytes, over the {MAX_LINE_BYTES} a line may have"
        return reject_line(whole, file, number, reason, Reason.OVERSIZED, store)
    text = raw.decode("utf-8", "replace") if isinstance(line, bytes) else line
    try:
        obj = parse_json(text)
        name, record = record_from_json(obj, store)
        topic = topics.input_topic(obj["kind"], obj.get("agency"))
        value = store.encode(name, record)
        check_size(len(value))
    except NotJson as e:
        reason = f"line is not JSON: {e}"
        return reject_line(whole, file, number, reason, Reason.UNDECODABLE, store)
    except (InputError, CodecError, KeyError) as e:
        return reject_line(whole, file, number, str(e), Reason.SCHEMA, store)
    except Oversized as e:
        return reject_line(whole, file, number, e.reason, e.code, store)
    return Outgoing(topic, _key(obj["kind"], obj), value, file, number)


def reject_line(
    line: Payload, file: str, number: int, reason: str, code: Reason, store: SchemaStore
) -> Outgoing:
    """A dead letter for a line that cannot be published, naming its file and line. A
    line over MAX_EVENT_BYTES would make a letter too large to travel: the letter carries
    its start, and the line rides along as the payload the batch run keeps."""
    source = Source(file=file, line=number)
    if len(reason) > MAX_REASON:
        reason = reason[: MAX_REASON - 3] + "..."
    raw, payload = line.data, None
    if line.size > MAX_EVENT_BYTES:
        kept = "the whole line" if len(raw) == line.size else f"its first {len(raw)} bytes"
        reason = f"{reason}; {copy_kept(f'the store keeps {kept}')}"
        raw, payload = raw[:COPY_BYTES], line
    letter = DeadLetter(source.event_id, code, reason, source, raw)
    value = store.encode("DeadLetter", letter.to_avro(datetime.now(UTC)))
    return Outgoing(topics.DEADLETTERS, letter.key.encode(), value, file, number, payload)


def prepare_file(path: Path, store: SchemaStore | None = None) -> Iterator[Outgoing]:
    """Every non-blank line of ``path`` as the record it becomes (see ``prepare_line``)."""
    store = store or default_store()
    for line in read_lines(path):
        if line.data.strip():
            yield prepare_line(line.data, str(path), line.number, store, line.size)


class DeliveryFailed(RetryableError):
    """The broker did not acknowledge a record within the delivery timeout."""


@dataclass(frozen=True)
class Delivery:
    """The delivery report of one record: where it was written, or why it was not."""

    record: Outgoing
    topic: str
    partition: int | None = None
    offset: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Publisher:
    """A kafka-python producer set for durability that keeps order per key and does not
    duplicate on retry."""

    def __init__(
        self,
        bootstrap: str,
        *,
        security: Mapping[str, Any] | None = None,
        timeout_s: float = 60,
        names: Topics = DEFAULT,
    ) -> None:
        self.timeout_s = timeout_s
        # Records name the default topics; a pipeline with a prefix gets them under it.
        self.prefix = names.prefix
        try:
            self.producer = KafkaProducer(
                bootstrap_servers=bootstrap,
                acks="all",
                # enable_idempotence stays at its default (on): set explicitly, kafka-python
                # would refuse a broker that lacks it instead of falling back
                delivery_timeout_ms=int(timeout_s * 1000),
                linger_ms=5,
                **(kafka_security() if security is None else security),
            )
        except KafkaError as e:
            raise RetryableError(f"broker {bootstrap} unreachable: {e}") from e

    def deliver(
        self, records: list[Outgoing], progress: Callable[[int], None] | None = None
    ) -> list[Delivery]:
        """Send ``records`` in order and wait for every delivery report."""
        futures = []
        for done, record in enumerate(records, start=1):
            futures.append(
                self.producer.send(
                    self.prefix + record.topic,
                    key=record.key,
                    value=record.value,
                    headers=record.headers,
                )
            )
            if progress is not None:
                progress(done)
        self.producer.flush(timeout=self.timeout_s)
        reports = []
        for record, future in zip(records, futures, strict=True):
            try:
                meta = future.get(timeout=self.timeout_s)
            except KafkaError as e:
                reports.append(Delivery(record, record.topic, error=f"{type(e).__name__}: {e}"))
            else:
                reports.append(Delivery(record, meta.topic, meta.partition, meta.offset))
        return reports

    def send(self, records: list[Outgoing], progress: Callable[[int], None] | None = None) -> None:
        """Send ``records``; raise DeliveryFailed unless every one was acknowledged."""
        failed = [d for d in self.deliver(records, progress) if not d.ok]
        if failed:
            raise DeliveryFailed(
                f"{len(failed)} of {len(records)} records not delivered: {failed[0].error}"
            )

    def close(self) -> None:
        self.producer.close()


@dataclass
class FileReport:
    """What became of each line of an agency's file: delivered, refused, or not delivered."""

    deliveries: list[Delivery] = field(default_factory=list)
    refused: list[RecordRefused] = field(default_factory=list)

    @property
    def delivered(self) -> list[Delivery]:
        return [d for d in self.deliveries if d.ok]

    @property
    def undelivered(self) -> list[Delivery]:
        return [d for d in self.deliveries if not d.ok]


def vet_agency_file(
    path: Path, agency: str, org: Organisation, now: datetime, store: SchemaStore
) -> tuple[list[Outgoing], list[RecordRefused]]:
    """The lines of an agency's JSONL file that pass every check, and why each other was
    refused; nothing is sent."""
    check_agency(agency)
    passed: list[Outgoing] = []
    refused: list[RecordRefused] = []
    for line in read_lines(path):
        if not line.data.strip():
            continue
        try:
            vetted = _checked_size(check_referral(_parse(line), agency, org, now, store))
        except RecordRefused as e:
            refused.append(e.at_line(line.number))
            continue
        passed.append(_outgoing(vetted, str(path), line.number))
    return passed, refused


def _parse(line: Line) -> Any:
    if line.size > MAX_LINE_BYTES:
        raise RecordRefused(
            f"the line is {line.size} bytes, over the {MAX_LINE_BYTES} a line may have",
            field="",
            rule=Reason.OVERSIZED,
        )
    try:
        return parse_json(line.data.decode("utf-8", "replace"))
    except NotJson as e:
        raise RecordRefused(f"not JSON: {e}", field="", rule="json") from e


def _checked_size(vetted: Vetted) -> Vetted:
    try:
        check_size(len(vetted.value))
    except Oversized as e:
        raise RecordRefused(e.reason, field="", rule=e.code) from e
    return vetted


def _outgoing(vetted: Vetted, file: str | None = None, line: int | None = None) -> Outgoing:
    return Outgoing(vetted.topic, str(vetted.key).encode(), vetted.value, file, line)


class AgencyPublisher:
    """A partner agency's publisher, for agencies running Python::

        with AgencyPublisher("HOUSING", "broker1:9092") as publisher:
            delivery = publisher.publish({"referral_id": "ZJ-2022-0001", ...})

    ``publish`` raises RecordRefused (its ``field`` and ``rule`` say what is wrong) and
    sends nothing of a refused referral; ``publish_file`` sends a file's valid lines and
    reports the others.
    """

    def __init__(
        self,
        agency: str,
        bootstrap: str,
        *,
        org: Organisation | None = None,
        store: SchemaStore | None = None,
        security: Mapping[str, Any] | None = None,
        names: Topics = DEFAULT,
    ) -> None:
        self.agency = check_agency(agency)
        self.org = org or load_organisation(default_organisation_path())
        self.store = store or default_store()
        self.publisher = Publisher(bootstrap, security=security, names=names)

    def publish(self, referral: Mapping[str, Any]) -> Delivery:
        vetted = check_referral(referral, self.agency, self.org, datetime.now(UTC), self.store)
        _checked_size(vetted)
        [delivery] = self.publisher.deliver([_outgoing(vetted)])
        return delivery

    def publish_file(self, path: Path) -> FileReport:
        passed, refused = vet_agency_file(
            path, self.agency, self.org, datetime.now(UTC), self.store
        )
        return FileReport(self.publisher.deliver(passed), refused)

    def close(self) -> None:
        self.publisher.close()

    def __enter__(self) -> AgencyPublisher:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
