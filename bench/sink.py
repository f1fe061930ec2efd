"""SQL sink rows/s against raw SQLAlchemy Core ``executemany``, measured in the same run.

Rows are counted alike on both sides: one row is one row of the ``cases`` table written.

- Baseline: ``rows`` case rows (every column, the snapshot JSON included, built before the
  clock starts) inserted with Core ``executemany``, 1 000 a transaction, into a fresh
  SQLite file.
- Sink: ``rows`` decoded CaseSnapshot records through ``store_batch``, the function the
  sink calls per polled batch, in batches of the sink's ``max_poll_records``, into another
  fresh SQLite file. The records are what the pipeline sends: generated events (each case
  referred, numbered, filed, decided, paid in two instalments, one receipt sent twice)
  go through the publisher's encoding, admission and the group logic (``accept``, which
  builds snapshots with ``case_snapshot``), then ``to_avro``, the codec, and back. They
  are ordered stage by stage, so no case appears twice in a batch and every record costs
  one case-row write; the figure counts the rows ``store_batch`` reports written. The sink
  writes more than the baseline for each row: the case's ledger, referral and referral
  version rows.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from kafka import KafkaProducer
from sqlalchemy import Engine, insert

from bench.inputs import decided_cases
from consumers.cluster import ensure_topics
from consumers.models import Base
from consumers.publisher import prepare_line
from consumers.sink import MAX_POLL_RECORDS, SqlSink
from consumers.store import case_row, open_store, store_batch
from runtime.embedded import EmbeddedBroker
from schemas.codec import default_store
from streams import topics
from streams.cases.group import accept
from streams.cases.snapshots import to_avro
from streams.cases.state import GroupState
from streams.dedup.rules import case_id_for
from streams.events import ReferralKey
from streams.intake.admission import admit
from streams.messages import Admitted, Numbered, Source
from streams.organisation import default_organisation_path, load_organisation
from streams.policy import Policy

BASELINE_TRANSACTION = 1_000
PARTITIONS = 4
# Snapshots the pipeline emits per generated case (see the module docstring).
SNAPSHOTS_PER_CASE = 7


def _messages(path: Path) -> Iterator[tuple[str, Admitted]]:
    """(incident group, admitted message) for each line of a generated input file."""
    codec, org = default_store(), load_organisation(default_organisation_path())
    now = datetime.now(UTC)
    group_of: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        out = prepare_line(line, str(path), number, codec)
        admitted = admit(out.value, Source(out.topic, 0, number), codec, org, now)
        assert isinstance(admitted, Admitted), admitted
        # A generated referral has no party hash: it is an incident group of its own.
        group = group_of.setdefault(admitted.alias, f"r:{admitted.alias.removeprefix('ref:')}")
        yield group, admitted


def case_snapshots(cases: int) -> list[list[dict[str, Any]]]:
    """Each generated case's snapshots in the order the group logic emits them."""
    org, policy = load_organisation(default_organisation_path()), Policy()
    states: dict[str, GroupState] = {}
    emitted: dict[str, list[dict[str, Any]]] = {}
    numbers = itertools.count(1)
    with tempfile.TemporaryDirectory() as work:
        path = Path(work) / "input.jsonl"
        decided_cases(path, cases)
        for group, message in _messages(path):
            pending: list[Admitted | Numbered] = [msgspec.structs.replace(message, group=group)]
            while pending:
                outcome = accept(states.get(group), pending.pop(), group, 0, org, policy)
                if outcome.state is not None:
                    states[group] = outcome.state
                for snapshot in outcome.snapshots:
                    emitted.setdefault(snapshot["case_id"], []).append(snapshot)
                pending += [
                    Numbered(
                        group,
                        request.case_id,
                        f"{request.district_code}-{request.year}-{next(numbers):04d}",
                    )
                    for request in outcome.number_requests
                ]
    return list(emitted.values())


