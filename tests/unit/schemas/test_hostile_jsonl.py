"""The JSONL reader on lines from outside: a value or NotJson, an event or InputError, and
every line becomes exactly one record that can travel, an input event or a dead letter."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers import publisher
from consumers.publisher import MAX_LINE_BYTES, prepare_line, read_lines
from schemas.codec import SchemaStore
from schemas.jsonl import MAX_JSON_DEPTH, InputError, NotJson, parse_json, record_from_json
from streams import topics
from streams.errors import Reason
from streams.intake.rules import COPY_BYTES, MAX_EVENT_BYTES

STORE = SchemaStore()
HOSTILE = settings(max_examples=300, deadline=None)
# Room for what a dead letter adds around the line it carries: reason, source, header.
LETTER_OVERHEAD = 2048
OVERSIZED = Reason.OVERSIZED
KEPT_WHOLE = "its dead letter carries the first 4096 bytes, the store keeps the whole line"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=30,
)
KINDS = [
    "referral",
    "case_filed",
    "case_rejected",
    "case_decided",
    "feedback_sent",
    "case_closed",
    "payment",
]
REFERRAL: dict[str, Any] = {
    "kind": "referral",
    "agency": "HOUSING",
    "referral_id": "ZJ-2022-0042",
    "referred_at": "2022-03-01T09:30:00+08:00",
    "district_code": "430203",
    "street_code": "430203001",
    "address": "芦淞区建设路 88 号",
    "category": "ILLEGAL_CONSTRUCTION",
    "party_id_hash": "0f" * 32,
    "description": "未取得规划许可加建两层",
    "evidence": [{"uri": "https://files.example/zj/0042.jpg", "sha256": "ab" * 32}],
    "housing": {"project_name": "芦淞区建设路地块", "permit_no": "430203202201"},
}
FIELDS = [
    *REFERRAL,
    "case_id",
    "filed_at",
    "decided_at",
    "amount_fen",
    "decision_no",
    "tier",
    "receipt_no",
    "paid_at",
    "reason",
]


@st.composite
def near_events(draw: st.DrawFn) -> dict[str, Any]:
    """A referral with some fields set to arbitrary JSON and a random kind: most of the
    object is right, so the converter gets past its first checks."""
    obj: dict[str, Any] = {**REFERRAL, "kind": draw(st.sampled_from(KINDS))}
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=4)):
        if draw(st.booleans()):
            obj[field] = draw(json_values)
        else:
            obj.pop(field, None)
    return obj


def nested(depth: int, opener: str) -> str:
    """A JSON text nested ``depth`` levels deep in arrays or in objects."""
    if opener == "[":
        return "[" * depth + "1" + "]" * depth
    return '{"x": ' * depth + "1" + "}" * depth


@HOSTILE
@given(text=st.text(max_size=300) | json_values.map(json.dumps))
def test_any_text_parses_or_is_not_json(text: str) -> None:
    """parse_json gives a value or NotJson for any text: the value json.loads gives (compared
    as JSON text, since NaN is not equal to itself)."""
    with contextlib.suppress(NotJson):
        assert json.dumps(parse_json(text)) == json.dumps(json.loads(text))


@HOSTILE
@given(
    depth=st.integers(min_value=0, max_value=300_000),
    opener=st.sampled_from("[{"),
    closed=st.booleans(),
)
def test_nesting_is_bounded_before_the_parser_recurses(
    depth: int, opener: str, closed: bool
) -> None:
    """Nesting within MAX_JSON_DEPTH parses; deeper, closed or not, is NotJson, and never
    a RecursionError."""
    text = nested(depth, opener) if closed else opener * depth
    if depth > MAX_JSON_DEPTH:
        with pytest.raises(NotJson, match="nest deeper"):
            parse_json(text)
    elif closed:
        assert parse_json(text) == json.loads(text)
    else:
        with pytest.raises(NotJson):
            parse_json(text)


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    """A string full of brackets is text, not depth."""
    text = json.dumps({"description": "[{" * 500, "evidence": [{}] * 50})
    assert parse_json(text)["description"] == "[{" * 500


def test_a_number_too_long_to_convert_is_not_json() -> None:
    """Python refuses to convert integers of over 4300 digits: that is NotJson too."""
    with pytest.raises(NotJson, match="4300"):
        parse_json('{"amount_fen": ' + "9" * 5000 + "}")


@HOSTILE
@given(obj=json_values | near_events())
def test_any_json_value_is_an_event_that_encodes_or_an_input_error(obj: Any) -> None:
    """record_from_json gives a record the codec encodes, or an InputError whose message
    is one encodable line."""
    try:
        name, record = record_from_json(obj, STORE)
    except InputError as e:
        message = str(e)
        assert "\n" not in message and len(message) < 1000
        message.encode("utf-8")
    else:
        STORE.encode(name, record)


def test_lone_surrogates_are_refused_as_text() -> None:
    """JSON's \\ud800 escapes give strings UTF-8 cannot encode: refused, named, quoted
    encodably."""
    with pytest.raises(InputError, match="lone surrogate") as caught:
        record_from_json({**REFERRAL, "description": "\ud800"}, STORE)
    assert caught.value.field == "description"
    str(caught.value).encode("utf-8")


def letter_of(value: bytes) -> dict[str, Any]:
    decoded = STORE.decode(value)
    assert decoded.name == "DeadLetter"
    return decoded.record


@HOSTILE
@given(
    line=st.text(max_size=400)
    | st.binary(max_size=400)
    | near_events().map(json.dumps)
    | json_values.map(json.dumps)
)
def test_every_line_becomes_one_record_that_can_travel(line: str | bytes) -> None:
    """Any line is an input record or a dead letter with a known code, each small enough
    for the broker, with the line's bytes as the letter's raw."""
    out = prepare_line(line, "in.jsonl", 7, STORE)
    if out.topic == topics.DEADLETTERS:
        letter = letter_of(out.value)
        assert Reason(letter["error"]) in (Reason.UNDECODABLE, Reason.SCHEMA)
        assert (
            letter["event_id"] == "in.jsonl:7"
            and out.key == f"in.jsonl:7#{letter['error']}".encode()
        )
        assert letter["raw"] == (
            line if isinstance(line, bytes) else line.encode("utf-8", "surrogatepass")
        )
    else:
        assert out.topic in topics.INPUTS
        assert len(out.value) <= MAX_EVENT_BYTES


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("[" * 200_000, Reason.UNDECODABLE),
        (
            json.dumps({**REFERRAL, "description": "很" * 700_000}, ensure_ascii=False),
            Reason.OVERSIZED,
        ),
        (
            json.dumps({**REFERRAL, "evidence": [REFERRAL["evidence"][0]] * 20_000}),
            Reason.OVERSIZED,
        ),
        (json.dumps({**REFERRAL, "description": "x" * 100_000}), OVERSIZED),
        (" " * 70_000 + "{}", Reason.SCHEMA),
    ],
    ids=["deep", "2MB-description", "20000-evidence", "100KB-as-avro", "padded"],
)
def test_a_line_too_large_for_its_letter_leaves_its_start_in_it_and_the_rest_as_payload(
    line: str, code: Reason
) -> None:
    """A line over MAX_EVENT_BYTES is dead-lettered with its first COPY_BYTES, the reason
    saying so, and the whole line as the payload the batch run keeps."""
    raw = line.encode()
    out = prepare_line(line, "in.jsonl", 3, STORE)
    letter = letter_of(out.value)
    assert (letter["error"], letter["raw"]) == (code, raw[:COPY_BYTES])
    assert (
        "its dead letter carries the first 4096 bytes, the store keeps the whole line"
        in letter["reason"]
    )
    assert out.payload is not None and (out.payload.data, out.payload.size) == (raw, len(raw))
    assert len(out.value) < COPY_BYTES + LETTER_OVERHEAD


def test_a_line_over_the_line_limit_is_not_parsed() -> None:
    """A line over MAX_LINE_BYTES is oversized whatever it holds; when only its start was
    read, the reason says how much the store keeps."""
    start = json.dumps(REFERRAL).encode()
    out = prepare_line(start, "in.jsonl", 1, STORE, size=MAX_LINE_BYTES + 1)
    letter = letter_of(out.value)
    assert letter["error"] == Reason.OVERSIZED
    assert letter["reason"].startswith(
        f"the line is {MAX_LINE_BYTES + 1} bytes, over the {MAX_LINE_BYTES}"
    )
    assert letter["reason"].endswith(f"the store keeps its first {len(start)} bytes")


@settings(max_examples=200, deadline=None)
@given(
    lines=st.lists(st.binary(max_size=200).map(lambda b: b.replace(b"\n", b"")), max_size=12),
    last_newline=st.booleans(),
)
def test_read_lines_bounds_each_line_and_counts_all_of_it(
    lines: list[bytes], last_newline: bool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each line is read up to KEPT_BYTES, with its whole length and its number; the file
    is read to the end whatever the lines' lengths."""
    kept = 64
    path = tmp_path_factory.mktemp("lines") / "in.jsonl"
    text = b"\n".join(lines) + (b"\n" if last_newline and lines else b"")
    path.write_bytes(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(publisher, "KEPT_BYTES", kept)
        read = list(read_lines(path))
    *complete, last = text.split(b"\n")
    expected = [line + b"\n" for line in complete] + ([last] if last else [])
    assert [line.number for line in read] == list(range(1, len(expected) + 1))
    assert [(line.data, line.size) for line in read] == [(e[:kept], len(e)) for e in expected]


def test_prepare_file_reads_a_long_line_in_bounded_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line longer than KEPT_BYTES is dead-lettered with its true size, and the lines
    after it keep their numbers."""
    monkeypatch.setattr(publisher, "KEPT_BYTES", 100_000)
    monkeypatch.setattr(publisher, "MAX_LINE_BYTES", 80_000)
    path = tmp_path / "in.jsonl"
    path.write_text("x" * 250_000 + "\n" + json.dumps(REFERRAL) + "\n", encoding="utf-8")
    first, second = publisher.prepare_file(path, STORE)
    assert first.payload is not None
    assert (len(first.payload.data), first.payload.size) == (100_000, 250_001)
    assert (second.topic, second.source_line) == ("referrals.housing", 2)
