"""A writer schema fetched from the schema registry, parsed and bounded: refused when its
records could cost unbounded work or stack to decode, whatever their length.

The registry holds what partners registered, so its schemas are input like any other.
fastavro's compiled reader recurses once per level of nesting without Python's recursion
check: a record that holds itself (``Node {next: ["null", Node]}``), fed 5 000 one-byte
levels, crashed the process with a segmentation fault. An array of items that take no
bytes (``null``, an empty record) declares its length in a few bytes and decodes to
billions of items. Our own schemas are neither, and no schema a partner needs is either:
its records must resolve into ours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from fastavro import parse_schema
from fastavro.schema import to_parsing_canonical_form

from schemas.codec_errors import CodecError, UnknownSchema

# Our deepest record (a snapshot's referral's evidence item) is six levels down.
MAX_DEPTH: Final = 32


def registered_schema(fetch: Callable[[], Any], schema_id: int) -> tuple[dict[str, Any], str]:
    """The parsed schema ``fetch`` gets for ``schema_id``, and its canonical form; refused
    (UnknownSchema) unless it is a record schema whose records are bounded to decode."""
    named: dict[str, Any] = {}
    try:
        parsed = parse_schema(fetch(), named_schemas=named, _write_hint=False)
        canonical = to_parsing_canonical_form(parsed)
        why = why_unbounded(parsed, named)
    except CodecError:
        raise
    except Exception as e:  # the registry's text is input: any parse failure, even recursion
        brief = " ".join(str(e).split())[:120]
        raise UnknownSchema(
            f"schema id {schema_id} is not a schema we can read: {type(e).__name__}: {brief}"
        ) from e
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        raise UnknownSchema(f"schema id {schema_id} is not an Avro record schema")
    if why is not None:
        raise UnknownSchema(f"schema id {schema_id} is refused: {why}")
    return parsed, canonical


def why_unbounded(schema: Any, named: Mapping[str, Any]) -> str | None:
    """Why records of the parsed ``schema`` (fastavro's form, ``named`` its named types
    by full name) could be unbounded to decode, or None."""
    walk = _Walk(named)
    try:
        height = walk.height(schema, ())
    except _Unbounded as e:
        return e.why
    return f"it nests {height} levels deep, over {MAX_DEPTH}" if height > MAX_DEPTH else None


class _Unbounded(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class _Walk:
    """Heights and emptiness of named types, each computed once: a schema may name a type
    many times, and walking it again each time is exponential in the schema's depth."""

    def __init__(self, named: Mapping[str, Any]) -> None:
        self.named = named
        self.heights: dict[str, int] = {}
        self.empty: dict[str, bool] = {}

    def height(self, schema: Any, inside: tuple[str, ...]) -> int:
        """How many levels a value of ``schema`` nests (what the reader recurses through)."""
        if isinstance(schema, list):
            return 1 + max((self.height(b, inside) for b in schema), default=0)
        if isinstance(schema, str):
            if schema in inside:
                raise _Unbounded(f"{schema} contains itself")
            if schema in self.heights or schema not in self.named:
                return self.heights.get(schema, 0)
            schema = self.named[schema]
        if not isinstance(schema, dict):
            return 0
        kind = schema.get("type")
        if kind in ("record", "error"):
            name = schema["name"]
            if name in inside:
                raise _Unbounded(f"{name} contains itself")
            fields = [self.height(f["type"], (*inside, name)) for f in schema["fields"]]
            self.heights[name] = 1 + max(fields, default=0)
            return self.heights[name]
        if kind == "array":
            height = 1 + self.height(schema["items"], inside)
            if self.takes_no_bytes(schema["items"]):
                raise _Unbounded("it has an array of items that take no bytes")
            return height
        if kind == "map":
            return 1 + self.height(schema["values"], inside)
        return 0

    def takes_no_bytes(self, schema: Any) -> bool:
        """Whether a value of ``schema`` can be written in no bytes at all; only asked of
        schemas ``height`` has walked, so with no type inside itself."""
        if isinstance(schema, str):
            if schema == "null":
                return True
            if schema not in self.named:
                return False
            if schema not in self.empty:
                self.empty[schema] = self.takes_no_bytes(self.named[schema])
            return self.empty[schema]
        if not isinstance(schema, dict):
            return False  # a union writes its branch's index
        kind = schema.get("type")
        if kind in ("record", "error"):
            return all(self.takes_no_bytes(f["type"]) for f in schema["fields"])
        return kind == "null" or (kind == "fixed" and schema.get("size") == 0)
