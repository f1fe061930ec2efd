"""The organisation cases are routed to: city -> districts -> squads -> streets.

The organisation is a file the user edits (format in docs/contract.md), so it is checked in full
when loaded and every problem names the file and the item at fault: nothing downstream has
to cope with a half-valid organisation. A direct squad (直属中队) may also cover streets.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

from streams.errors import ConfigurationError


class OrganisationError(ConfigurationError, ValueError):
    """A problem with the organisation file or with a lookup in it."""


class InvalidOrganisation(OrganisationError):
    """The organisation file cannot be read or breaks a rule."""


class UnknownDistrict(OrganisationError):
    """A district code the organisation does not have."""


class UnknownStreet(OrganisationError):
    """A street code no squad covers."""


class StreetNotInDistrict(UnknownStreet):
    """A known street given with a district it does not belong to."""


@dataclass(frozen=True)
class City:
    code: str
    name: str


@dataclass(frozen=True)
class District:
    code: str
    name: str


@dataclass(frozen=True)
class Squad:
    code: str
    name: str
    district_code: str
    direct: bool
    streets: Mapping[str, str]  # street code -> street name


@dataclass(frozen=True)
class Organisation:
    city: City
    districts: Mapping[str, District]
    squads: Mapping[str, Squad]
    _by_street: Mapping[str, Squad] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_street = {code: squad for squad in self.squads.values() for code in squad.streets}
        object.__setattr__(self, "_by_street", MappingProxyType(by_street))

    def route(self, district_code: str, street_code: str | None) -> Squad:
        """The squad that takes a case: the street's squad, or the direct squad if no street."""
        district = self._district(district_code)
        if street_code is None:
            return self.direct_squad(district_code)
        squad = self._squad_of_street(street_code)
        if squad.district_code != district.code:
            other = self.districts[squad.district_code]
            raise StreetNotInDistrict(
                f"street {street_code} ({squad.streets[street_code]}) belongs to district "
                f"{other.code} {other.name}, not to {district.code} {district.name}"
            )
        return squad

    def direct_squad(self, district_code: str) -> Squad:
        self._district(district_code)
        for squad in self.squads.values():
            if squad.district_code == district_code and squad.direct:
                return squad
        # Only reachable for an Organisation built by hand: loading refuses this.
        raise OrganisationError(f"district {district_code} has no direct squad")

    def squads_of(self, district_code: str) -> list[Squad]:
        self._district(district_code)
        mine = (s for s in self.squads.values() if s.district_code == district_code)
        return sorted(mine, key=lambda s: s.code)

    def district_of_street(self, street_code: str) -> District:
        return self.districts[self._squad_of_street(street_code).district_code]

    def street_name(self, street_code: str) -> str:
        return self._squad_of_street(street_code).streets[street_code]

    def _district(self, district_code: str) -> District:
        district = self.districts.get(district_code)
        if district is None:
            # The reason lands in a dead letter's 2000-character column: name a few only.
            listed = [f"{d.code} {d.name}" for d in self.districts.values()]
            known = ", ".join(listed[:10]) + (
                f" and {len(listed) - 10} more" if listed[10:] else ""
            )
            raise UnknownDistrict(
                f"unknown district {_brief(district_code)}; known districts: {known}"
            )
        return district

    def _squad_of_street(self, street_code: str) -> Squad:
        squad = self._by_street.get(street_code)
        if squad is None:
            raise UnknownStreet(
                f"unknown street {_brief(street_code)}: no squad of the organisation file covers it"
            )
        return squad


# The SQL store's columns: codes are String(64), a unit's name on a scorecard String(100).
MAX_CODE = 64
MAX_NAME = 100
# Far above any city's organisation; a file larger is not read into memory.
MAX_FILE_BYTES = 1024 * 1024
_CITY_KEYS = frozenset({"code", "name"})
_DISTRICT_KEYS = frozenset({"code", "name"})
_SQUAD_KEYS = frozenset({"code", "name", "district", "direct", "streets"})
_TOP_KEYS = frozenset({"city", "district", "squad"})


