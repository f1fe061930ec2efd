"""Avro single-object encoding of the project's events, and Confluent's wire format.

Wire formats::

    C3 01 | CRC-64-AVRO fingerprint of the writer schema (8 bytes, little-endian) | body
    00    | schema id in the Confluent Schema Registry (4 bytes, big-endian)       | body

The first is the Avro specification's "Single object encoding", the project's own; the
fingerprint is taken over the schema's Parsing Canonical Form, so docs, defaults and
logical types do not change it; adding a field does. The second is what Confluent's
serializers write; ``decode`` reads it too when the store has a schema registry
(REFERRALS_SCHEMA_REGISTRY), so the intake takes both without knowing which it got.

Errors::

    CodecError
     ├── SchemaFileError         an .avsc file cannot be loaded
     ├── NotSingleObjectEncoded  neither header, or shorter than it
     │    └── NoRegistry         Confluent framing, but no schema registry is configured
     ├── UnknownSchema           fingerprint, schema id or schema name not known, or a
     │                           registry's schema unbounded to decode (schemas/registered.py)
     ├── RegistryUnavailable     the schema registry did not answer
     ├── InvalidRecord           a record does not fit its schema (encode)
     ├── IncompatibleSchemas     the writer's data cannot be read into the reader schema
     └── UndecodableBody         the body does not parse under the writer schema
          └── TruncatedBody      the body ends early
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path
from typing import Any, Final

from fastavro import schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError
from fastavro.schema import fingerprint, load_schema, to_parsing_canonical_form
from fastavro.validation import ValidationError, validate

from schemas.codec_errors import (
    CodecError,
    IncompatibleSchemas,
    InvalidRecord,
    NoRegistry,
    NotSingleObjectEncoded,
    Registry,
    RegistryUnavailable,
    SchemaFileError,
    TruncatedBody,
    UndecodableBody,
    UnknownSchema,
)

__all__ = [
    "CodecError",
    "Decoded",
    "IncompatibleSchemas",
    "InvalidRecord",
    "NoRegistry",
    "NotSingleObjectEncoded",
    "Registry",
    "RegistryUnavailable",
    "SchemaFileError",
    "SchemaStore",
    "TruncatedBody",
    "UndecodableBody",
    "UnknownSchema",
    "default_store",
    "short_name",
]

NAMESPACE: Final = "zhuzhou.referrals"
SCHEMA_DIR: Final = Path(__file__).resolve().parent
MARKER: Final = b"\xc3\x01"
HEADER_SIZE: Final = len(MARKER) + 8
CONFLUENT_MAGIC: Final = b"\x00"
CONFLUENT_HEADER_SIZE: Final = 5


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded event: schema name (short for our namespace), record, writer fingerprint."""

    name: str
    record: dict[str, Any]
    fingerprint: bytes


@dataclass(frozen=True, slots=True)
class _Entry:
    fullname: str
    name: str
    schema: dict[str, Any]
    fingerprint: bytes
    field_names: frozenset[str]
    timestamp_fields: tuple[str, ...]


def short_name(fullname: str) -> str:
    """The name without our namespace; names from other namespaces stay full."""
    prefix = NAMESPACE + "."
    return fullname[len(prefix) :] if fullname.startswith(prefix) else fullname


def _full_name(name: str) -> str:
    return name if "." in name else f"{NAMESPACE}.{name}"


def _is_timestamp(field_type: Any) -> bool:
    branches = field_type if isinstance(field_type, list) else [field_type]
    return any(
        isinstance(b, dict) and b.get("logicalType", "").startswith("timestamp-") for b in branches
    )


def _load_entry(path: Path) -> _Entry:
    try:
        loaded = load_schema(str(path))
        canonical = to_parsing_canonical_form(loaded)
    except Exception as e:
        # fastavro raises several unrelated types here (repository, parse, unknown type, OS)
        raise SchemaFileError(f"cannot load schema {path}: {type(e).__name__}: {_brief(e)}") from e
    if not isinstance(loaded, dict) or loaded.get("name") != path.name.removesuffix(".avsc"):
        raise SchemaFileError(
            f"{path} must define one named type called {path.name.removesuffix('.avsc')!r}"
        )
    return _entry(loaded, canonical)


def _entry(parsed: dict[str, Any], canonical: str) -> _Entry:
    fields = parsed.get("fields", [])
    return _Entry(
        fullname=parsed["name"],
        name=short_name(parsed["name"]),
        schema=parsed,
        # fastavro gives the little-endian fingerprint bytes as a hex string
        fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
        field_names=frozenset(f["name"] for f in fields),
        timestamp_fields=tuple(f["name"] for f in fields if _is_timestamp(f["type"])),
    )


