"""The compatibility gate: today's schemas against every kept version, both directions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from schemas import compat
from schemas.codec import SCHEMA_DIR, SchemaStore
from streams.errors import ConfigurationError


def edited(tmp_path: Path, name: str, change: Any) -> SchemaStore:
    """A store of the shipped schemas with ``change`` applied to ``name``'s parsed file."""
    folder = tmp_path / "schemas"
    folder.mkdir()
    for path in SCHEMA_DIR.glob("*.avsc"):
        shutil.copy(path, folder)
    path = folder / f"zhuzhou.referrals.{name}.avsc"
    schema = json.loads(path.read_text(encoding="utf-8"))
    change(schema)
    path.write_text(json.dumps(schema), encoding="utf-8")
    return SchemaStore(folder)


def test_the_shipped_schemas_keep_every_kept_version() -> None:
    """The gate itself: no shipped schema breaks a version partners may still use, and
    every shipped schema has its history."""
    assert compat.check(SchemaStore()) == []


def test_a_new_required_field_breaks_backward_compatibility(tmp_path: Path) -> None:
    """A field without a default cannot be filled from data written before it existed."""

    def add(schema: dict[str, Any]) -> None:
        schema["fields"].append({"name": "priority", "type": "string"})

    found = compat.check(edited(tmp_path, "Referral", add))
    assert [(i.name, i.version, i.direction) for i in found] == [("Referral", 1, "backward")]
    assert "priority" in found[0].message


def test_dropping_a_required_field_breaks_forward_compatibility(tmp_path: Path) -> None:
    """A partner still reading v1 needs ``address``, which the new writer no longer writes."""

    def drop(schema: dict[str, Any]) -> None:
        schema["fields"] = [f for f in schema["fields"] if f["name"] != "address"]

    found = compat.check(edited(tmp_path, "Referral", drop))
    assert [(i.name, i.direction) for i in found] == [("Referral", "forward")]


def test_removing_an_enum_symbol_breaks_every_schema_using_it(tmp_path: Path) -> None:
    """Data written with a symbol the new enum lacks cannot be read: Category and the
    records that embed it all fail backward."""

    def shrink(schema: dict[str, Any]) -> None:
        schema["symbols"].remove("STREET_VENDING")

    found = compat.check(edited(tmp_path, "Category", shrink))
    assert {i.name for i in found} == {"Category", "Referral", "CaseSnapshot"}
    assert {i.direction for i in found} == {"backward"}


def test_an_optional_field_is_compatible_and_recorded_as_the_next_version(tmp_path: Path) -> None:
    """v2 of Referral (an optional ``priority``) passes, and ``record`` keeps it as v2
    beside a copy of today's history, leaving every other schema alone."""
    history = tmp_path / "history"
    shutil.copytree(compat.HISTORY_DIR, history)
    full = edited(
        tmp_path,
        "Referral",
        lambda s: s["fields"].append(
            {"name": "priority", "type": ["null", "string"], "default": None}
        ),
    )
    assert compat.check(full, history) == []
    assert compat.record(full, history) == [history / "Referral" / "v2.avsc"]
    assert compat.record(full, history) == []
    assert compat.check(full, history) == []


def test_record_refuses_while_a_schema_is_incompatible(tmp_path: Path) -> None:
    """Nothing is kept while the check fails."""
    history = tmp_path / "history"
    shutil.copytree(compat.HISTORY_DIR, history)
    broken = edited(
        tmp_path, "Referral", lambda s: s["fields"].append({"name": "p", "type": "int"})
    )
    with pytest.raises(ConfigurationError, match="Referral against v1"):
        compat.record(broken, history)
    assert not (history / "Referral" / "v2.avsc").exists()


def test_a_schema_without_history_is_reported(tmp_path: Path) -> None:
    """A new schema must be recorded before the gate passes."""
    found = compat.check(SchemaStore(), tmp_path)
    assert {i.direction for i in found} == {"history"}
    assert len(found) == len(SchemaStore().names())
