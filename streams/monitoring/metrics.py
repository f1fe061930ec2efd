"""Every metric the pipeline exposes, defined once, and the small functions that move them.

Prometheus naming: ``referrals_`` prefix, counters end in ``_total`` (prometheus-client adds
it), base units (seconds; money in fen, the ledger's integer unit, never yuan). Each
process (worker, sink, feed, serve) exposes its own values on its ``/metrics``;
Prometheus adds them up across processes (deploy/prometheus.yml scrapes every one).

Agents, the sink and the feed call the functions below, never the metric objects, so a
rename or a new label touches this file only.
"""

from __future__ import annotations

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

# The registry /metrics exposes: the default one, so the process and platform collectors
# prometheus-client registers there (CPU, memory, open files) come along.
registry: CollectorRegistry = REGISTRY

EVENTS_CONSUMED = Counter(
    "referrals_events_consumed",
    "Input events read from a topic, by topic and referring agency ('' when none).",
    ["topic", "agency"],
)
DEAD_LETTERS = Counter(
    "referrals_dead_letters", "Events dead-lettered, by reason code.", ["reason"]
)
EXACT_DUPLICATES = Counter(
    "referrals_exact_duplicates", "Referrals received again with the same key and content."
)
AMENDMENTS = Counter(
    "referrals_amendments", "Referrals received again with the same key and new content."
)
MERGES = Counter("referrals_merges", "Referrals that joined an existing case (same incident).")
CASES_OPENED = Counter("referrals_cases_opened", "Cases opened, by district code.", ["district"])
# A referral that arrives after a later one of its incident re-forms the cases: the case the
# later one had opened is absorbed. Opened minus absorbed is the number of live cases.
CASES_ABSORBED = Counter(
    "referrals_cases_absorbed",
    "Cases re-formed into an earlier case of their incident, by district code.",
    ["district"],
)
PENALTIES_DECIDED = Counter(
    "referrals_penalties_decided_fen", "Penalty amounts decided, in fen, by district.", ["district"]
)
PENALTIES_COLLECTED = Counter(
    "referrals_penalties_collected_fen",
    "Penalty payments received, in fen, by district.",
    ["district"],
)
CONSUMER_LAG = Gauge(
    "referrals_consumer_lag",
    "Records written to a topic-partition that a consumer group has not yet committed.",
    ["group", "topic", "partition"],
)
# Event time to case stored: minutes for live traffic, but a replayed or late event may be
# days old, so the buckets reach a week.
LATENCY_BUCKETS = (0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400, 604800)
PROCESSING_LATENCY = Histogram(
    "referrals_processing_latency_seconds",
    "Seconds from an event's own time to its case being stored.",
    buckets=LATENCY_BUCKETS,
)
SCORECARD_REVISIONS = Counter(
    "referrals_scorecard_revisions",
    "Monthly scorecard revisions emitted (one per closed or restated month and level).",
    ["level"],
)
SCORECARD_LATEST = Gauge(
    "referrals_scorecard_latest_revision",
    "The latest revision emitted of a month's scorecards.",
    ["month"],
)
# Counted by `referrals up` (runtime/supervisor.py) on its own /metrics.
CHILD_RESTARTS = Counter(
    "referrals_supervisor_restarts",
    "Child processes the supervisor restarted, by process (worker, sink, feed) and reason "
    "(exited, unresponsive, stalled).",
    ["process", "reason"],
)
# Counted by the worker's Kafka consumer (streams/consumer.py).
RECORDS_FETCHED_AGAIN = Counter(
    "referrals_records_fetched_again",
    "Times a partition was sought back to a record Faust dropped after it was handed over, "
    "by topic.",
    ["topic"],
)
COMMITS_REFUSED = Counter(
    "referrals_commits_refused",
    "Commits refused because they would cross a record not yet processed, by topic.",
    ["topic"],
)
SINK_ROWS = Counter("referrals_sink_rows_written", "Rows the SQL sink wrote, by table.", ["table"])
SINK_COMMIT = Histogram(
    "referrals_sink_commit_seconds", "Seconds one SQL sink transaction took to commit."
)


def record_fetched_again(topic: str) -> None:
    RECORDS_FETCHED_AGAIN.labels(topic=topic).inc()


def commit_refused(topic: str) -> None:
    COMMITS_REFUSED.labels(topic=topic).inc()


def events_consumed(topic: str, agency: str | None = None, n: int = 1) -> None:
    EVENTS_CONSUMED.labels(topic=topic, agency=agency or "").inc(n)


def dead_lettered(reason: str, n: int = 1) -> None:
    DEAD_LETTERS.labels(reason=reason).inc(n)


def exact_duplicate(n: int = 1) -> None:
    EXACT_DUPLICATES.inc(n)


def amendment(n: int = 1) -> None:
    AMENDMENTS.inc(n)


def merged(n: int = 1) -> None:
    MERGES.inc(n)


def case_opened(district: str, n: int = 1) -> None:
    CASES_OPENED.labels(district=district).inc(n)


def case_absorbed(district: str, n: int = 1) -> None:
    CASES_ABSORBED.labels(district=district).inc(n)


def penalty_decided(district: str, fen: int) -> None:
    PENALTIES_DECIDED.labels(district=district).inc(fen)


def penalty_collected(district: str, fen: int) -> None:
    PENALTIES_COLLECTED.labels(district=district).inc(fen)


_lagging: set[tuple[str, str, int]] = set()


def consumer_lags(behind: dict[tuple[str, str, int], int]) -> None:
    """One full reading, (group, topic, partition) -> records, of the partitions behind:
    those behind at the last reading and not now are set back to zero."""
    for group, topic, partition in _lagging - behind.keys():
        CONSUMER_LAG.labels(group=group, topic=topic, partition=str(partition)).set(0)
    for (group, topic, partition), records in behind.items():
        CONSUMER_LAG.labels(group=group, topic=topic, partition=str(partition)).set(records)
    _lagging.clear()
    _lagging.update(behind)


def processing_latency(seconds: float) -> None:
    PROCESSING_LATENCY.observe(max(seconds, 0.0))


def scorecard_revision(month: str, level: str, revision: int) -> None:
    SCORECARD_REVISIONS.labels(level=level).inc()
    SCORECARD_LATEST.labels(month=month).set(revision)


def child_restarted(process: str, reason: str) -> None:
    CHILD_RESTARTS.labels(process=process, reason=reason).inc()


def sink_rows_written(table: str, n: int) -> None:
    SINK_ROWS.labels(table=table).inc(n)


def sink_commit_seconds(seconds: float) -> None:
    SINK_COMMIT.observe(seconds)


def metric_names() -> set[str]:
    """Every sample name the registry can expose (``_total``, ``_bucket``, ... included)."""
    names: set[str] = set()
    for family in registry.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.add(family.name + "_total")
        if family.type == "histogram":
            names.update(family.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return names