def encoded_stream(rows: int) -> list[tuple[bytes, bytes]]:
    """``rows`` (key, value) records of ``cases.snapshots``, stage by stage across cases."""
    per_case = case_snapshots(-(-rows // (SNAPSHOTS_PER_CASE - 1)))
    ordered = [
        snapshot
        for stage in itertools.zip_longest(*per_case)
        for snapshot in stage
        if snapshot is not None
    ][:rows]
    codec = default_store()
    return [(s["group_key"].encode(), codec.encode("CaseSnapshot", to_avro(s))) for s in ordered]


def decoded(stream: Sequence[tuple[bytes, bytes]]) -> list[dict[str, Any]]:
    """The records as the sink decodes them."""
    codec = default_store()
    return [codec.decode(value).record for _, value in stream]


@dataclass
class Stopwatch:
    """Wall and CPU seconds of what ran inside ``timing()``, added up."""

    wall: float = 0.0
    cpu: float = 0.0

    @contextmanager
    def timing(self) -> Iterator[None]:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.wall += time.perf_counter() - wall
            self.cpu += time.process_time() - cpu


def insert_rows(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    """The baseline: ``rows`` into ``cases`` with Core executemany, 1 000 a transaction."""
    table = Base.metadata.tables["cases"]
    for start in range(0, len(rows), BASELINE_TRANSACTION):
        with engine.begin() as connection:
            connection.execute(insert(table), rows[start : start + BASELINE_TRANSACTION])


def store_records(engine: Engine, records: Sequence[dict[str, Any]]) -> int:
    """The sink's storing path, one polled batch at a time; returns the case rows written."""
    return sum(
        store_batch(engine, records[start : start + MAX_POLL_RECORDS], [])
        for start in range(0, len(records), MAX_POLL_RECORDS)
    )


def through_broker(stream: Sequence[tuple[bytes, bytes]], work: Path) -> tuple[Stopwatch, int]:
    """The sink itself (poll, decode, store, commit) on the embedded broker, timed from the
    first record it receives to the last; the records are published first. Returns the
    times and the case rows written in them (snapshots of a case that meet in one polled
    batch are one write)."""
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, PARTITIONS)
        producer = KafkaProducer(
            bootstrap_servers=broker.bootstrap, linger_ms=5, batch_size=256 * 1024
        )
        for key, value in stream:
            producer.send(topics.SNAPSHOTS, key=key, value=value)
        producer.flush()
        producer.close()
        engine = open_store(f"sqlite:///{work / 'end-to-end.db'}")
        sink = SqlSink(broker.bootstrap, engine)
        watch = Stopwatch()
        try:
            seen = sink.poll_once(timeout_ms=10_000)
            first = sink.stored  # stored before the clock starts: not counted
            with watch.timing():
                while seen < len(stream):
                    seen += sink.poll_once(timeout_ms=10_000)
        finally:
            sink.consumer.close()
            engine.dispose()
    return watch, sink.stored - first


def measure(rows: int = 50_000, end_to_end: bool = True) -> dict[str, float]:
    """Rows/s of the baseline and of the sink's storing path, and their ratio; the same
    from CPU seconds, which a machine shared with other work disturbs less.

    The two take turns, one polled batch's worth of rows each, so that both see the same
    load and tables of the same size. The baseline's rows are the sink's, each under a
    case id of its own made as the pipeline makes them (a hash), so that they land in the
    table's index as scattered as the sink's."""
    stream = encoded_stream(rows)
    records = decoded(stream)
    baseline_rows = [
        {**case_row(r), "case_id": case_id_for(ReferralKey("HOUSING", f"BASELINE-{i}"))}
        for i, r in enumerate(records)
    ]
    baseline, sink = Stopwatch(), Stopwatch()
    written = 0
    with tempfile.TemporaryDirectory() as work:
        baseline_engine = open_store(f"sqlite:///{Path(work) / 'baseline.db'}")
        sink_engine = open_store(f"sqlite:///{Path(work) / 'sink.db'}")
        try:
            for start in range(0, rows, MAX_POLL_RECORDS):
                end = start + MAX_POLL_RECORDS
                with baseline.timing():
                    insert_rows(baseline_engine, baseline_rows[start:end])
                with sink.timing():
                    written += store_records(sink_engine, records[start:end])
        finally:
            baseline_engine.dispose()
            sink_engine.dispose()
        executemany_rows_s = rows / baseline.wall
        figures = {
            "executemany_rows_s": round(executemany_rows_s),
            "sink_rows_s": round(written / sink.wall),
            "ratio": round(written / sink.wall / executemany_rows_s, 3),
            "cpu_ratio": round(written / sink.cpu / (rows / baseline.cpu), 3),
            "snapshots": rows,
            "case_rows_written": written,
        }
        if end_to_end:
            # Not interleaved with the baseline: its wall-clock ratio is the noisier one.
            watch, stored = through_broker(stream, Path(work))
            figures["end_to_end_rows_s"] = round(stored / watch.wall)
            figures["end_to_end_ratio"] = round(stored / watch.wall / executemany_rows_s, 3)
            figures["end_to_end_cpu_ratio"] = round(stored / watch.cpu / (rows / baseline.cpu), 3)
    return figures


def main() -> None:
    figures = measure()
    print(
        f"SQL sink: {figures['sink_rows_s']:,} case rows/s against raw executemany "
        f"{figures['executemany_rows_s']:,} rows/s: {figures['ratio']:.2f}x (target >= 0.5x); "
        f"by CPU seconds {figures['cpu_ratio']:.2f}x; {figures['case_rows_written']:,} case "
        f"rows written from {figures['snapshots']:,} snapshots"
    )
    print(
        f"SQL sink through the embedded broker (poll, decode, store, commit): "
        f"{figures['end_to_end_rows_s']:,} case rows/s, {figures['end_to_end_ratio']:.2f}x "
        f"raw executemany; by CPU seconds {figures['end_to_end_cpu_ratio']:.2f}x"
    )


if __name__ == "__main__":
    main()
