"""The Faust worker's side of Kafka security: the same REFERRALS_KAFKA_* settings every
kafka-python client uses (``Settings.kafka_client_config``), as Faust credentials."""

from __future__ import annotations

import ssl
from typing import Any

import faust

from streams.settings import Settings


def faust_broker_config(settings: Settings) -> dict[str, Any]:
    """``broker_credentials`` for ``faust.App`` (nothing for PLAINTEXT)."""
    client = settings.kafka_client_config()
    if not client:
        return {}
    protocol = client["security_protocol"]
    context = None
    if protocol in ("SSL", "SASL_SSL"):
        context = ssl.create_default_context(cafile=client.get("ssl_cafile"))
    if protocol.startswith("SASL"):
        credentials: Any = faust.SASLCredentials(
            username=client["sasl_plain_username"],
            password=client["sasl_plain_password"],
            ssl_context=context,
            mechanism=client["sasl_mechanism"],
        )
    else:
        credentials = faust.SSLCredentials(context)
    return {"broker_credentials": credentials}
