"""The JSONL batch input format (docs/contract.md, "Batch input: JSONL") to and from Avro records.

Conversion is driven by the Avro schemas, so a field added to an .avsc is accepted here
without code changes. JSON differs from Avro in three places only: a `kind` field names the
schema; lifecycle events and payments name their case by top-level `case_id`, `agency` and
`referral_id` (Avro: the `ref` record); timestamps are ISO 8601 strings with an offset.

Lines come from outside, so reading one is bounded: ``parse_json`` refuses nesting deeper
than any event has before the parser recurses into it, and numbers too long for Python's
int conversion; every message quotes at most a short, encodable excerpt of the input.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from schemas.codec import SchemaStore, default_store, short_name
from streams.errors import ReferralsError

KIND_TO_SCHEMA: Final[Mapping[str, str]] = MappingProxyType(
    {
        "referral": "Referral",
        "case_filed": "CaseFiled",
        "case_rejected": "CaseRejected",
        "case_decided": "CaseDecided",
        "feedback_sent": "FeedbackSent",
        "case_closed": "CaseClosed",
        "payment": "Payment",
    }
)
SCHEMA_TO_KIND: Final[Mapping[str, str]] = MappingProxyType(
    {v: k for k, v in KIND_TO_SCHEMA.items()}
)
REF_FIELDS: Final = ("case_id", "agency", "referral_id")
BLOCK_AGENCY: Final[Mapping[str, str]] = MappingProxyType(
    {"housing": "HOUSING", "traffic": "TRAFFIC_POLICE", "environment": "ENVIRONMENT"}
)
_MISSING: Final = object()
_LONG = (-(2**63), 2**63 - 1)
_INT = (-(2**31), 2**31 - 1)
# The deepest event is three levels (a referral's evidence item); json's parser, and the
# converter after it, recurse once per level, so a line of 200 000 "[" must stop here.
MAX_JSON_DEPTH: Final = 16
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_PAIR = re.compile(r"\[\]|\{\}")


class InputError(ReferralsError, ValueError):
    """A JSON object that is not a valid event; the message names the kind and the field.

    ``field`` is the offending field's JSON path ("housing.permit_no", "evidence[0].uri";
    "" for the whole object) and ``rule`` what it breaks: type, enum, timestamp, required,
    unknown_field or agency_block.
    """

    def __init__(self, message: str, *, field: str = "", rule: str = "type") -> None:
        super().__init__(message)
        self.field = field
        self.rule = rule


class NotJson(InputError):
    """The line is not a JSON text this reader takes: malformed, nested deeper than
    MAX_JSON_DEPTH, or holding a number too long to convert."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="", rule="json")


def parse_json(text: str) -> Any:
    """The JSON value of one line; raises NotJson instead of recursing without bound."""
    if _nested_too_deep(text):
        raise NotJson(f"its brackets nest deeper than {MAX_JSON_DEPTH} levels or do not match")
    try:
        return json.loads(text)
    except ValueError as e:  # JSONDecodeError, and int() refusing over 4300 digits
        raise NotJson(_brief(str(e))) from None


def _nested_too_deep(text: str) -> bool:
    if text.count("[") + text.count("{") <= MAX_JSON_DEPTH:
        return False
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    for _ in range(MAX_JSON_DEPTH):
        brackets, removed = _PAIR.subn("", brackets)
        if not brackets:
            return False
        if not removed:
            break
    return True


