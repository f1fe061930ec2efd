"""Every topic the pipeline reads or writes, by name, and its consumer groups.

Inputs are the partner agencies' and the bureau systems'; the ``<app>.*`` topics are the
pipeline's own hand-offs between agents; the rest are its outputs. The constants are the
default names; a running pipeline takes its names from ``Topics.of(settings)``: the app id
names its internal topics and its consumer groups, and ``REFERRALS_TOPIC_PREFIX`` (none by
default) its inputs and outputs, so that two pipelines — two cities, a staging copy — can
share one cluster without reading each other's messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.settings import Settings

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


@dataclass(frozen=True)
class Topics:
    """The names one pipeline uses."""

    app_id: str = "referrals"
    prefix: str = ""

    @classmethod
    def of(cls, settings: Settings) -> Topics:
        return cls(settings.app_id, settings.topic_prefix)

    @property
    def referrals(self) -> dict[str, str]:
        return {agency: self.prefix + name for agency, name in REFERRAL_TOPICS.items()}

    @property
    def lifecycle(self) -> str:
        return self.prefix + LIFECYCLE

    @property
    def payments(self) -> str:
        return self.prefix + PAYMENTS

    @property
    def inputs(self) -> tuple[str, ...]:
        return (*self.referrals.values(), self.lifecycle, self.payments)

    @property
    def internal(self) -> tuple[str, str, str]:
        return internal(self.app_id)

    @property
    def snapshots(self) -> str:
        return self.prefix + SNAPSHOTS

    @property
    def deadletters(self) -> str:
        return self.prefix + DEADLETTERS

    @property
    def outputs(self) -> tuple[str, str]:
        return (self.snapshots, self.deadletters)

    @property
    def receipts(self) -> dict[str, str]:
        return {agency: self.prefix + name for agency, name in RECEIPT_TOPICS.items()}

    @property
    def scorecards(self) -> str:
        return self.prefix + SCORECARDS

    @property
    def penalties(self) -> str:
        return self.prefix + PENALTIES

    @property
    def sink_group(self) -> str:
        return f"{self.app_id}-sql-sink"

    @property
    def receipts_group(self) -> str:
        return f"{self.app_id}-receipts"

    def every(self) -> list[str]:
        """Every topic of the pipeline but Faust's own (its changelogs)."""
        return [
            *self.inputs,
            *self.internal,
            *self.outputs,
            self.scorecards,
            self.penalties,
            *self.receipts.values(),
        ]

    def input_topic(self, kind: str, agency: str | None = None) -> str:
        """The topic a JSONL line of ``kind`` is published to."""
        return self.prefix + input_topic(kind, agency)

    def agency_of(self, topic: str | None) -> str | None:
        """The agency whose referral topic ``topic`` is, if it is one."""
        return next((a for a, name in self.referrals.items() if name == topic), None)


# The names of a pipeline with the default app id and no prefix: docs/contract.md's.
DEFAULT = Topics()
