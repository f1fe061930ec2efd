"""The case numbers a group asks for and keeps: one request per new case, asked again
on a redelivery until given, set once, and kept by a re-formed case."""

from __future__ import annotations

from tests.unit.factories import (
    Group,
    at,
    event,
    referral,
)

# case ids, C + the first 12 hex digits of SHA-256("HOUSING:ZJ-n"), upper case
ZJ0, ZJ1, ZJ2, ZJ3 = "C4C43659B34CF", "C0317E7DCDF63", "C5354A5F8BFAB", "CCE623C5D1472"


def test_one_number_request_per_new_case() -> None:
    """Two cases are opened (days 0 and 40) among four referrals and some lifecycle: two
    number requests, each once, for 芦淞区 in 2022."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.send(referral("ZJ-2", at(10)))
    g.send(event("case_filed", at(11), "ZJ-1"))
    g.send(referral("ZJ-3", at(40)))
    g.send(referral("ZJ-0", at(41)))
    assert [(r.case_id, r.group, r.district_code, r.year) for r in g.requests] == [
        (ZJ1, g.key, "430203", 2022),
        (ZJ3, g.key, "430203", 2022),
    ]


def test_a_redelivery_asks_again_for_a_number_not_yet_given() -> None:
    """The redelivery of a referral whose case has no number yet repeats the same request
    (its first sending may have been lost); once numbered, nothing is asked."""
    g = Group()
    g.send(referral("ZJ-1", at(0)), "t/0/1")
    g.send(referral("ZJ-1", at(0)), "t/0/1")
    assert g.requests[0] == g.requests[1] and len(g.requests) == 2
    g.numbered(ZJ1, "430203-2022-0001")
    g.send(referral("ZJ-1", at(0)), "t/0/1")
    assert len(g.requests) == 2


def test_number_request_year_is_counted_in_shanghai() -> None:
    """A case opened at 2023-01-01 00:30 in Zhuzhou (still 2022 in UTC) is numbered in 2023."""
    g = Group()
    g.send(referral("ZJ-1", "2023-01-01T00:30:00+08:00"))
    assert [r.year for r in g.requests] == [2023]


def test_numbered_message_sets_the_case_number_once() -> None:
    """The number given for a case shows in its snapshot; a second answer is ignored; no
    request is made again on later messages."""
    g = Group()
    g.send(referral("ZJ-1", at(0)))
    g.numbered(ZJ1, "430203-2022-0007")
    assert g.case_of("ZJ-1")["case_no"] == "430203-2022-0007"
    outcome = g.numbered(ZJ1, "430203-2022-0008")
    assert outcome.state is None
    g.send(referral("ZJ-2", at(3)))
    g.send(event("case_filed", at(4), "ZJ-1"))
    assert g.case_of("ZJ-1")["case_no"] == "430203-2022-0007"
    assert [r.case_id for r in g.requests] == [ZJ1]


def test_re_formed_case_keeps_the_number_of_the_case_it_absorbed() -> None:
    """ZJ1 numbered 0007 is absorbed into ZJ0 by a late referral: ZJ0 shows 0007 and is
    never asked a number of its own."""
    g = Group()
    g.send(referral("ZJ-1", at(40)))
    g.numbered(ZJ1, "430203-2022-0007")
    g.send(referral("ZJ-0", at(15)))
    assert g.snapshots[ZJ0]["case_no"] == "430203-2022-0007"
    assert [r.case_id for r in g.requests] == [ZJ1]


def test_re_formed_case_keeps_the_earliest_number_of_its_members() -> None:
    """ZJ1 and then ZJ0 (which absorbs it) are both asked numbers before either comes:
    whichever answer arrives first, ZJ0 ends with the earliest, 0001."""
    for answers in (
        [(ZJ0, "430203-2022-0002"), (ZJ1, "430203-2022-0001")],
        [(ZJ1, "430203-2022-0001"), (ZJ0, "430203-2022-0002")],
    ):
        g = Group()
        g.send(referral("ZJ-1", at(40)))
        g.send(referral("ZJ-0", at(15)))
        assert [r.case_id for r in g.requests] == [ZJ1, ZJ0]
        for case_id, case_no in answers:
            g.numbered(case_id, case_no)
        assert g.snapshots[ZJ0]["case_no"] == "430203-2022-0001"


# ------------------------------------------------------------------ arrival order