def parse_organisation(text: str, source: str = "<string>") -> Organisation:
    """Parse and validate an organisation file's text; `source` names it in error messages."""

    def fail(message: str) -> NoReturn:
        raise InvalidOrganisation(f"{source}: {message}")

    def checked(value: object, label: str, allowed: frozenset[str]) -> dict[str, object]:
        if not isinstance(value, dict):
            fail(f"{label} must be a table")
        for key in value:
            if key not in allowed:
                fail(f"{label}: unknown key {_brief(key)} (allowed: {', '.join(sorted(allowed))})")
        for key in ("code", "name"):
            if key not in value:
                fail(f"{label}: missing {key!r}")
        return value

    def string(table: Mapping[str, object], key: str, label: str) -> str:
        value = table[key]
        # An unquoted code such as 430203 parses as an integer; say how to fix it.
        if not isinstance(value, str) or not value.strip():
            fail(f"{label}: {key} must be a non-empty quoted string, got {_brief(value)}")
        limit = MAX_NAME if key == "name" else MAX_CODE
        if len(value) > limit:
            fail(f"{label}: {key} is {len(value)} characters long, over {limit}")
        return value

    def label_of(kind: str, raw: object, index: int) -> str:
        code = raw.get("code") if isinstance(raw, dict) else None
        return f"{kind} {_cut(code)}" if isinstance(code, str) else f"{kind} #{index} (no code)"

    doc = load_toml(text, source, InvalidOrganisation)
    for key in doc:
        if key not in _TOP_KEYS:
            fail(f"unknown top-level key {_brief(key)} (allowed: city, district, squad)")

    if "city" not in doc:
        fail("missing the [city] table")
    city_table = checked(doc["city"], "[city]", _CITY_KEYS)
    city = City(string(city_table, "code", "[city]"), string(city_table, "name", "[city]"))

    raw_districts = doc.get("district")
    if not isinstance(raw_districts, list) or not raw_districts:
        fail("no districts: write each one as a [[district]] table")
    districts: dict[str, District] = {}
    for index, raw in enumerate(raw_districts, start=1):
        label = label_of("district", raw, index)
        table = checked(raw, label, _DISTRICT_KEYS)
        code = string(table, "code", label)
        if code in districts:
            fail(f"district {code} is defined twice; district codes must be unique")
        districts[code] = District(code, string(table, "name", label))

    raw_squads = doc.get("squad")
    if not isinstance(raw_squads, list) or not raw_squads:
        fail("no squads: write each one as a [[squad]] table")
    squads: dict[str, Squad] = {}
    owners: dict[str, list[str]] = {}  # street code -> codes of the squads listing it
    for index, raw in enumerate(raw_squads, start=1):
        label = label_of("squad", raw, index)
        table = checked(raw, label, _SQUAD_KEYS)
        code = string(table, "code", label)
        if code in squads:
            fail(f"squad {code} is defined twice; squad codes must be unique")
        if "district" not in table:
            fail(f"{label}: missing 'district'")
        district_code = string(table, "district", label)
        if district_code not in districts:
            fail(f"{label}: district {district_code} is not defined by any [[district]]")
        direct = table.get("direct", False)
        if not isinstance(direct, bool):
            fail(f"{label}: direct must be true or false, got {direct!r}")
        raw_streets = table.get("streets", {})
        if not isinstance(raw_streets, dict):
            fail(f'{label}: streets must be a table such as {{ "430203001" = "建设街道" }}')
        streets: dict[str, str] = {}
        for street_code in raw_streets:
            if not street_code.strip():
                fail(f"{label}: a street code is empty")
            if len(street_code) > MAX_CODE:
                fail(f"{label}: street code {_brief(street_code)} is over {MAX_CODE} characters")
            streets[street_code] = string(raw_streets, street_code, f"{label}: street")
            owners.setdefault(street_code, []).append(code)
        if not direct and not streets:
            fail(f"{label}: a squad that is not direct must cover at least one street")
        squads[code] = Squad(
            code, string(table, "name", label), district_code, direct, MappingProxyType(streets)
        )

    for street_code, squad_codes in owners.items():
        if len(squad_codes) > 1:
            fail(
                f"street {street_code} is in {len(squad_codes)} squads "
                f"({', '.join(squad_codes)}); each street must be in exactly one"
            )
    for district in districts.values():
        direct_codes = [
            s.code for s in squads.values() if s.district_code == district.code and s.direct
        ]
        if len(direct_codes) != 1:
            found = f"{len(direct_codes)} direct squads" if direct_codes else "no direct squad"
            listed = f" ({', '.join(direct_codes)})" if direct_codes else ""
            fail(
                f"district {district.code} {district.name} has {found}{listed}; "
                "exactly one is required (mark it direct = true)"
            )
    return Organisation(city, MappingProxyType(districts), MappingProxyType(squads))


def load_toml(text: str, source: str, error: type[ConfigurationError]) -> dict[str, Any]:
    """``tomllib.loads``, every failure an ``error`` naming ``source``."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        problem = str(exc)  # tomllib's message carries the line and column
    except RecursionError:  # tomllib recurses once per level of nested arrays and tables
        problem = "arrays or tables nested too deeply"
    except ValueError as exc:  # an integer of more digits than int() converts
        problem = " ".join(str(exc).split()[:8])
    raise error(f"{source}: not valid TOML: {problem}")


def _brief(value: object) -> str:
    return _cut(repr(value))


def _cut(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def read_config(path: Path, what: str, error: type[ConfigurationError]) -> str:
    """The text of a configuration file, refused with ``error`` naming ``what`` when it
    cannot be read, is not UTF-8 (a byte-order mark is accepted) or is over
    MAX_FILE_BYTES."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise error(f"{path}: the {what} is over {MAX_FILE_BYTES} bytes")
    try:
        # utf-8-sig: Windows editors often save Chinese text with a BOM, which tomllib rejects.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start})") from exc


def load_organisation(path: Path) -> Organisation:
    """Read and validate an organisation file; every problem is an InvalidOrganisation."""
    text = read_config(path, "organisation file", InvalidOrganisation)
    return parse_organisation(text, source=str(path))


def default_organisation_path() -> Path:
    """The sample organisation for Zhuzhou shipped with the package."""
    return Path(str(files("referrals").joinpath("data", "zhuzhou.toml")))
