from __future__ import annotations

from pathlib import Path

import pytest

from streams.organisation import (
    InvalidOrganisation,
    Organisation,
    OrganisationError,
    StreetNotInDistrict,
    UnknownDistrict,
    UnknownStreet,
    default_organisation_path,
    load_organisation,
    parse_organisation,
)

HEAD = """
[city]
code = "430200"
name = "株洲市"

[[district]]
code = "430203"
name = "芦淞区"

[[district]]
code = "430204"
name = "石峰区"
"""

DIRECT_03 = """
[[squad]]
code = "430203-00"
name = "芦淞区直属中队"
district = "430203"
direct = true
"""

DIRECT_04 = """
[[squad]]
code = "430204-00"
name = "石峰区直属中队"
district = "430204"
direct = true
"""

STREETS = """
[[squad]]
code = "430203-01"
name = "建设街道中队"
district = "430203"
streets = { "430203001" = "建设街道", "430203002" = "建宁街道" }

[[squad]]
code = "430204-01"
name = "响石岭街道中队"
district = "430204"
streets = { "430204001" = "响石岭街道" }
"""

VALID = HEAD + DIRECT_03 + DIRECT_04 + STREETS


@pytest.fixture
def small() -> Organisation:
    return parse_organisation(VALID, source="small.toml")


def invalid(text: str) -> str:
    with pytest.raises(InvalidOrganisation) as info:
        parse_organisation(text, source="org.toml")
    message = str(info.value)
    assert message.startswith("org.toml: ")
    return message


def test_sample_has_five_districts_and_thirty_squads() -> None:
    """The shipped Zhuzhou sample loads with the 5 districts and the city's 30 squads."""
    org = load_organisation(default_organisation_path())
    assert org.city.code == "430200"
    assert org.city.name == "株洲市"
    assert list(org.districts) == ["430202", "430203", "430204", "430211", "430212"]
    assert len(org.squads) == 30


def test_sample_has_one_direct_squad_per_district() -> None:
    """Each sample district has exactly one direct squad, coded <district>-00."""
    org = load_organisation(default_organisation_path())
    for code, district in org.districts.items():
        directs = [s for s in org.squads_of(code) if s.direct]
        assert [s.code for s in directs] == [f"{code}-00"]
        assert directs[0].name == f"{district.name}直属中队"
        assert org.direct_squad(code) == directs[0]


def test_sample_streets_are_each_in_one_squad_of_their_district() -> None:
    """Every sample street is in exactly one squad, and its code starts with its district's."""
    org = load_organisation(default_organisation_path())
    seen: list[str] = []
    for squad in org.squads.values():
        assert squad.direct or squad.streets
        for street in squad.streets:
            assert len(street) == 9
            assert street.startswith(squad.district_code)
            assert org.route(squad.district_code, street) == squad
        seen.extend(squad.streets)
    assert len(seen) == len(set(seen))


def test_route_by_street(small: Organisation) -> None:
    """A case naming a street goes to the squad covering that street."""
    assert small.route("430203", "430203002").code == "430203-01"
    assert small.route("430204", "430204001").code == "430204-01"


def test_route_without_street_goes_to_direct_squad(small: Organisation) -> None:
    """A case naming no street goes to its district's direct squad."""
    assert small.route("430203", None).code == "430203-00"
    assert small.route("430204", None).code == "430204-00"


def test_lookups(small: Organisation) -> None:
    """squads_of lists a district's squads in code order; street lookups give district and name."""
    assert [s.code for s in small.squads_of("430203")] == ["430203-00", "430203-01"]
    assert small.district_of_street("430204001").name == "石峰区"
    assert small.street_name("430203002") == "建宁街道"


def test_unknown_district(small: Organisation) -> None:
    """Routing to a district not in the file raises UnknownDistrict naming the code."""
    with pytest.raises(UnknownDistrict, match="430299") as info:
        small.route("430299", None)
    assert isinstance(info.value, OrganisationError)
    assert "430203 芦淞区" in str(info.value)
    with pytest.raises(UnknownDistrict):
        small.squads_of("430299")


def test_unknown_street(small: Organisation) -> None:
    """Routing to a street no squad covers raises UnknownStreet naming the street."""
    with pytest.raises(UnknownStreet, match="430203999"):
        small.route("430203", "430203999")
    with pytest.raises(UnknownStreet):
        small.street_name("430203999")