def _brief(text: str, limit: int = 120) -> str:
    """One line of at most ``limit`` characters that UTF-8 can encode (JSON's \\ud800
    escapes give strings with lone surrogates, which no Avro string may hold)."""
    cut = len(text) > limit * 2
    text = " ".join(text[: limit * 2].split())
    if cut or len(text) > limit:
        text = text[: limit - 3] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _show(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except (ValueError, RecursionError):  # a value built by hand, not parsed by parse_json
        text = f"a {type(value).__name__}"
    return _brief(text, 60)


class _Converter:
    """Walks one parsed schema; `where` prefixes every error message."""

    def __init__(self, schema: dict[str, Any], where: str) -> None:
        self.named: dict[str, Any] = schema.get("__named_schemas", {})
        self.where = where

    def fail(self, path: str, expected: str, value: Any, rule: str = "type") -> InputError:
        return InputError(
            f"{self.where}: field '{path}' must be {expected}, got {_show(value)}",
            field=path,
            rule=rule,
        )

    def convert(self, value: Any, schema: Any, path: str) -> Any:
        if isinstance(schema, str) and schema in self.named:
            schema = self.named[schema]
        if isinstance(schema, list):
            return self.union(value, schema, path)
        if isinstance(schema, dict):
            kind = schema["type"]
            if schema.get("logicalType", "").startswith("timestamp-"):
                return self.timestamp(value, path)
            if kind == "record":
                return self.record(value, schema, path)
            if kind == "enum":
                if value not in schema["symbols"]:
                    raise self.fail(path, f"one of {', '.join(schema['symbols'])}", value, "enum")
                return value
            if kind == "array":
                if not isinstance(value, list):
                    raise self.fail(path, "a list", value)
                return [
                    self.convert(v, schema["items"], f"{path}[{i}]") for i, v in enumerate(value)
                ]
            schema = kind
        return self.primitive(value, schema, path)

    def union(self, value: Any, branches: list[Any], path: str) -> Any:
        if value is None and "null" in branches:
            return None
        others = [b for b in branches if b != "null"]
        for branch in others[:-1]:
            try:
                return self.convert(value, branch, path)
            except InputError:
                continue
        return self.convert(value, others[-1], path)

    def record(self, value: Any, schema: dict[str, Any], path: str) -> dict[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(path, "an object", value)
        prefix = f"{path}." if path else ""
        names = {f["name"] for f in schema["fields"]}
        unknown = sorted(set(value) - names)
        if unknown:
            field = _brief(prefix + unknown[0], 60)
            raise InputError(
                f"{self.where}: unknown field '{field}'; "
                f"{short_name(schema['name'])} has {', '.join(sorted(names))}",
                field=field,
                rule="unknown_field",
            )
        out: dict[str, Any] = {}
        for field in schema["fields"]:
            name = field["name"]
            # JSON writes the case reference's fields at the top level; errors name them there
            sub = "" if name == "ref" and not path else prefix + name
            if name in value:
                out[name] = self.convert(value[name], field["type"], sub)
            elif "default" in field:
                default = field["default"]
                out[name] = list(default) if isinstance(default, list) else default
            else:
                raise InputError(f"{self.where}: missing field '{sub}'", field=sub, rule="required")
        return out

    def timestamp(self, value: Any, path: str) -> datetime:
        expected = "an ISO 8601 timestamp with an offset, e.g. 2022-03-01T09:30:00+08:00"
        if not isinstance(value, str):
            raise self.fail(path, expected, value, "timestamp")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise self.fail(path, expected, value, "timestamp") from None
        if parsed.tzinfo is None:
            raise self.fail(path, expected, value, "timestamp")
        return parsed

    def primitive(self, value: Any, kind: str, path: str) -> Any:
        if kind in ("int", "long"):
            lo, hi = _INT if kind == "int" else _LONG
            if isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi:
                return value
            what = "an integer number of fen" if path.endswith("_fen") else f"an Avro {kind}"
            raise self.fail(path, what, value)
        if kind in ("float", "double"):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            if ok and math.isfinite(value):
                return float(value)
            raise self.fail(path, "a finite number", value)
        if kind == "string" and isinstance(value, str):
            if not value.isascii() and not _encodable(value):
                raise self.fail(path, "text (it has a lone surrogate, \\ud800 to \\udfff)", value)
            return value
        if kind == "boolean" and isinstance(value, bool):
            return value
        if kind == "null" and value is None:
            return None
        if kind == "bytes" and isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except ValueError:
                raise self.fail(path, "base64 text", value) from None
        raise self.fail(
            path, {"string": "a string", "boolean": "true or false"}.get(kind, kind), value
        )


def _lift_ref(kind: str, obj: dict[str, Any]) -> None:
    """Move the top-level case reference of a lifecycle event or payment into `ref`."""
    if "ref" in obj:
        raise InputError(
            f"{kind}: name the case by top-level 'case_id' or 'agency' + 'referral_id'",
            field="ref",
            rule="unknown_field",
        )
    ref: dict[str, Any] = {k: obj.pop(k) for k in REF_FIELDS if k in obj}
    if ref.get("case_id") is None:
        have = [k for k in ("agency", "referral_id") if ref.get(k) is not None]
        if not have:
            raise InputError(
                f"{kind}: missing field 'case_id' (or 'agency' and 'referral_id')",
                field="case_id",
                rule="required",
            )
        if len(have) == 1:
            needed = "referral_id" if have == ["agency"] else "agency"
            raise InputError(
                f"{kind}: missing field '{needed}' (needed with '{have[0]}' without 'case_id')",
                field=needed,
                rule="required",
            )
    obj["ref"] = ref


def _check_blocks(record: dict[str, Any]) -> None:
    for block, agency in BLOCK_AGENCY.items():
        if record.get(block) is not None and record["agency"] != agency:
            raise InputError(
                f"referral: field '{block}' is the {agency} block, "
                f"but the referral is from {record['agency']}",
                field=block,
                rule="agency_block",
            )


def record_from_json(
    obj: Mapping[str, Any], store: SchemaStore | None = None
) -> tuple[str, dict[str, Any]]:
    """(schema short name, Avro-ready record) for one JSONL object; raises InputError."""
    if not isinstance(obj, Mapping):
        raise InputError(f"expected a JSON object, got {_show(obj)}", field="", rule="type")
    kind = obj.get("kind", _MISSING)
    if kind is _MISSING:
        raise InputError(
            f"missing field 'kind' (one of {', '.join(KIND_TO_SCHEMA)})",
            field="kind",
            rule="required",
        )
    if not isinstance(kind, str) or kind not in KIND_TO_SCHEMA:
        raise InputError(
            f"unknown kind {_show(kind)}; expected one of {', '.join(KIND_TO_SCHEMA)}",
            field="kind",
            rule="enum",
        )
    name = KIND_TO_SCHEMA[kind]
    schema = (store or default_store()).schema(name)
    fields = {k: v for k, v in obj.items() if k != "kind"}
    if any(f["name"] == "ref" for f in schema["fields"]):
        _lift_ref(kind, fields)
    converter = _Converter(schema, kind)
    record = converter.record(fields, schema, "")
    if name == "Referral":
        _check_blocks(record)
    return name, record


def _to_json(value: Any, schema: Any, named: dict[str, Any]) -> Any:
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if value is None:
        return None
    if isinstance(schema, list):
        branch = next(b for b in schema if b != "null") if len(schema) == 2 else None
        return value if branch is None else _to_json(value, branch, named)
    if isinstance(schema, dict):
        if schema.get("logicalType") == "timestamp-millis":
            when = (
                value if isinstance(value, datetime) else datetime.fromtimestamp(value / 1000, UTC)
            )
            when = when.astimezone(UTC)
            return when.isoformat(timespec="milliseconds" if when.microsecond else "seconds")
        if schema["type"] == "record":
            return _record_to_json(value, schema, named)
        if schema["type"] == "array":
            return [_to_json(v, schema["items"], named) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _record_to_json(
    record: Mapping[str, Any], schema: dict[str, Any], named: dict[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in schema["fields"]:
        value = record.get(field["name"])
        # a null that is also the default says nothing; leaving it out keeps lines short
        if value is None and "default" in field and field["default"] is None:
            continue
        out[field["name"]] = _to_json(value, field["type"], named)
    return out


def record_to_json(
    name: str, record: Mapping[str, Any], store: SchemaStore | None = None
) -> dict[str, Any]:
    """The JSONL object for an Avro record: `kind` first, timestamps in UTC, bytes in base64."""
    schema = (store or default_store()).schema(name)
    body = _record_to_json(record, schema, schema.get("__named_schemas", {}))
    kind = SCHEMA_TO_KIND.get(short_name(schema["name"]))
    out: dict[str, Any] = {} if kind is None else {"kind": kind}
    if kind is not None and "ref" in body:
        out.update(body.pop("ref"))
    out.update(body)
    return out
