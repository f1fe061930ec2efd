"""deploy/ as the tests read it: the compose files, the Kubernetes manifests, and what the
project itself says a deployment may name (its commands, settings, probe ports)."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from dataclasses import fields
from pathlib import Path
from types import ModuleType
from typing import Any

import typer.main
import yaml

from referrals.cli import app
from streams.settings import PREFIX, Settings

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"

COMMANDS = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
SETTINGS = {PREFIX + f.name.upper() for f in fields(Settings)}
# The setting that gives each long-running process the port of its /health, /ready and
# /metrics (referrals/commands/); the receipts consumer serves none.
PROBE_PORT = {
    "worker": "REFERRALS_WORKER_PORT",
    "sink": "REFERRALS_SINK_PORT",
    "feed": "REFERRALS_FEED_PORT",
    "serve": "REFERRALS_SERVE_PORT",
}
PROCESSES = {*PROBE_PORT, "receipts"}
# Compose's one-shot services of the project's image: the schema migration.
ONE_SHOT = {"db"}
# Where the processes answer, streams/monitoring/probes.py and web/app.py alike.
PROBE_PATHS = {"/health", "/ready", "/metrics"}


def project_version() -> str:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    version: str = pyproject["project"]["version"]
    return version


def project_image() -> str:
    return f"referral-pipeline:{project_version()}"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(DEPLOY / "compose.yaml")
    return loaded


def security_overlay() -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml(DEPLOY / "security" / "compose.security.yaml")
    return loaded


def project_services(services: dict[str, Any]) -> dict[str, Any]:
    """The services that run the project's image, by name."""
    return {n: s for n, s in services.items() if s.get("image", "").startswith("referral-")}


def brokers(services: dict[str, Any]) -> dict[str, Any]:
    return {n: s for n, s in services.items() if n.startswith("kafka-")}


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) of every manifest under deploy/k8s/, the kustomization too."""
    return [
        (path.name, doc)
        for path in sorted(K8S.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc is not None
    ]


def k8s_kind(kind: str) -> dict[str, dict[str, Any]]:
    """The manifests of one kind, by metadata.name."""
    return {doc["metadata"]["name"]: doc for _, doc in k8s_documents() if doc["kind"] == kind}


def deployments() -> dict[str, dict[str, Any]]:
    """The Deployments by the process they run (their container's first argument)."""
    found = {}
    for doc in k8s_kind("Deployment").values():
        [container] = doc["spec"]["template"]["spec"]["containers"]
        found[container["args"][0]] = doc
    return found


def replay_script() -> ModuleType:
    """deploy/replay_deadletters.py, imported as a module (it is a script of the image)."""
    name = "replay_deadletters"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, DEPLOY / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return sys.modules[name]
