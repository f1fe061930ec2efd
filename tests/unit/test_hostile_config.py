"""The organisation and rubric files are edited by hand: whatever they hold, parsing gives
a valid result or the project's ConfigurationError naming the file, never a Python error
(RecursionError, TypeError, AttributeError, decimal's InvalidOperation, OverflowError)."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.errors import ConfigurationError
from streams.organisation import (
    MAX_FILE_BYTES,
    InvalidOrganisation,
    default_organisation_path,
    load_organisation,
    parse_organisation,
)
from streams.scorecards.rubric import default_rubric_path, load_rubric, parse_rubric

ORG_TEXT = default_organisation_path().read_text(encoding="utf-8")
RUBRIC_TEXT = default_rubric_path().read_text(encoding="utf-8")
HOSTILE = settings(max_examples=300, deadline=None)

toml_values = st.recursive(
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)


def toml_value(value: Any) -> str:
    """``value`` as TOML text: inline tables and arrays, basic strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are TOML's, but for lone surrogates
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(doc: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in doc.items())


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """The shipped document with a few nodes replaced by arbitrary TOML values, removed,
    or added: mostly right, so parsing gets past its first checks."""
    doc = tomllib.loads(text)
    for _ in range(draw(st.integers(1, 4))):
        node: Any = doc
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            key = draw(st.sampled_from(list(node) if isinstance(node, dict) else range(len(node))))
            if not isinstance(node[key], dict | list):
                break
            node = node[key]
        if isinstance(node, dict):
            key = draw(st.sampled_from([*node, "extra"]))
        elif isinstance(node, list) and node:
            key = draw(st.integers(0, len(node) - 1))
        else:
            continue
        if isinstance(node, dict) and draw(st.integers(0, 3)) == 0:
            node.pop(key, None)
        else:
            node[key] = draw(toml_values)
    return toml_document(doc)


def deeply_nested(depth: int) -> str:
    return "a = " + "[" * depth + "]" * depth + "\n"


hostile_texts = st.one_of(
    st.text(max_size=300),
    st.integers(0, 50_000).map(deeply_nested),
    st.integers(4000, 6000).map(lambda digits: "a = " + "9" * digits + "\n"),
)


@HOSTILE
@given(text=mutated(ORG_TEXT) | hostile_texts)
def test_any_organisation_text_parses_or_is_an_invalid_organisation(text: str) -> None:
    """An edited organisation file is an Organisation or InvalidOrganisation, whose
    message is one line naming the file."""
    try:
        parse_organisation(text, "org.toml")
    except InvalidOrganisation as e:
        assert str(e).startswith("org.toml: ")


@HOSTILE
@given(text=mutated(RUBRIC_TEXT) | hostile_texts)
def test_any_rubric_text_parses_or_is_a_configuration_error(text: str) -> None:
    """An edited rubric is a Rubric or a ConfigurationError naming the file."""
    try:
        parse_rubric(text, "rubric.toml")
    except ConfigurationError as e:
        assert str(e).startswith("rubric.toml: ")


def edited(old: str, new: str) -> str:
    assert old in RUBRIC_TEXT
    return RUBRIC_TEXT.replace(old, new, 1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (edited("weight = 20", "weight = nan"), "weight: must be a finite number, got nan"),
        (edited("days = 15", "days = 10000000000"), "days: must be a whole number from 0 to 3660"),
        ("grades = 1\n" + RUBRIC_TEXT.split("[[grades]]")[0], "grades: must be a list"),
        (edited("[metrics.feedback]", "[metrics.feedback.weight]"), "weight: must be a finite"),
    ],
    ids=["nan", "ten-billion-days", "grades-not-a-list", "weight-a-table"],
)
def test_values_toml_allows_but_a_rubric_cannot_use_are_refused(text: str, message: str) -> None:
    """NaN made every comparison of the scoring raise, ten billion days overflowed
    timedelta, and a number or table where the other was expected raised TypeError or
    AttributeError: each is refused naming the key."""
    with pytest.raises(ConfigurationError, match=message):
        parse_rubric(text)


@pytest.mark.parametrize("load", [load_organisation, load_rubric], ids=["organisation", "rubric"])
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\xff\xfe\x00not utf-8", "not UTF-8"),
        (b"# " + b"x" * MAX_FILE_BYTES, f"over {MAX_FILE_BYTES} bytes"),
    ],
    ids=["not-utf-8", "too-large"],
)
def test_an_unreadable_file_is_a_configuration_error(
    load: Any, content: bytes, problem: str, tmp_path: Path
) -> None:
    """A file that is not UTF-8, or larger than any real one, is refused naming it,
    without reading more of it than the bound."""
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigurationError, match=problem) as caught:
        load(path)
    assert str(path) in str(caught.value)
