"""deploy/ is real even where no test can run Docker: its files parse, pin real images,
run the project's own commands with settings the project reads, probe what the processes
serve, and keep every topic on three brokers with two in sync."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from streams.settings import Settings
from tests.support.deploy import (
    COMMANDS,
    DEPLOY,
    ONE_SHOT,
    PROBE_PATHS,
    PROBE_PORT,
    PROCESSES,
    REPO,
    SETTINGS,
    brokers,
    compose,
    load_yaml,
    project_image,
    project_services,
    security_overlay,
)
from web.status import parse_probes

# Official images: Docker's own (postgres, python) and the projects' (Apache Kafka,
# Prometheus, Grafana).
OFFICIAL = {"apache/kafka", "postgres", "python", "prom/prometheus", "grafana/grafana"}
# A pinned tag: a full version (major.minor at least), maybe a variant.
PINNED = re.compile(r"v?\d+\.\d+(\.\d+)?(-[a-z][a-z0-9-]*)?")
PROBE_URL = re.compile(r"http://127\.0\.0\.1:(\d+)(/\w+)")


def _properties(text: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    assert all("=" in line for line in lines), lines
    return dict(line.split("=", 1) for line in lines)


PARSERS = {
    ".yaml": lambda text: list(yaml.safe_load_all(text)),
    ".yml": lambda text: list(yaml.safe_load_all(text)),
    ".json": json.loads,
    ".toml": tomllib.loads,
    ".py": ast.parse,
    ".properties": _properties,
    ".example": _properties,
    ".md": lambda text: text,
    ".dockerignore": lambda text: text.splitlines(),
    "": lambda text: re.findall(r"^FROM \S+", text, re.M),  # Dockerfile
}


@pytest.mark.parametrize(
    "path", sorted(p for p in DEPLOY.rglob("*") if p.is_file()), ids=lambda p: str(p)
)
def test_every_file_under_deploy_parses(path: Path) -> None:
    """Every file parses as what its name says, and says something."""
    assert path.suffix in PARSERS, f"no parser for {path.name}: add one"
    assert PARSERS[path.suffix](path.read_text(encoding="utf-8"))


def test_compose_runs_every_process_with_real_commands_and_settings() -> None:
    """The project's services are its five long-running processes and the schema
    migration, each running the sub-command of its name, setting only REFERRALS_* variables
    that Settings reads."""
    project = project_services(compose()["services"])
    assert set(project) == PROCESSES | ONE_SHOT
    for name, service in project.items():
        assert service["command"][0] == name and name in COMMANDS
        assert set(service["environment"]) <= SETTINGS, name
        Settings.from_env(service["environment"]).topic_configs()  # every value converts


def test_every_process_starts_after_the_schema_is_migrated() -> None:
    """The processes refuse a PostgreSQL store behind the code, so each waits until the
    one-shot `db upgrade` has completed, which itself waits for PostgreSQL."""
    services = compose()["services"]
    assert services["db"]["command"] == ["db", "upgrade"]
    assert services["db"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in PROCESSES:
        condition = services[name]["depends_on"]["db"]["condition"]
        assert condition == "service_completed_successfully", name


def test_images_are_official_and_pinned() -> None:
    """Third-party images are official ones with a full version tag; the project's image
    carries the project's version; the Dockerfile's Pythons are one pinned 3.11."""
    for name, service in compose()["services"].items():
        image = service["image"]
        if name in PROCESSES | ONE_SHOT:
            assert image == project_image()
            continue
        repository, _, tag = image.partition(":")
        assert repository in OFFICIAL and PINNED.fullmatch(tag), image
    bases = set(re.findall(r"^FROM (\S+)", (DEPLOY / "Dockerfile").read_text(), re.M))
    assert {b.split(" ")[0] for b in bases} == {"python:3.11.14-slim-bookworm"}


def test_kafka_is_three_kraft_brokers_of_the_tested_version() -> None:
    """Three combined broker-controllers of the version the integration tests run, each
    its own node id and advertised name, one quorum and cluster id between them."""
    pom = (REPO / "tests" / "kafka" / "pom.xml").read_text()
    tested = re.search(r"<kafka.version>([^<]+)</kafka.version>", pom)
    assert tested is not None
    nodes = brokers(compose()["services"])
    assert len(nodes) == 3
    envs = [node["environment"] for node in nodes.values()]
    voters = {f"{env['KAFKA_NODE_ID']}@{name}:9093" for name, env in zip(nodes, envs, strict=True)}
    for name, node in nodes.items():
        env = node["environment"]
        assert node["image"] == f"apache/kafka:{tested.group(1)}"
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_LOG_DIRS"] == node["volumes"][0].split(":")[1]
    assert len({env["CLUSTER_ID"] for env in envs}) == 1


def test_topics_keep_three_replicas_two_in_sync() -> None:
    """The brokers default to RF 3 / min ISR 2 (Faust's changelogs, the offsets topic), and
    every process, whichever creates the topics, creates them with RF 3 and min ISR 2."""
    services = compose()["services"]
    for env in (node["environment"] for node in brokers(services).values()):
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
    for service in project_services(services).values():
        settings = Settings.from_env(service["environment"])
        assert settings.replication_factor == 3
        assert settings.topic_configs() == {"min.insync.replicas": "2"}
        hosts = urlparse(settings.broker or "").netloc.split(",")
        assert {h.split(":")[0] for h in hosts} == set(brokers(services))


def _probe_port(name: str, env: dict[str, Any]) -> int | None:
    return int(env[PROBE_PORT[name]]) if name in PROBE_PORT else None


def test_healthchecks_probe_the_port_and_path_each_process_serves() -> None:
    """A process's healthcheck asks its own probe port for a path the probes serve; the
    receipts consumer, which serves none, has none."""
    for name, service in project_services(compose()["services"]).items():
        port = _probe_port(name, service["environment"])
        if port is None:
            assert "healthcheck" not in service, name
            continue
        [(asked, path)] = PROBE_URL.findall(" ".join(service["healthcheck"]["test"]))
        assert (int(asked), path) == (port, "/health"), name


def test_the_page_and_prometheus_reach_every_process_where_it_answers() -> None:
    """REFERRALS_PROBES names worker, sink and feed at their services and probe ports;
    Prometheus scrapes every process that serves /metrics, at the same places."""
    project = project_services(compose()["services"])
    where = {n: (n, _probe_port(n, s["environment"])) for n, s in project.items()}
    probes = parse_probes(project["serve"]["environment"]["REFERRALS_PROBES"])
    assert set(probes) == set(PROBE_PORT) - {"serve"}
    for name, url in probes.items():
        parsed = urlparse(url)
        assert (parsed.hostname, parsed.port) == where[name]
    scraped = {}
    for job in load_yaml(DEPLOY / "prometheus.yml")["scrape_configs"]:
        process = job["job_name"].removeprefix("referrals-")
        assert job.get("metrics_path", "/metrics") in PROBE_PATHS
        for sd in job.get("dns_sd_configs", []):
            scraped[process] = (sd["names"][0], sd["port"])
        for static in job.get("static_configs", []):
            host, port = static["targets"][0].split(":")
            scraped[process] = (host, int(port))
    assert scraped == {n: where[n] for n in PROBE_PORT}


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard() -> None:
    """The data source is compose's Prometheus; the dashboard is mounted where the provider
    reads; every data source the panels name resolves to a variable of the dashboard (a
    provisioned dashboard gets no __inputs substitution)."""
    services = compose()["services"]
    provisioning = DEPLOY / "grafana" / "provisioning"
    [source] = load_yaml(provisioning / "datasources" / "prometheus.yaml")["datasources"]
    assert urlparse(source["url"]).hostname in services
    [provider] = load_yaml(provisioning / "dashboards" / "referral-pipeline.yaml")["providers"]
    mounts = dict(v.split(":")[:2] for v in services["grafana"]["volumes"])
    assert Path(mounts["./grafana-dashboard.json"]).parent == Path(provider["options"]["path"])
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text(encoding="utf-8"))
    variables = {v["name"] for v in dashboard["templating"]["list"] if v["type"] == "datasource"}
    named = set(re.findall(r"\$\{(\w+)\}", json.dumps(dashboard["panels"])))
    assert named and named <= variables


def test_the_security_overlay_applies_on_top() -> None:
    """Every service the overlay touches exists in compose.yaml (it defines none of its
    own), it secures every broker, its settings are real, and each secret it mounts is
    declared."""
    base, overlay = compose(), security_overlay()
    assert set(overlay["services"]) <= set(base["services"])
    assert set(brokers(overlay["services"])) == set(brokers(base["services"]))
    for name, service in overlay["services"].items():
        assert set(service["secrets"]) <= set(overlay["secrets"]), name
        if name in PROCESSES:
            merged = {**base["services"][name]["environment"], **service["environment"]}
            assert set(merged) <= SETTINGS, name
            hosts = Settings.from_env(merged).bootstrap_servers.split(",")
            assert {h.split(":")[0] for h in hosts} == set(brokers(base["services"]))


def test_the_image_holds_every_package_and_runs_as_a_user() -> None:
    """The Dockerfile copies every package pyproject installs (and the build context lets
    them through), installs the postgres and registry extras, the PNG export's libraries
    and font, and runs `referrals` as a numeric non-root user."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    found = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {p.rstrip("*") for p in found}
    copied = set(re.findall(r"^COPY (\w+) ", dockerfile, re.M))
    assert packages <= copied
    allowed = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert {f"!{p}" for p in packages} <= set(allowed)
    assert "pip install '.[postgres,registry]'" in dockerfile
    assert {"postgres", "registry"} <= set(pyproject["project"]["optional-dependencies"])
    assert {"libcairo2", "fontconfig", "fonts-wqy-microhei"} <= set(dockerfile.split())
    user = re.findall(r"^USER (\d+):(\d+)$", dockerfile, re.M)
    assert user and int(user[-1][0]) > 0
    assert 'ENTRYPOINT ["referrals"]' in dockerfile


def test_the_operations_guide_lists_every_setting_and_no_other() -> None:
    """docs/operations.md names each REFERRALS_* variable Settings reads, and none that
    does not exist."""
    guide = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    assert set(re.findall(r"REFERRALS_[A-Z_]+[A-Z]", guide)) == SETTINGS
