"""The codec's errors and what it needs of a schema registry; schemas/codec.py draws the
tree and re-exports every name, so callers import them from there."""

from __future__ import annotations

from typing import Any, Protocol

from streams.errors import ReferralsError


class CodecError(ReferralsError):
    """Root of every error raised by this module (a branch of streams.errors' tree)."""


class SchemaFileError(CodecError):
    """An .avsc file is missing, malformed or names a type it does not define."""


class NotSingleObjectEncoded(CodecError):
    """The bytes do not start with the single-object header."""


class NoRegistry(NotSingleObjectEncoded):
    """Confluent-framed bytes reached a store that has no schema registry."""


class UnknownSchema(CodecError):
    """The fingerprint, registry schema id or schema name is not known."""


class RegistryUnavailable(CodecError):
    """The schema registry did not answer (after its client's own retries)."""


class Registry(Protocol):
    """What the store needs of a schema registry client; confluent-kafka's
    ``SchemaRegistryClient`` (and its ``mock://`` stand-in) is one."""

    def get_schema(self, schema_id: int) -> Any:
        """The registered schema: ``.schema_str``, ``.schema_type``, ``.references``."""

    def register_schema(self, subject_name: str, schema: Any) -> int:
        """The id of ``schema`` under ``subject_name``, registering it if new."""


class InvalidRecord(CodecError):
    """A record does not fit the schema it is encoded with."""


class IncompatibleSchemas(CodecError):
    """Data written with one schema cannot be resolved into the requested reader schema."""


class UndecodableBody(CodecError):
    """The Avro body does not parse under the writer schema its header names."""


class TruncatedBody(UndecodableBody):
    """The Avro body ends before the record does."""
