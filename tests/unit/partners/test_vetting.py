"""A partner's referral is checked before it is sent: schema, intake rules, own agency."""

from __future__ import annotations

import pytest

from consumers.vetting import check_referral, check_referral_bytes
from schemas.codec import default_store
from schemas.jsonl import record_from_json
from streams.errors import RecordRefused
from tests.unit.factories import ORG

from .referrals import HOUSING, NOW, TRAFFIC, housing


def refusal(obj: object, agency: str = "HOUSING") -> RecordRefused:
    with pytest.raises(RecordRefused) as caught:
        check_referral(obj, agency, ORG, NOW, default_store())
    return caught.value


def test_a_valid_referral_passes_and_is_encoded_for_its_topic() -> None:
    """The sample's housing referral passes; its value decodes to the same referral and it
    goes to the housing topic under its referral key."""
    vetted = check_referral(HOUSING, "HOUSING", ORG, NOW, default_store())
    assert (vetted.topic, str(vetted.key)) == ("referrals.housing", "HOUSING:ZJ-2022-0001")
    decoded = default_store().decode(vetted.value)
    assert decoded.record == record_from_json(HOUSING)[1]


def test_kind_and_agency_may_be_left_out() -> None:
    """An agency's own file need not repeat ``kind`` and ``agency`` on every line."""
    bare = housing(kind=..., agency=...)
    assert check_referral(bare, "HOUSING", ORG, NOW, default_store()).record == (
        check_referral(HOUSING, "HOUSING", ORG, NOW, default_store()).record
    )


@pytest.mark.parametrize(
    ("obj", "field", "rule"),
    [
        (housing(referred_at="not a time"), "referred_at", "timestamp"),
        (housing(address=...), "address", "required"),
        (housing(housing={"project_name": "x", "permit_no": 7}), "housing.permit_no", "type"),
        (housing(evidence=[{"uri": "u"}]), "evidence[0].sha256", "required"),
        (housing(category="LITTERING"), "category", "enum"),
        (housing(colour="red"), "colour", "unknown_field"),
        (housing(referred_at="1999-03-01T09:30:00+08:00"), "referred_at", "impossible_value"),
        (housing(referred_at="2022-06-03T09:30:00+08:00"), "referred_at", "impossible_value"),
        (housing(district_code="430299"), "district_code", "unknown_place"),
        (housing(street_code="430204001"), "street_code", "unknown_place"),
        (housing(party_id_hash="430203199001011234"), "party_id_hash", "schema"),
        (housing(housing=None), "housing", "schema"),
        (housing(traffic=TRAFFIC["traffic"]), "traffic", "agency_block"),
        (housing(kind="case_filed"), "kind", "own_referrals"),
        ("a string", "", "type"),
    ],
)
def test_a_bad_referral_is_refused_naming_field_and_rule(
    obj: object, field: str, rule: str
) -> None:
    """Each way a referral can be wrong is refused with the field path and the rule."""
    refused = refusal(obj)
    assert (refused.field, refused.rule) == (field, rule), refused.message


def test_another_agencys_referral_is_refused_not_sent() -> None:
    """HOUSING cannot publish a traffic-police referral: refused on ``agency``."""
    refused = refusal(TRAFFIC)
    assert (refused.field, refused.rule) == ("agency", "own_agency")
    assert "TRAFFIC_POLICE" in refused.message


def test_avro_bytes_are_vetted_by_the_same_rules() -> None:
    """A single-object encoded referral passes as it is, or is refused like its JSON."""
    store = default_store()
    good = store.encode(*record_from_json(HOUSING))
    assert check_referral_bytes(good, "HOUSING", ORG, NOW, store).value == good
    bad = store.encode(*record_from_json(housing(district_code="430299")))
    with pytest.raises(RecordRefused) as caught:
        check_referral_bytes(bad, "HOUSING", ORG, NOW, store)
    assert caught.value.field == "district_code"
    with pytest.raises(RecordRefused) as foreign:
        check_referral_bytes(good, "TRAFFIC_POLICE", ORG, NOW, store)
    assert foreign.value.rule == "own_agency"
    with pytest.raises(RecordRefused) as garbage:
        check_referral_bytes(b"\x00\x01junk", "HOUSING", ORG, NOW, store)
    assert garbage.value.rule == "undecodable"
