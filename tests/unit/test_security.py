"""deploy/security/: each agency's principal is confined to its own two topics, every
process gets the same client settings, and the ACL file is what the script applies."""

from __future__ import annotations

import importlib.util
from dataclasses import fields
from pathlib import Path
from typing import Any

import faust
import pytest
import typer.main
import yaml

from referrals.cli import app
from streams import topics
from streams.errors import ConfigurationError
from streams.security import faust_broker_config
from streams.settings import PREFIX, Settings

SECURITY = Path(__file__).parents[2] / "deploy" / "security"
_spec = importlib.util.spec_from_file_location("apply_acls", SECURITY / "apply.py")
assert _spec is not None and _spec.loader is not None
apply = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(apply)
SPEC: dict[str, Any] = apply.load()
PRINCIPALS: dict[str, Any] = SPEC["principals"]


def grants_on(topic: str, operation: str) -> set[str]:
    """The principals one of whose grants covers ``operation`` on ``topic``."""
    return {
        principal
        for principal, entry in PRINCIPALS.items()
        for g in entry["acls"]
        if g["resource"] == "topic"
        and operation in g["operations"]
        and (g["name"] == topic if g["pattern"] == "literal" else topic.startswith(g["name"]))
    }


def agency_principal(agency: str) -> str:
    [principal] = [p for p, e in PRINCIPALS.items() if e.get("agency") == agency]
    return principal


@pytest.mark.parametrize("agency", sorted(topics.REFERRAL_TOPICS))
def test_an_agency_may_write_only_its_referrals_and_read_only_its_receipts(agency: str) -> None:
    """Its topic grants are exactly Write on its referral topic and Read on its receipts
    topic (each with Describe); its groups are named after itself; nothing else."""
    principal = agency_principal(agency)
    grants = PRINCIPALS[principal]["acls"]
    on_topics = {
        (g["name"], g["pattern"]): set(g["operations"]) for g in grants if g["resource"] == "topic"
    }
    assert on_topics == {
        (topics.REFERRAL_TOPICS[agency], "literal"): {"Write", "Describe"},
        (topics.RECEIPT_TOPICS[agency], "literal"): {"Read", "Describe"},
    }
    groups = [g for g in grants if g["resource"] == "group"]
    assert [(g["pattern"], g["operations"]) for g in groups] == [("prefixed", ["Read"])]
    assert groups[0]["name"] == principal.removeprefix("User:") + "."
    assert {g["resource"] for g in grants} == {"topic", "group"}


@pytest.mark.parametrize("agency", sorted(topics.REFERRAL_TOPICS))
def test_no_one_else_writes_an_agencys_referrals_or_reads_its_receipts(agency: str) -> None:
    """Only the agency (and the HTTP intake, which checked its key) write its referral
    topic; only the agency reads its receipts; the receipts consumer only writes them."""
    own = agency_principal(agency)
    assert grants_on(topics.REFERRAL_TOPICS[agency], "Write") == {own, "User:referrals-intake"}
    assert grants_on(topics.RECEIPT_TOPICS[agency], "Read") == {own}
    assert grants_on(topics.RECEIPT_TOPICS[agency], "Write") == {"User:referrals-receipts"}


def test_the_script_applies_one_kafka_acls_command_per_grant() -> None:
    """Each grant becomes one kafka-acls --add naming its principal, operations and resource."""
    commands = apply.acl_commands(SPEC, "/opt/kafka/bin", "kafka:9092", "admin.properties")
    assert len(commands) == sum(len(e["acls"]) for e in PRINCIPALS.values())
    housing = [c for c in commands if "User:agency-housing" in c]
    assert housing[0][-4:-2] == ["--topic", "referrals.housing"]
    assert housing[0].count("--operation") == 2


def test_users_get_passwords_from_secret_files(tmp_path: Path) -> None:
    """Every principal gets a SCRAM credential whose password comes from its secret file."""
    for principal in PRINCIPALS:
        (tmp_path / principal.removeprefix("User:")).write_text("s3cret-" + principal)
    commands = apply.user_commands(SPEC, "/bin", "kafka:9092", "admin.properties", tmp_path)
    assert len(commands) == len(PRINCIPALS)
    assert commands[0][-1] == "SCRAM-SHA-512=[iterations=8192,password=s3cret-User:agency-housing]"


def test_the_compose_overlay_runs_real_commands_as_known_principals() -> None:
    """Every service of the overlay sets only real settings, logs in as a principal of the
    ACL file, and runs a command that exists."""
    overlay = yaml.safe_load((SECURITY / "compose.security.yaml").read_text())
    settings = {PREFIX + f.name.upper() for f in fields(Settings)}
    commands = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    project = {k: v for k, v in overlay["services"].items() if not k.startswith("kafka-")}
    assert project
    for service in project.values():
        env = service["environment"]
        assert set(env) <= settings
        assert f"User:{env['REFERRALS_KAFKA_USERNAME']}" in PRINCIPALS
        assert env["REFERRALS_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert service.get("command", ["worker"])[0] in commands


def test_sasl_ssl_settings_become_client_and_faust_credentials(tmp_path: Path) -> None:
    """One set of settings gives kafka-python's options and Faust's SASL credentials,
    the password read from its file; PLAINTEXT gives none."""
    password = tmp_path / "password"
    password.write_text("pw\n")
    secure = Settings(
        kafka_security_protocol="SASL_SSL",
        kafka_username="referrals-worker",
        kafka_password_file=password,
    )
    assert secure.kafka_client_config() == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "referrals-worker",
        "sasl_plain_password": "pw",
    }
    credentials = faust_broker_config(secure)["broker_credentials"]
    assert isinstance(credentials, faust.SASLCredentials)
    assert (credentials.username, credentials.mechanism.value) == (
        "referrals-worker",
        "SCRAM-SHA-512",
    )
    assert credentials.ssl_context is not None
    assert Settings().kafka_client_config() == {} == faust_broker_config(Settings())
    with pytest.raises(ConfigurationError, match="REFERRALS_KAFKA_USERNAME"):
        Settings(kafka_security_protocol="SASL_SSL").kafka_client_config()


def test_the_worker_may_use_its_own_hand_off_topics_and_changelogs() -> None:
    """The worker principal reads, writes and creates the default app's internal topics
    and its tables' changelogs, by their real names."""
    worker = "User:referrals-worker"
    changelogs = [f"{Settings().app_id}-{table}-changelog" for table in ("group_to_state",)]
    for topic in [*topics.internal(Settings().app_id), *changelogs]:
        for operation in ("Read", "Write", "Create"):
            assert worker in grants_on(topic, operation), (topic, operation)
