"""Replay dead letters: send each chosen letter's raw bytes again to the topic and
partition it came from, for the pipeline to admit them anew.

    referrals deadletters --format json \\
        | python3 /opt/referrals/tools/replay_deadletters.py --code unmatched [--dry-run]

It reads what ``referrals deadletters --format json`` prints (so it needs no database of
its own), keeps the letters chosen by ``--code`` and ``--event-id`` (or ``--all``), and
sends them with acks=all through the broker and security settings of the REFERRALS_*
variables (streams/settings.py), as every process of the image does. The same partition
keeps a referral's versions together, as its publisher placed them (docs/rules.md §4).

A letter of a batch file (file:line, no topic) cannot be replayed here: correct the file
and ``referrals run`` it again. Replay a letter once: a replayed event is a new record, so
a referral replayed twice counts as an exact duplicate (docs/rules.md §4; a lifecycle
event or a payment sent twice changes nothing, §14). One that fails again becomes a new
letter, with its new offset; the old letter stays where it is stored.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO


@dataclass(frozen=True)
class Replay:
    event_id: str
    code: str
    topic: str
    partition: int
    raw: bytes


class Producer(Protocol):
    def send(self, topic: str, *, value: bytes, partition: int) -> Any: ...


def choose(
    letters: Iterable[Mapping[str, Any]],
    codes: Sequence[str] = (),
    event_ids: Sequence[str] = (),
) -> tuple[list[Replay], list[str]]:
    """The letters to replay, in the order given, and the event ids of chosen letters that
    name no topic (a batch file's lines). No code and no event id chooses every letter."""
    replays: list[Replay] = []
    without_topic: list[str] = []
    for letter in letters:
        if codes and letter["error"] not in codes:
            continue
        if event_ids and letter["event_id"] not in event_ids:
            continue
        if letter.get("source_topic") is None or letter.get("source_partition") is None:
            without_topic.append(letter["event_id"])
            continue
        replays.append(
            Replay(
                event_id=letter["event_id"],
                code=letter["error"],
                topic=letter["source_topic"],
                partition=int(letter["source_partition"]),
                raw=base64.b64decode(letter["raw_base64"]),
            )
        )
    return replays, without_topic


def send(replays: Sequence[Replay], producer: Producer, timeout: float = 30.0) -> None:
    """Send every replay and wait for each acknowledgement (raises on the first failure)."""
    futures = [producer.send(r.topic, value=r.raw, partition=r.partition) for r in replays]
    for future in futures:
        future.get(timeout=timeout)


def _producer() -> Any:
    from kafka import KafkaProducer

    from streams.settings import Settings

    settings = Settings.from_env()
    return KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        retries=5,
        **settings.kafka_client_config(),
    )


def main(argv: Sequence[str] | None = None, stdin: TextIO = sys.stdin) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--code", action="append", default=[], help="a reason code; repeatable")
    parser.add_argument("--event-id", action="append", default=[], help="repeatable")
    parser.add_argument("--all", action="store_true", help="every letter that names a topic")
    parser.add_argument("--dry-run", action="store_true", help="print what would be sent")
    args = parser.parse_args(argv)
    if not (args.code or args.event_id or args.all):
        parser.error("choose letters with --code or --event-id, or say --all")
    replays, without_topic = choose(json.load(stdin), args.code, args.event_id)
    for replay in replays:
        print(f"{replay.event_id}\t{replay.code}\t-> {replay.topic}/{replay.partition}")
    if without_topic:
        print(
            f"{len(without_topic)} chosen letters came from batch files, not a topic: "
            "correct those files and run them again",
            file=sys.stderr,
        )
    if args.dry_run or not replays:
        return 0
    producer = _producer()
    try:
        send(replays, producer)
    finally:
        producer.close()
    print(f"replayed {len(replays)} dead letters", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
