"""Step 1 at the door: raw Kafka bytes in, an admitted event or a dead letter out.

This is the one function that decides whether an incoming record is dead-lettered; the
agent only moves bytes in and messages out. Whatever the bytes, it returns: a record over
MAX_EVENT_BYTES is refused before it is decoded, and a dead letter never carries more of
it than COPY_BYTES (the whole record stays at its topic offset).
"""

from __future__ import annotations

from datetime import datetime

from schemas.codec import CodecError, SchemaStore
from schemas.jsonl import SCHEMA_TO_KIND, record_to_json
from streams.deadletters.letters import DeadLetter
from streams.errors import Oversized, Rejected, SchemaViolation, Undecodable
from streams.events import Referral, parse_event
from streams.intake.rules import COPY_BYTES, MAX_EVENT_BYTES, check_size, copy_kept, validate
from streams.messages import Admitted, Source
from streams.organisation import Organisation


def admit(
    raw: bytes, source: Source, store: SchemaStore, org: Organisation, now: datetime
) -> Admitted | DeadLetter:
    """Decode, check and address one incoming record, or say why it is dead-lettered."""
    try:
        if len(raw) > MAX_EVENT_BYTES:
            where = f"the whole record stays at {source.event_id} while the topic keeps it"
            check_size(len(raw), copy_kept(where))
        decoded = store.decode(raw)
        if decoded.name not in SCHEMA_TO_KIND:
            raise SchemaViolation(f"a {decoded.name} record is not an input event")
        if decoded.fingerprint != store.fingerprint(decoded.name):
            # A writer schema of a partner's (via the registry) or an older version of
            # ours: read it as our current one, whose fields the rest of the code expects.
            decoded = store.decode(raw, reader=decoded.name)
        record = record_to_json(decoded.name, decoded.record, store)
        event = parse_event(record)
        validate(event, org, now)
    except Oversized as e:
        return DeadLetter.of(e, source, raw[:COPY_BYTES])
    except CodecError as e:
        return DeadLetter.of(Undecodable(str(e)), source, raw)
    except Rejected as e:
        return DeadLetter.of(e, source, raw)
    if isinstance(event, Referral):
        alias = f"ref:{event.key}"
    else:
        ref = event.ref
        alias = f"case:{ref.case_id}" if ref.case_id else f"ref:{ref.referral}"
    return Admitted(
        alias=alias,
        event_id=source.event_id,
        record=record,
        source=source,
        received_ms=int(now.timestamp() * 1000),
    )
