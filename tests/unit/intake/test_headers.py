"""Where an input record came from, read from its headers, which are whatever its
publisher sent: never an error, and never more than the store's columns hold."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.intake.agents import MAX_FILE, source_of


def message(headers: Any) -> Any:
    return SimpleNamespace(topic="referrals.housing", partition=1, offset=5, headers=headers)


@given(
    file=st.none() | st.binary(max_size=2000),
    line=st.none() | st.binary(max_size=20) | st.integers(0, 10**12).map(lambda n: b"%d" % n),
)
def test_any_source_headers_give_a_source(file: bytes | None, line: bytes | None) -> None:
    """Any bytes as source-file and source-line give a Source whose file fits its column
    and whose line, when kept, is a number Avro's int holds."""
    source = source_of(message([("source-file", file), ("source-line", line)]))
    assert source.event_id == "referrals.housing/1/5"
    assert source.file is None or len(source.file) <= MAX_FILE
    assert source.line is None or 0 <= source.line < 2**31


@pytest.mark.parametrize(
    ("line", "kept"),
    [(b"42", 42), (b"x", None), ("²".encode(), None), (b"99999999999", None), (b"\xff", None)],
)
def test_a_line_number_is_kept_only_when_it_is_one(line: bytes, kept: int | None) -> None:
    """A line header made by our publisher is read back; anything else is dropped (it
    raised ValueError or UnicodeDecodeError in the agent, or broke the letter's Avro)."""
    assert source_of(message({"source-line": line})).line == kept
