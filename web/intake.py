"""The HTTP intake, for agencies without a Kafka client: ``POST /api/v1/referrals`` and
``GET /api/v1/referrals/{referral_id}``, as a FastAPI router the bureau's app includes
(``include_intake(app, settings)``).

A request is answered in this order, and nothing is sent or stored before the last step:
key (401) → rate (429) → size (413) → JSON or Avro (400) → the key's agency (403) →
schema and intake rules (422, with field paths) → the same version accepted before (200,
its original receipt) → sent to the agency's topic and acknowledged → kept (202).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from consumers.publisher import Delivery, Outgoing
from consumers.receipt_store import status_of
from consumers.vetting import Vetted, check_referral, check_referral_bytes
from schemas.codec import SchemaStore, default_store
from schemas.jsonl import parse_json
from streams.errors import RecordRefused
from streams.organisation import Organisation
from web.intake_errors import IntakeError, field_location, intake_error_handler
from web.intake_keys import ApiKeys, Caller
from web.intake_limits import RateLimit
from web.intake_store import accepted, keep_receipt, receipt_for

PREFIX = "/api/v1/referrals"
AVRO_TYPES = ("application/vnd.apache.avro+binary", "application/avro", "application/octet-stream")
Sender = Callable[[Outgoing], Delivery]
_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the agency's API key")
Key = Annotated[str | None, Depends(_key_header)]

_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"description": "the body is not JSON (or not Avro)"},
    401: {"description": "missing or unknown API key"},
    403: {"description": "the referral is another agency's"},
    413: {"description": "the body is over the size limit"},
    422: {"description": "schema or rule errors, each with its field path"},
    429: {"description": "too many requests for this key; see Retry-After"},
}
_BODY = {
    "requestBody": {
        "required": True,
        "description": "one referral: JSON as a line of the JSONL format (`kind` and "
        "`agency` may be left out), or Avro single-object (or Confluent-framed) bytes",
        "content": {
            "application/json": {"schema": {"type": "object"}},
            AVRO_TYPES[0]: {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


class Intake:
    """What the routes work with; made once per app."""

    def __init__(
        self,
        *,
        keys: ApiKeys,
        org: Organisation,
        engine: Engine,
        send: Sender,
        max_bytes: int,
        limit: RateLimit,
        store: SchemaStore | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.keys, self.org, self.engine, self.send = keys, org, engine, send
        self.max_bytes, self.limit, self.clock = max_bytes, limit, clock
        self.store = store or default_store()

    def caller(self, key: str | None) -> Caller:
        caller = self.keys.caller(key)
        if caller is None:
            raise IntakeError(401, "missing or unknown API key (header X-API-Key)")
        wait = self.limit.wait_for(caller.key_hash)
        if wait > 0:
            raise IntakeError(
                429, "too many requests for this key", headers={"Retry-After": str(math.ceil(wait))}
            )
        return caller

    async def body(self, request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large()
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_bytes:
                raise self._too_large()
        return bytes(body)

    def _too_large(self) -> IntakeError:
        return IntakeError(413, f"the body is over the limit of {self.max_bytes} bytes")

    def vet(self, body: bytes, content_type: str, agency: str) -> Vetted:
        now = self.clock()
        try:
            if content_type.split(";")[0].strip().lower() in AVRO_TYPES:
                return check_referral_bytes(body, agency, self.org, now, self.store)
            try:
                obj = parse_json(body.decode("utf-8"))  # bounded: a deep body is NotJson
            except (ValueError, UnicodeDecodeError) as e:
                raise IntakeError(400, f"the body is not JSON: {e}") from e
            if isinstance(obj, dict) and obj.get("agency", agency) != agency:
                raise IntakeError(403, f"this key publishes {agency}'s referrals only")
            return check_referral(obj, agency, self.org, now, self.store)
        except RecordRefused as e:
            if e.rule == "own_agency":
                raise IntakeError(403, f"this key publishes {agency}'s referrals only") from e
            status = 400 if e.rule == "undecodable" else 422
            raise IntakeError(status, e.message, errors=[field_location(e)]) from e

    def accept(self, vetted: Vetted) -> tuple[int, dict[str, Any]]:
        key = vetted.key
        earlier = receipt_for(self.engine, key.agency, key.referral_id, vetted.content_hash)
        if earlier is not None:
            return 200, earlier
        delivery = self.send(Outgoing(vetted.topic, str(key).encode(), vetted.value))
        if not delivery.ok:
            raise IntakeError(503, "the broker did not acknowledge the referral; send it again")
        now = self.clock()
        receipt = {
            "receipt_id": f"{key}:accepted:{vetted.content_hash[:16]}",
            "referral_key": str(key),
            "status": "ACCEPTED",
            "content_hash": vetted.content_hash,
            "accepted_at": now.isoformat(),
            "status_url": f"{PREFIX}/{key.referral_id}",
        }
        kept = keep_receipt(
            self.engine, key.agency, key.referral_id, vetted.content_hash, receipt, now
        )
        return (202 if kept is receipt else 200), kept

    def status(self, agency: str, referral_id: str) -> dict[str, Any]:
        with Session(self.engine) as session:
            found = status_of(session, agency, referral_id)
        if found is not None:
            return found
        since = accepted(self.engine, agency, referral_id)
        if since is None:
            # the same answer whether it is another agency's or no one's
            raise IntakeError(404, f"no referral {referral_id!r} of yours")
        return {
            "referral_key": f"{agency}:{referral_id}",
            "status": "ACCEPTED",
            "case_id": None,
            "case_no": None,
            "updated_at": since.isoformat(),
            "receipts": [],
        }


def intake_router(intake: Intake) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["partner intake"])

    @router.post("", status_code=202, responses=_REFUSALS, openapi_extra=_BODY)
    async def post_referral(request: Request, key: Key) -> JSONResponse:
        """Refer one lead; 202 with a receipt naming the referral key and its status URL,
        200 with the original receipt when this very version was accepted before."""
        caller = intake.caller(key)
        body = await intake.body(request)
        vetted = intake.vet(body, request.headers.get("content-type", ""), caller.agency)
        status, receipt = intake.accept(vetted)
        return JSONResponse(
            receipt, status_code=status, headers={"Location": receipt["status_url"]}
        )

    @router.get("/{referral_id}", responses={404: {"description": "no such referral of yours"}})
    def get_status(referral_id: str, key: Key) -> dict[str, Any]:
        """What became of one of your referrals: its status and every receipt sent."""
        return intake.status(intake.caller(key).agency, referral_id)

    return router


def include_intake(app: FastAPI, intake: Intake) -> None:
    """Add the intake's routes and its error answers to ``app``."""
    app.include_router(intake_router(intake))
    app.add_exception_handler(IntakeError, intake_error_handler)  # type: ignore[arg-type]
