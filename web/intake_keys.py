"""The HTTP intake's API keys: one or two per agency, kept hashed in a TOML file.

::

    # REFERRALS_API_KEYS=/etc/referrals/api-keys.toml
    [agencies.HOUSING]
    keys = ["sha256:9f86d0…", "sha256:60303a…"]   # the current key and the next one

Two keys at once let an agency rotate: add the new key's hash, let the agency switch,
remove the old hash. Keys are 256 random bits (``referrals keys new``), so one SHA-256 is
enough to keep the file useless to a reader; a slow password hash would protect guessable
secrets, which these are not, and would cost every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from streams import topics
from streams.errors import ConfigurationError

SCHEME: Final = "sha256:"
MAX_KEYS: Final = 2


def new_api_key() -> str:
    """A fresh key: 256 random bits, URL-safe."""
    return "rk_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    """The form a key is stored in."""
    return SCHEME + hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class Caller:
    """Who presented a valid key: the agency, and which key (its hash) for rate limits."""

    agency: str
    key_hash: str


class ApiKeys:
    """The agencies' key hashes; ``caller`` answers who a presented key belongs to."""

    def __init__(self, by_agency: dict[str, list[str]]) -> None:
        self._entries = [(h, agency) for agency, hashes in by_agency.items() for h in hashes]

    def caller(self, key: str | None) -> Caller | None:
        if not key:
            return None
        presented = hash_key(key)
        found = None
        for stored, agency in self._entries:
            # compare every entry, so the time taken does not tell which one matched
            if hmac.compare_digest(stored, presented):
                found = Caller(agency, stored)
        return found


def load_api_keys(path: Path | None) -> ApiKeys:
    """Read REFERRALS_API_KEYS; a missing file means no agency can post."""
    if path is None:
        return ApiKeys({})
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigurationError(f"API keys file {path}: {e}") from e
    return ApiKeys(_parse(data, path))


def _parse(data: dict[str, Any], path: Path) -> dict[str, list[str]]:
    agencies = data.get("agencies", {})
    if not isinstance(agencies, dict):
        raise ConfigurationError(f"{path}: [agencies] must be a table of agencies")
    out: dict[str, list[str]] = {}
    for agency, entry in agencies.items():
        if agency not in topics.REFERRAL_TOPICS:
            known = ", ".join(topics.REFERRAL_TOPICS)
            raise ConfigurationError(f"{path}: unknown agency {agency!r}; one of {known}")
        hashes = entry.get("keys") if isinstance(entry, dict) else None
        if not isinstance(hashes, list) or not 1 <= len(hashes) <= MAX_KEYS:
            raise ConfigurationError(
                f"{path}: [agencies.{agency}] keys must list one or two key hashes"
            )
        for h in hashes:
            if not (isinstance(h, str) and h.startswith(SCHEME) and len(h) == len(SCHEME) + 64):
                raise ConfigurationError(
                    f"{path}: [agencies.{agency}] {h!r} is not a key hash; "
                    "make one with `referrals keys hash`"
                )
        out[agency] = hashes
    return out
