"""Every error the pipeline raises, split by what the pipeline does with it.

ReferralsError
├── ConfigurationError        refused at start: a bad setting, organisation or rubric file
├── RetryableError            a broker or database is unreachable: try again, never drop
└── Rejected                  the event is dead-lettered with ``reason`` and ``code``
    ├── Undecodable           the bytes are not an Avro single-object record we know
    ├── SchemaViolation       the record breaks its schema or the JSONL format
    ├── UnknownPlace          the district or street is not in the organisation
    ├── ImpossibleValue       a negative amount, a time before 2000 or in the future
    ├── InvalidTransition     the case's state does not allow the event
    └── Unmatched             nothing the event refers to arrived before the wait ended
"""

from __future__ import annotations


class ReferralsError(Exception):
    """Root of the pipeline's own errors."""


class ConfigurationError(ReferralsError):
    """A setting or configuration file is wrong; the pipeline refuses to start."""


class RetryableError(ReferralsError):
    """An outside system failed in a way that may pass; the event must be retried."""


class Rejected(ReferralsError):
    """The event cannot be applied and goes to the dead-letter topic."""

    code = "rejected"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Undecodable(Rejected):
    """The bytes are not a record the codec can read."""

    code = "undecodable"


class SchemaViolation(Rejected):
    """The record breaks its schema or the batch-input format."""

    code = "schema"


class UnknownPlace(Rejected):
    """The district or street is not in the organisation file."""

    code = "unknown_place"


class ImpossibleValue(Rejected):
    """A value no real event can carry: a negative amount or an impossible time."""

    code = "impossible_value"


class InvalidTransition(Rejected):
    """The case's state at the event's time does not allow the event."""

    code = "invalid_transition"


class Unmatched(Rejected):
    """The case, referral or decision the event names never arrived."""

    code = "unmatched"
