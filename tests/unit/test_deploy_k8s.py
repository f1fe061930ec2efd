"""deploy/k8s/ is what a cluster would accept and what the processes expect: manifests
valid against Kubernetes' own schemas, the project's commands and settings, probes where
the processes answer, each process's own Kafka principal, topics on three replicas."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import kubernetes_validate
import pytest

from streams.settings import Settings
from tests.support.deploy import (
    COMMANDS,
    DEPLOY,
    K8S,
    PROBE_PORT,
    PROCESSES,
    SETTINGS,
    deployments,
    k8s_documents,
    k8s_kind,
    load_yaml,
    project_image,
    project_version,
)
from web.status import parse_probes

# The oldest Kubernetes the manifests are meant for (still supported upstream when written).
KUBERNETES = "1.32.0"
PRINCIPALS = set(load_yaml(DEPLOY / "security" / "acls.json")["principals"])


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    return dict(container)


def _settings() -> dict[str, str]:
    data: dict[str, str] = k8s_kind("ConfigMap")["referrals-settings"]["data"]
    return data


def _secret_keys() -> set[str]:
    secret = load_yaml(K8S / "secret.example.yaml")
    assert secret["kind"] == "Secret"
    return set(secret["stringData"])


@pytest.mark.parametrize(
    ("name", "doc"),
    [(n, d) for n, d in k8s_documents() if d["kind"] != "Kustomization"],
    ids=lambda v: v if isinstance(v, str) else v["kind"],
)
def test_manifests_are_valid_kubernetes_objects(name: str, doc: dict[str, Any]) -> None:
    """Each object validates against Kubernetes' schema in strict mode (a misspelt or
    misplaced field fails)."""
    try:
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as e:
        problem = f"{name} {doc['kind']}: {e.message} at {list(e.absolute_path)}"
    else:
        return
    # outside the except block: the reason alone, not the schema's chained traceback
    pytest.fail(problem, pytrace=False)


def test_the_kustomization_applies_every_manifest_but_the_secret_template() -> None:
    """kubectl apply -k takes every file (the Secret template excepted: no password is
    committed) with the image of the project's version."""
    [(_, kustomization)] = [(n, d) for n, d in k8s_documents() if d["kind"] == "Kustomization"]
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(kustomization["resources"]) == files
    [image] = kustomization["images"]
    assert f"{image['name']}:{image['newTag']}" == project_image()


def test_deployments_run_every_process_with_real_commands_and_settings() -> None:
    """One Deployment per long-running process, of the project's image and version, running
    its sub-command with REFERRALS_* variables that Settings reads (ConfigMap and env)."""
    found = deployments()
    assert set(found) == PROCESSES and set(found) <= COMMANDS
    assert set(_settings()) <= SETTINGS
    for process, deployment in found.items():
        container = _container(deployment)
        assert container["image"] == f"referral-pipeline:{project_version()}"
        assert {e["name"] for e in container["env"]} <= SETTINGS, process
        assert container["envFrom"] == [{"configMapRef": {"name": "referrals-settings"}}]


def test_secrets_come_from_the_secret_and_each_process_logs_in_as_itself() -> None:
    """The database URL and every Kafka password are keys of the Secret; each process has
    its own principal of deploy/security/acls.json, its password mounted as the file
    REFERRALS_KAFKA_PASSWORD_FILE names."""
    keys, principals = _secret_keys(), set()
    for process, deployment in deployments().items():
        container = _container(deployment)
        env = {e["name"]: e for e in container["env"]}
        assert env["REFERRALS_DB"]["valueFrom"]["secretKeyRef"]["key"] in keys
        principal = env["REFERRALS_KAFKA_USERNAME"]["value"]
        assert f"User:{principal}" in PRINCIPALS
        principals.add(principal)
        volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
        mounted = {}
        for mount in container["volumeMounts"]:
            for item in volumes[mount["name"]].get("secret", {}).get("items", []):
                assert item["key"] in keys, process
                mounted[f"{mount['mountPath']}/{item['path']}"] = item["key"]
        assert mounted[env["REFERRALS_KAFKA_PASSWORD_FILE"]["value"]] == principal
        assert mounted[_settings()["REFERRALS_KAFKA_CA_FILE"]] == "kafka-ca.pem"
    assert len(principals) == len(PROCESSES)


def test_probes_ask_each_process_where_it_answers() -> None:
    """Liveness asks /health and readiness /ready, on the container port the process's
    probe-port setting names; the receipts consumer, which serves none, has no probes."""
    settings = _settings()
    for process, deployment in deployments().items():
        container = _container(deployment)
        if process not in PROBE_PORT:
            assert "livenessProbe" not in container and "readinessProbe" not in container
            continue
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        live, ready = container["livenessProbe"]["httpGet"], container["readinessProbe"]["httpGet"]
        assert (live["path"], ready["path"]) == ("/health", "/ready")
        expected = int(settings[PROBE_PORT[process]])
        assert ports[live["port"]] == ports[ready["port"]] == expected, process
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert int(annotations["prometheus.io/port"]) == expected


def test_the_page_reaches_each_process_through_a_service_that_keeps_unready_pods() -> None:
    """REFERRALS_PROBES names a Service of each probed process on its probe port; those
    Services select that process's pods and keep them listed when not ready."""
    settings, services = _settings(), k8s_kind("Service")
    probes = parse_probes(settings["REFERRALS_PROBES"])
    assert set(probes) == set(PROBE_PORT) - {"serve"}
    for process, url in probes.items():
        parsed = urlparse(url)
        service = services[str(parsed.hostname)]["spec"]
        assert parsed.port == int(settings[PROBE_PORT[process]])
        assert [p["port"] for p in service["ports"]] == [parsed.port]
        labels = deployments()[process]["spec"]["template"]["metadata"]["labels"]
        assert service["selector"].items() <= labels.items()
        assert service["publishNotReadyAddresses"] is True


def test_workers_scale_within_the_partitions_and_the_feed_runs_alone() -> None:
    """Workers beyond REFERRALS_PARTITIONS would idle; the feed is one replica, never
    overlapping another (Recreate); consumers restart all at once, one rebalance."""
    found = deployments()
    assert 1 <= found["worker"]["spec"]["replicas"] <= int(_settings()["REFERRALS_PARTITIONS"])
    assert found["feed"]["spec"]["replicas"] == 1
    for process in ("worker", "sink", "feed", "receipts"):
        assert found[process]["spec"]["strategy"]["type"] == "Recreate", process


def test_topics_are_created_with_three_replicas_two_in_sync() -> None:
    """Whichever process creates the topics creates them with RF 3 and min ISR 2."""
    settings = Settings.from_env(_settings())
    assert settings.replication_factor == 3
    assert settings.topic_configs() == {"min.insync.replicas": "2"}


def test_pods_run_as_the_images_user_with_bounded_resources() -> None:
    """Every pod runs as the Dockerfile's non-root uid on a read-only root, and asks for
    CPU and memory with a memory limit."""
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    uid = int(dockerfile.rsplit("USER ", 1)[1].split(":", 1)[0])
    for process, deployment in deployments().items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == uid
        container = _container(deployment)
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), process
        assert "memory" in resources["limits"], process