def _load_entries(path: Path) -> list[_Entry]:
    paths = sorted(path.glob("*.avsc")) if path.is_dir() else [path]
    if not paths:
        raise SchemaFileError(f"no .avsc files in {path}")
    return [_load_entry(p) for p in paths]


def _brief(error: BaseException) -> str:
    # fastavro puts whole schemas into some messages; keep ours to one readable line
    text = " ".join(str(error).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _describe_validation(entry: _Entry, error: ValidationError) -> str:
    # fastavro reports every union branch it tried; the last error is the innermost one
    data = error.errors[-1]
    field = data.field.removeprefix(entry.fullname + ".")
    field = short_name(field) if field else entry.name
    expected = data.schema
    if isinstance(expected, dict):
        expected = expected.get("logicalType") or (
            f"one of {', '.join(expected['symbols'])}"
            if expected.get("type") == "enum"
            else short_name(str(expected.get("name", expected.get("type"))))
        )
    got = (
        "missing or null"
        if data.datum is None
        else f"{data.datum!r:.60} ({type(data.datum).__name__})"
    )
    return f"cannot encode {entry.name}: field {field} is {got}, expected {expected}"


class SchemaStore:
    """The schemas of one folder by name, plus every known version by fingerprint."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        extra: Iterable[Path] = (),
        registry: Registry | None = None,
    ) -> None:
        self._directory = directory or SCHEMA_DIR
        self._extra = tuple(extra)
        self.registry = registry
        self._by_id: dict[int, _Entry] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._by_name: dict[str, _Entry] = {}
        self._by_fingerprint: dict[bytes, _Entry] = {}
        for entry in _load_entries(self._directory):
            self._by_name[entry.fullname] = entry
            self._by_fingerprint[entry.fingerprint] = entry
        for path in self._extra:
            for entry in _load_entries(path):
                # identical canonical forms read identically, so the current version may stay
                self._by_fingerprint.setdefault(entry.fingerprint, entry)

    @property
    def directory(self) -> Path:
        """The folder the current schemas come from."""
        return self._directory

    def with_extra(self, path: Path) -> SchemaStore:
        """A store that also decodes data written with the schemas at `path` (file or folder)."""
        return SchemaStore(self._directory, extra=(*self._extra, path), registry=self.registry)

    def names(self) -> list[str]:
        """The current schemas' names, sorted."""
        return sorted(e.name for e in self._by_name.values())

    def schema(self, name: str) -> dict[str, Any]:
        """The parsed current schema called `name` (short or full); do not mutate it."""
        return self._entry(name).schema

    def fingerprint(self, name: str) -> bytes:
        """The 8 fingerprint bytes exactly as they appear in the header."""
        return self._entry(name).fingerprint

    def encode(self, name: str, record: Mapping[str, Any], *, check: bool = True) -> bytes:
        """Single-object encoding of `record` with the current schema `name`.

        ``check=False`` skips fastavro's validation for records the pipeline builds itself
        (snapshots, dead letters): it cost the worker 14 % of its time, mostly building the
        ValidationErrors of union branches that did not match; the writer still refuses
        what it cannot write.
        """
        entry = self._entry(name)
        unknown = record.keys() - entry.field_names
        if unknown:
            raise InvalidRecord(
                f"cannot encode {entry.name}: it has no field {', '.join(sorted(unknown))}"
            )
        for field in entry.timestamp_fields:
            value = record.get(field)
            if isinstance(value, datetime) and value.tzinfo is None:
                # fastavro would silently take a naive time as UTC; ours are Asia/Shanghai
                raise InvalidRecord(
                    f"cannot encode {entry.name}: field {field} is a naive datetime {value}; "
                    "give it a timezone"
                )
        if check:
            try:
                validate(record, entry.schema, raise_errors=True)
            except ValidationError as e:
                raise InvalidRecord(_describe_validation(entry, e)) from e
        return _body(entry, record, MARKER + entry.fingerprint)

    def encode_confluent(
        self, name: str, record: Mapping[str, Any], subject: str, *, check: bool = True
    ) -> bytes:
        """Confluent's framing of ``record`` with the current schema ``name``, registered
        under ``subject`` (once per store) so Confluent's deserializers can read it."""
        entry = self._entry(name)
        schema_id = self._ids.get((subject, entry.fullname))
        if schema_id is None:
            schema_id = self._register(subject, entry)
            self._ids[(subject, entry.fullname)] = schema_id
        framed = self.encode(name, record, check=check)
        return CONFLUENT_MAGIC + schema_id.to_bytes(4, "big") + framed[HEADER_SIZE:]

    def _register(self, subject: str, entry: _Entry) -> int:
        from schemas.registry import register

        registry = self._need_registry(f"register {entry.name}")
        return register(registry, subject, self.standalone(entry.name))

    def standalone(self, name: str) -> dict[str, Any]:
        """The current schema ``name`` as plain JSON with every type it uses written inline,
        as a registry stores it and a partner compiles it."""
        plain: dict[str, Any] = _plain(self._entry(name).schema)
        return plain

    def decode(self, data: bytes, reader: str | None = None) -> Decoded:
        """Decode with the writer schema the header names, resolved into `reader` if given."""
        if len(data) >= CONFLUENT_HEADER_SIZE and data[:1] == CONFLUENT_MAGIC:
            writer, start = self._confluent_writer(int.from_bytes(data[1:5], "big")), 5
        elif len(data) >= HEADER_SIZE and data[:2] == MARKER:
            writer, start = self._known_writer(bytes(data[2:HEADER_SIZE])), HEADER_SIZE
        else:
            raise NotSingleObjectEncoded(
                f"not Avro single-object encoded: expected {HEADER_SIZE}+ bytes starting "
                f"{MARKER.hex(' ')}, got {len(data)} bytes starting {data[:4].hex(' ') or '(none)'}"
            )
        fp = writer.fingerprint
        target = writer if reader is None else self._entry(reader)
        # same fingerprint: skip resolution, which halves fastavro's read speed
        reader_schema = None if target.fingerprint == writer.fingerprint else target.schema
        buf = BytesIO(data)
        buf.seek(start)
        try:
            record = schemaless_reader(buf, writer.schema, reader_schema)
        except EOFError as e:
            raise TruncatedBody(
                f"{writer.name} body ends early ({len(data)} bytes): {_brief(e)}"
            ) from e
        except SchemaResolutionError as e:
            raise IncompatibleSchemas(
                f"cannot read {writer.name} ({fp.hex()}) as {target.name}: {_brief(e)}"
            ) from e
        except Exception as e:
            raise UndecodableBody(
                f"{writer.name} body does not decode: {type(e).__name__}: {_brief(e)}"
            ) from e
        left = len(data) - buf.tell()
        if left:
            raise UndecodableBody(f"{left} bytes left over after the {writer.name} record")
        if not isinstance(record, dict):
            raise UndecodableBody(f"{writer.name} is not a record schema; got {record!r:.80}")
        return Decoded(target.name, record, fp)

    def _known_writer(self, fp: bytes) -> _Entry:
        writer = self._by_fingerprint.get(fp)
        if writer is None:
            raise UnknownSchema(
                f"no known schema has fingerprint {fp.hex()}; register the writer's schema "
                "with SchemaStore.with_extra()"
            )
        return writer

    def _confluent_writer(self, schema_id: int) -> _Entry:
        """The writer schema of a registry id: one of ours when its canonical form is, or
        the registry's own text (a partner's other version), fetched once."""
        entry = self._by_id.get(schema_id)
        if entry is None:
            from schemas.registered import registered_schema
            from schemas.registry import fetch

            registry = self._need_registry(f"read schema id {schema_id}")
            parsed, canonical = registered_schema(lambda: fetch(registry, schema_id), schema_id)
            entry = _entry(parsed, canonical)
            entry = self._by_fingerprint.get(entry.fingerprint, entry)
            self._by_id[schema_id] = entry
        return entry

    def _need_registry(self, what: str) -> Registry:
        if self.registry is None:
            raise NoRegistry(
                f"cannot {what}: Confluent wire format needs a schema registry; "
                "set REFERRALS_SCHEMA_REGISTRY"
            )
        return self.registry

    def _entry(self, name: str) -> _Entry:
        entry = self._by_name.get(_full_name(name))
        if entry is None:
            raise UnknownSchema(
                f"no schema called {name!r} in {self._directory}; known: {', '.join(self.names())}"
            )
        return entry


def _plain(value: Any) -> Any:
    # fastavro's parsed schemas carry its own bookkeeping under "__" keys
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if not k.startswith("__")}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _body(entry: _Entry, record: Mapping[str, Any], header: bytes) -> bytes:
    buf = BytesIO()
    buf.write(header)
    try:
        schemaless_writer(buf, entry.schema, record)
    except (TypeError, ValueError, OverflowError) as e:
        raise InvalidRecord(f"cannot encode {entry.name}: {_brief(e)}") from e
    return buf.getvalue()


@functools.cache
def default_store() -> SchemaStore:
    """The store of the shipped schemas, loaded once per process, with the schema registry
    of REFERRALS_SCHEMA_REGISTRY when it is set (the client is made at first use)."""
    from schemas.registry import registry_for
    from streams.settings import Settings

    return SchemaStore(registry=registry_for(Settings.from_env().schema_registry))
