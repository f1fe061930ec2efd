"""Every topic the pipeline reads or writes, by name.

Inputs are the partner agencies' and the bureau systems'; the ``pipeline.*`` topics are
the pipeline's own hand-offs between agents; the rest are its outputs.
"""

from __future__ import annotations

REFERRAL_TOPICS = {
    "HOUSING": "referrals.housing",
    "TRAFFIC_POLICE": "referrals.traffic",
    "ENVIRONMENT": "referrals.environment",
}
LIFECYCLE = "cases.lifecycle"
PAYMENTS = "payments.receipts"
INPUTS = (*REFERRAL_TOPICS.values(), LIFECYCLE, PAYMENTS)

# Hand-offs between agents, named after the app id so that two pipelines (two cities, a
# staging copy) can share a cluster: references by alias, groups by incident, numbering by
# district. Their records are batches (streams/messages.py).
REFERENCES = "references"
GROUPS = "groups"
NUMBERING = "numbering"


def internal(app_id: str) -> tuple[str, str, str]:
    """The internal topics of the pipeline ``app_id``: references, groups, numbering."""
    return (f"{app_id}.{REFERENCES}", f"{app_id}.{GROUPS}", f"{app_id}.{NUMBERING}")


SNAPSHOTS = "cases.snapshots"
DEADLETTERS = "deadletters"
# What the SQL sink stores.
OUTPUTS = (SNAPSHOTS, DEADLETTERS)
# Status receipts back to each referring agency (consumers/receipts.py), keyed by
# referral_id; an agency's principal may read its own and no other (deploy/security/).
RECEIPT_TOPICS = {
    agency: name.replace("referrals.", "receipts.", 1) for agency, name in REFERRAL_TOPICS.items()
}
# Written by the scorecard feed, from the store, once a month is closed.
SCORECARDS = "scorecards.monthly"
PENALTIES = "penalties.monthly"


def input_topic(kind: str, agency: str | None = None) -> str:
    """The topic a JSONL line of ``kind`` is published to."""
    if kind == "referral":
        if agency not in REFERRAL_TOPICS:
            raise KeyError(f"unknown agency {agency!r}")
        return REFERRAL_TOPICS[agency]
    return PAYMENTS if kind == "payment" else LIFECYCLE
