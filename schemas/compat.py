"""The compatibility gate: every schema's earlier versions, and whether today's still
reads and is read by each of them.

Each version is kept as one self-contained file, ``history/<Name>/v<N>.avsc``: the
schema with every named type it uses written inline, as a registry stores it and as a
partner compiled it. ``check`` applies the Avro resolution rules (the reference
implementation's checker, ``avro.compatibility``) in both directions against every kept
version:

- backward: a reader with today's schema reads what an earlier writer wrote;
- forward: a partner still on an earlier version reads what today's writer writes.

A change that breaks either fails ``referrals schemas check`` and the test suite; a
change that keeps both is recorded as the next version by ``referrals schemas record``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType
from avro.schema import Schema, parse

from schemas.codec import SCHEMA_DIR, SchemaStore
from streams.errors import ConfigurationError

HISTORY_DIR: Final = SCHEMA_DIR / "history"
_VERSION = re.compile(r"v(\d+)\.avsc")


@dataclass(frozen=True)
class Incompatibility:
    """One way today's schema ``name`` breaks version ``version``."""

    name: str
    version: int
    direction: str  # "backward", "forward", or "history" when nothing can be compared
    message: str

    def __str__(self) -> str:
        against = f"v{self.version}" if self.version else "its history"
        return f"{self.name} against {against} ({self.direction}): {self.message}"


def versions(name: str, history: Path = HISTORY_DIR) -> list[tuple[int, Path]]:
    """The kept versions of ``name``, oldest first."""
    folder = history / name
    found = [
        (int(m.group(1)), p) for p in folder.glob("v*.avsc") if (m := _VERSION.fullmatch(p.name))
    ]
    return sorted(found)


def _parse(text: str, where: str) -> Schema:
    try:
        return parse(text)
    except Exception as e:  # the avro library raises a dozen unrelated types here
        raise ConfigurationError(f"{where} is not a valid Avro schema: {e}") from e


def _problems(reader: Schema, writer: Schema) -> str | None:
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return None
    where = ", ".join(sorted(result.locations))
    return f"{'; '.join(sorted(result.messages))} (at {where})"


def check(store: SchemaStore, history: Path = HISTORY_DIR) -> list[Incompatibility]:
    """Every incompatibility of the store's schemas with their kept versions."""
    found: list[Incompatibility] = []
    current = set(store.names())
    for name in store.names():
        kept = versions(name, history)
        if not kept:
            found.append(
                Incompatibility(
                    name, 0, "history", "no version kept; `referrals schemas record` adds it"
                )
            )
            continue
        today = _parse(json.dumps(store.standalone(name)), f"schema {name}")
        for number, path in kept:
            old = _parse(path.read_text(encoding="utf-8"), str(path))
            for direction, reader, writer in (("backward", today, old), ("forward", old, today)):
                problem = _problems(reader, writer)
                if problem is not None:
                    found.append(Incompatibility(name, number, direction, problem))
    for folder in sorted(p for p in history.glob("*") if p.is_dir()):
        if folder.name not in current:
            found.append(
                Incompatibility(
                    folder.name, 0, "history", "removed, but partners may still send it"
                )
            )
    return found


def _comparable(schema: Any) -> Any:
    # documentation does not change what a schema reads or writes
    if isinstance(schema, dict):
        return {k: _comparable(v) for k, v in schema.items() if k != "doc"}
    if isinstance(schema, list):
        return [_comparable(v) for v in schema]
    return schema


def record(store: SchemaStore, history: Path = HISTORY_DIR) -> list[Path]:
    """Keep today's version of every schema that differs from its latest kept one; refused
    while any schema is incompatible. Returns the files written."""
    broken = [i for i in check(store, history) if i.direction != "history"]
    if broken:
        raise ConfigurationError(f"not recorded, incompatible: {broken[0]}")
    written = []
    for name in store.names():
        today = store.standalone(name)
        kept = versions(name, history)
        if kept:
            latest = json.loads(kept[-1][1].read_text(encoding="utf-8"))
            if _comparable(latest) == _comparable(today):
                continue
        path = history / name / f"v{kept[-1][0] + 1 if kept else 1}.avsc"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(today, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written