def test_street_of_another_district(small: Organisation) -> None:
    """A known street given with the wrong district says which district it belongs to."""
    with pytest.raises(StreetNotInDistrict) as info:
        small.route("430203", "430204001")
    message = str(info.value)
    assert "430204001" in message
    assert "belongs to district 430204 石峰区" in message
    assert "not to 430203 芦淞区" in message
    assert isinstance(info.value, UnknownStreet)


def test_direct_squad_may_have_streets() -> None:
    """A direct squad may also cover streets, and those streets route to it."""
    direct_with_street = DIRECT_03.replace(
        "direct = true", 'direct = true\nstreets = { "430203050" = "董家塅街道" }'
    )
    org = parse_organisation(HEAD + direct_with_street + DIRECT_04 + STREETS)
    assert org.route("430203", "430203050").code == "430203-00"


def test_two_direct_squads() -> None:
    """A district with two direct squads is refused, listing both."""
    extra = DIRECT_03.replace("430203-00", "430203-09")
    message = invalid(VALID + extra)
    assert "district 430203 芦淞区 has 2 direct squads (430203-00, 430203-09)" in message
    assert "exactly one is required" in message


def test_no_direct_squad() -> None:
    """A district with no direct squad is refused, naming the district."""
    message = invalid(HEAD + DIRECT_03 + STREETS)
    assert "district 430204 石峰区 has no direct squad" in message


def test_duplicate_street_across_squads() -> None:
    """A street listed by two squads is refused, naming the street and both squads."""
    dup = """
[[squad]]
code = "430203-02"
name = "重复中队"
district = "430203"
streets = { "430203002" = "建宁街道" }
"""
    message = invalid(VALID + dup)
    assert "street 430203002 is in 2 squads (430203-01, 430203-02)" in message


def test_squad_of_unknown_district() -> None:
    """A squad naming a district that no [[district]] defines is refused."""
    message = invalid(VALID.replace('district = "430204"\nstreets', 'district = "430299"\nstreets'))
    assert "squad 430204-01: district 430299 is not defined" in message


def test_missing_name() -> None:
    """A district without a name is refused, naming the district and the key."""
    message = invalid(VALID.replace('name = "石峰区"\n', "", 1))
    assert "district 430204: missing 'name'" in message


def test_unknown_key() -> None:
    """A misspelt key is refused, naming the key and the item."""
    message = invalid(VALID.replace("direct = true", "dirct = true", 1))
    assert "squad 430203-00: unknown key 'dirct'" in message


def test_unknown_top_level_key() -> None:
    """A misspelt table name is refused, naming it."""
    message = invalid(VALID + '\n[[squads]]\ncode = "x"\n')
    assert "unknown top-level key 'squads'" in message


def test_toml_syntax_error_reports_line() -> None:
    """Text that is not TOML is refused with the line of the error."""
    message = invalid('[city]\ncode = "430200"\nname = 株洲市\n')
    assert "not valid TOML" in message
    assert "line 3" in message


def test_code_must_be_a_string() -> None:
    """An unquoted numeric code is refused with a hint to quote it."""
    message = invalid(VALID.replace('code = "430204"', "code = 430204", 1))
    assert "code must be a non-empty quoted string, got 430204" in message


def test_duplicate_district_code() -> None:
    """Two districts with the same code are refused."""
    message = invalid(VALID.replace('code = "430204"', 'code = "430203"', 1))
    assert "district 430203 is defined twice" in message


def test_non_direct_squad_needs_streets() -> None:
    """A squad that is not direct and covers no street is refused."""
    empty = '\n[[squad]]\ncode = "430203-02"\nname = "空中队"\ndistrict = "430203"\n'
    message = invalid(VALID + empty)
    assert "squad 430203-02: a squad that is not direct must cover at least one street" in message


def test_load_names_the_file(tmp_path: Path) -> None:
    """Errors from load_organisation name the file, including a missing one."""
    path = tmp_path / "zhuzhou.toml"
    path.write_text(HEAD + DIRECT_03 + STREETS, encoding="utf-8")
    with pytest.raises(InvalidOrganisation, match=r"zhuzhou\.toml: district 430204"):
        load_organisation(path)
    with pytest.raises(InvalidOrganisation, match=r"missing\.toml: cannot read"):
        load_organisation(tmp_path / "missing.toml")


def test_load_accepts_byte_order_mark(tmp_path: Path) -> None:
    """A file saved with a UTF-8 BOM (common from Windows editors) still loads."""
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID.encode("utf-8"))
    assert len(load_organisation(path).squads) == 4
