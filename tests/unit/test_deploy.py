"""deploy/ is real even where no test can run Docker: its files parse, pin real images
and run the project's own commands with settings the project reads."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import typer.main
import yaml

from referrals.cli import app
from streams.settings import PREFIX, Settings

DEPLOY = Path(__file__).parents[2] / "deploy"
# Official images on Docker Hub that the deployment builds on.
KNOWN_IMAGES = {"apache/kafka", "postgres", "python"}
COMMANDS = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_services_run_real_commands_with_known_settings() -> None:
    """Every project service runs a `referrals` sub-command that exists, and every
    REFERRALS_* variable it sets is a field of Settings."""
    services = _compose()["services"]
    project = {name: s for name, s in services.items() if s["image"].startswith("referral-")}
    assert set(project) == {"worker", "sink", "feed"}
    settings = {PREFIX + f.name.upper() for f in fields(Settings)}
    for service in project.values():
        assert service["command"][0] in COMMANDS
        assert set(service["environment"]) <= settings


def test_images_are_official_and_pinned() -> None:
    """Third-party images are official ones with an explicit version tag, and the
    Dockerfile builds on a pinned Python matching requires-python."""
    for service in _compose()["services"].values():
        name, _, tag = service["image"].partition(":")
        if name == "referral-pipeline":
            continue
        assert name in KNOWN_IMAGES and re.match(r"\d", tag), service["image"]
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.M)
    assert base is not None and base.group(1).startswith("python:3.11")
    assert 'ENTRYPOINT ["referrals"]' in dockerfile


def test_kafka_version_matches_the_tested_one() -> None:
    """The deployed Kafka is the version the integration tests run against."""
    pom = (Path(__file__).parents[1] / "kafka" / "pom.xml").read_text()
    tested = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert tested is not None
    assert _compose()["services"]["kafka"]["image"] == f"apache/kafka:{tested.group(1)}"
