"""The intake's refusals as HTTP answers: a status, one line saying why, and for a
record's errors the field path of each (``loc`` in FastAPI's own shape)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from streams.errors import RecordRefused, ReferralsError


class IntakeError(ReferralsError):
    """A request the intake refuses, with the HTTP status that says why."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or []
        self.headers = headers or {}


def field_location(refused: RecordRefused) -> dict[str, Any]:
    """``evidence[0].uri`` → ``loc: ["body", "evidence", 0, "uri"]``, with the rule."""
    parts: list[str | int] = [
        int(p) if p.isdigit() else p for p in re.findall(r"[^.\[\]]+", refused.field)
    ]
    return {
        "loc": ["body", *parts],
        "field": refused.field,
        "rule": refused.rule,
        "msg": refused.message,
    }


async def intake_error_handler(request: Request, error: IntakeError) -> JSONResponse:
    body: dict[str, Any] = {"detail": error.message}
    if error.errors:
        body["errors"] = error.errors
    return JSONResponse(body, status_code=error.status, headers=error.headers)
