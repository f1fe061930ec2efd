"""deploy/replay_deadletters.py chooses the letters asked for, sends each back to where it
came from, and sends nothing on a dry run or without a choice."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import pytest

from tests.support.deploy import replay_script

replay = replay_script()


def _letter(event_id: str, code: str, topic: str | None = "referrals.housing") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "error": code,
        "source_topic": topic,
        "source_partition": 3 if topic else None,
        "source_file": None if topic else "batch.jsonl",
        "raw_base64": base64.b64encode(b"\xc3\x01" + event_id.encode()).decode(),
    }


LETTERS = [
    _letter("t/0/1", "unmatched"),
    _letter("t/0/2", "schema"),
    _letter("batch.jsonl:7", "unmatched", topic=None),
    _letter("t/0/3", "invalid_transition"),
]


def test_letters_are_chosen_by_code_and_event_id_keeping_their_bytes() -> None:
    """A code keeps that code's letters, event ids keep those letters, both narrow each
    other; the raw bytes and the source partition come back as stored."""
    chosen, from_files = replay.choose(LETTERS, ["unmatched"])
    assert [(r.event_id, r.topic, r.partition, r.raw) for r in chosen] == [
        ("t/0/1", "referrals.housing", 3, b"\xc3\x01t/0/1")
    ]
    assert from_files == ["batch.jsonl:7"]
    chosen, _ = replay.choose(LETTERS, [], ["t/0/2", "t/0/3"])
    assert [r.event_id for r in chosen] == ["t/0/2", "t/0/3"]
    chosen, _ = replay.choose(LETTERS, ["schema"], ["t/0/3"])
    assert chosen == []
    everything, _ = replay.choose(LETTERS)
    assert [r.event_id for r in everything] == ["t/0/1", "t/0/2", "t/0/3"]


class Recorder:
    """A producer that acknowledges at once and remembers what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, bytes]] = []

    def send(self, topic: str, *, value: bytes, partition: int) -> Any:
        self.sent.append((topic, partition, value))
        return self

    def get(self, timeout: float) -> None:
        pass


def test_every_chosen_letter_is_sent_to_its_topic_and_partition() -> None:
    """send() hands each replay to the producer at its own topic and partition."""
    chosen, _ = replay.choose(LETTERS, ["unmatched", "invalid_transition"])
    producer = Recorder()
    replay.send(chosen, producer)
    assert producer.sent == [
        ("referrals.housing", 3, b"\xc3\x01t/0/1"),
        ("referrals.housing", 3, b"\xc3\x01t/0/3"),
    ]


def test_a_dry_run_lists_and_sends_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--dry-run prints what would go where and never makes a producer."""
    monkeypatch.setattr(replay, "_producer", lambda: pytest.fail("a producer was made"))
    stdin = io.StringIO(json.dumps(LETTERS))
    assert replay.main(["--all", "--dry-run"], stdin=stdin) == 0
    printed = capsys.readouterr()
    assert printed.out.count("-> referrals.housing/3") == 3
    assert "1 chosen letters came from batch files" in printed.err


def test_nothing_is_replayed_without_a_choice() -> None:
    """Without --code, --event-id or --all the command refuses (exit 2), before reading."""
    with pytest.raises(SystemExit) as exit_:
        replay.main([], stdin=io.StringIO("not read"))
    assert exit_.value.code == 2
