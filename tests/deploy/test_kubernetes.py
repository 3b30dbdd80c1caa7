"""The Kubernetes manifests under k8s/: valid against the API schemas, offline, and complete.

Schemas: the ``kubernetes-validate`` package ships the OpenAPI-derived JSON schemas of every
Kubernetes minor version it supports and validates locally (no network; strict mode refuses
unknown fields, so a typo in a field name fails instead of being silently dropped).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from common.cli import COMMANDS
from tests.deploy.manifests import (
    K8S,
    ROOT,
    WORKLOAD_KINDS,
    Manifest,
    console_scripts,
    container_env,
    containers,
    find,
    manifests,
    of_kind,
    pod_spec,
    project_version,
)

# The oldest Kubernetes minor version the manifests must be valid for (EKS standard support).
KUBERNETES_VERSION = "1.31"
OUR_IMAGES = ("aurora-discovery", "aurora-processor", "aurora-kafka", "aurora-openobserve")
SECRET_TEMPLATES = K8S / "secrets"


def test_the_manifests_are_found() -> None:
    kinds = {m.kind for m in manifests()}
    assert {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ConfigMap",
        "Secret",
        "Service",
        "Deployment",
        "StatefulSet",
        "DaemonSet",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "Ingress",
        "NetworkPolicy",
        "Job",
    } <= kinds


@pytest.mark.parametrize("manifest", manifests(), ids=str)
def test_every_manifest_is_valid_against_the_kubernetes_schema(manifest: Manifest) -> None:
    try:
        kubernetes_validate.validate(manifest.doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(part) for part in exc.path)
        pytest.fail(f"{manifest}: {path}: {exc.message}")


def test_the_validator_refuses_what_kubernetes_would_refuse() -> None:
    # A check that the check bites: an unknown field and a wrong type both fail.
    deployment = find("Deployment", "discovery").doc
    broken: dict[str, Any] = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_everything_lives_in_the_projects_namespaces() -> None:
    namespaced = [
        m for m in manifests() if m.kind not in {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    ]
    assert {m.namespace for m in namespaced} == {"aurora-logs", "aurora-logs-agents"}


def _apply_order() -> list[str]:
    makefile = (ROOT / "Makefile").read_text()
    match = re.search(r"^K8S_ORDER\s*:=((?:.*\\\n)*.*)$", makefile, re.M)
    assert match, "the Makefile defines K8S_ORDER"
    return match.group(1).replace("\\\n", " ").split()


def test_the_apply_order_covers_every_manifest_but_the_secret_templates() -> None:
    order = _apply_order()
    assert order[0] == "k8s/setup.yaml"
    covered: set[Path] = set()
    for entry in order:
        path = ROOT / entry
        assert path.exists(), entry
        covered |= {path} if path.is_file() else set(path.glob("*.yaml"))
    every = set(K8S.rglob("*.yaml")) - set(SECRET_TEMPLATES.glob("*.yaml"))
    assert covered == every
    # The README's step-by-step applies them in the same order.
    readme = (ROOT / "README.md").read_text()
    deploying = readme[readme.index("## Deploying") :]
    positions = [deploying.find(f"kubectl apply -f {entry}") for entry in order]
    assert -1 not in positions, "README, Deploying: a kubectl apply step is missing"
    assert positions == sorted(positions), "README, Deploying: apply steps out of order"


def test_secret_templates_carry_no_values() -> None:
    templates = of_kind("Secret")
    assert templates
    for secret in templates:
        assert secret.path.parent == SECRET_TEMPLATES, f"{secret}: a Secret outside k8s/secrets"
        assert "data" not in secret.doc, f"{secret}: templates use empty stringData"
        assert all(value == "" for value in secret.doc["stringData"].values()), str(secret)


def test_every_secret_key_the_workloads_read_is_in_a_template() -> None:
    keys = {(s.namespace, s.name, k) for s in of_kind("Secret") for k in s.doc["stringData"]}
    # The same credentials Secret is created in the agents namespace (README, step 5).
    keys |= {("aurora-logs-agents", n, k) for _, n, k in keys if n == "openobserve-credentials"}
    for workload in of_kind(*WORKLOAD_KINDS):
        for container in containers(workload):
            for item in container.get("env", []):
                ref = item.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert (workload.namespace, ref["name"], ref["key"]) in keys, (
                        f"{workload}: {item['name']} reads a Secret key no template documents"
                    )


def test_configmaps_and_service_accounts_referenced_exist() -> None:
    for workload in of_kind(*WORKLOAD_KINDS):
        spec = pod_spec(workload)
        find("ServiceAccount", spec["serviceAccountName"], workload.namespace or "")
        for container in containers(workload):
            container_env(workload, container)  # raises for a missing ConfigMap
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                find("ConfigMap", volume["configMap"]["name"], workload.namespace or "")


@pytest.mark.parametrize("workload", of_kind(*WORKLOAD_KINDS), ids=str)
def test_every_workload_is_hardened_and_sized(workload: Manifest) -> None:
    spec = pod_spec(workload)
    assert spec["nodeSelector"] == {"kubernetes.io/arch": "arm64"}, str(workload)
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    privileged_agent = workload.namespace == "aurora-logs-agents"
    if not privileged_agent:
        assert spec["securityContext"]["runAsNonRoot"] is True, str(workload)
        assert spec["securityContext"]["runAsUser"] > 0, str(workload)
        assert spec["automountServiceAccountToken"] is False, str(workload)
    for container in containers(workload):
        where = f"{workload} container {container['name']}"
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False, where
        assert security["readOnlyRootFilesystem"] is True, where
        assert security["capabilities"] == {"drop": ["ALL"]}, where
        resources = container["resources"]
        assert {"cpu", "memory"} <= set(resources["requests"]), where
        assert "memory" in resources["limits"], where
        if workload.kind != "Job":
            assert "readinessProbe" in container, where
            assert "livenessProbe" in container, where
        image = container["image"]
        assert ":" in image.rsplit("/", 1)[-1], f"{where}: image without a tag"
        assert not image.endswith(":latest"), where
        if image.split(":")[0] in OUR_IMAGES:
            assert image.endswith(":" + project_version()), f"{where}: tag the project version"


@pytest.mark.parametrize("name", ["discovery", "processor"])
def test_the_services_probe_healthz_and_readyz_on_the_settings_port(name: str) -> None:
    deployment = find("Deployment", name)
    [container] = containers(deployment)
    env = container_env(deployment, container)
    [port] = [p for p in container["ports"] if p["name"] == "http"]
    assert str(port["containerPort"]) == env["AURORA_HTTP__PORT"]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/healthz"


def test_discovery_runs_at_least_two_replicas_spread_over_nodes() -> None:
    deployment = find("Deployment", "discovery")
    assert deployment.doc["spec"]["replicas"] >= 2
    keys = {c["topologyKey"] for c in pod_spec(deployment)["topologySpreadConstraints"]}
    assert keys == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}


def test_the_processor_scales_on_cpu_up_to_the_partition_count() -> None:
    hpa = find("HorizontalPodAutoscaler", "processor").doc["spec"]
    assert hpa["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "processor",
    }
    assert [m["resource"]["name"] for m in hpa["metrics"]] == ["cpu"]
    partitions = int(
        find("ConfigMap", "aurora-common").doc["data"]["AURORA_KAFKA__TOPIC_PARTITIONS"]
    )
    assert 2 <= hpa["minReplicas"] <= hpa["maxReplicas"] <= partitions


def test_replicated_workloads_have_disruption_budgets_that_allow_a_drain() -> None:
    budgets = {m.name: m.doc["spec"] for m in of_kind("PodDisruptionBudget")}
    assert set(budgets) == {"discovery", "processor", "kafka"}
    for name, spec in budgets.items():
        workload = next(m for m in of_kind("Deployment", "StatefulSet") if m.name == name)
        assert spec["selector"]["matchLabels"] == workload.doc["spec"]["selector"]["matchLabels"]
        replicas = workload.doc["spec"]["replicas"]
        allowed = spec.get("maxUnavailable", replicas - spec.get("minAvailable", replicas))
        assert 1 <= allowed < replicas or name == "processor", f"{name}: budget blocks drains"


def test_kafka_is_a_three_node_kraft_quorum_named_by_the_statefulset() -> None:
    statefulset = find("StatefulSet", "kafka").doc["spec"]
    assert statefulset["replicas"] == 3
    assert statefulset["podManagementPolicy"] == "Parallel"
    headless = find("Service", "kafka-headless").doc["spec"]
    assert statefulset["serviceName"] == "kafka-headless"
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True
    env = find("ConfigMap", "kafka").doc["data"]
    assert env["KAFKA_NODE_ID"] == "from-hostname"
    voters = env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
    assert voters == [
        f"{n}@kafka-{n}.kafka-headless.aurora-logs.svc.cluster.local:{env['KAFKA_CONTROLLER_PORT']}"
        for n in range(3)
    ]
    assert int(env["KAFKA_MIN_INSYNC_REPLICAS"]) < int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"]) <= 3
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", env["KAFKA_CLUSTER_ID"])
    [claim] = statefulset["volumeClaimTemplates"]
    [mount] = [
        m
        for m in statefulset["template"]["spec"]["containers"][0]["volumeMounts"]
        if m["name"] == claim["metadata"]["name"]
    ]
    assert env["KAFKA_DATA_DIR"].startswith(mount["mountPath"] + "/"), (
        "data, config and cluster id on the volume"
    )


def test_openobserve_is_a_statefulset_with_storage_and_s3() -> None:
    statefulset = find("StatefulSet", "openobserve").doc["spec"]
    assert statefulset["volumeClaimTemplates"]
    env = find("ConfigMap", "openobserve").doc["data"]
    assert env["ZO_LOCAL_MODE_STORAGE"] == "s3"
    assert env["ZO_S3_BUCKET_NAME"] == "company-aurora-logs-poc"
    assert int(env["ZO_INGEST_ALLOWED_UPTO"]) >= 30 * 24, "backfills reach 30 days back"


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def test_every_service_selects_pods_and_names_their_ports() -> None:
    for service in of_kind("Service"):
        selector = service.doc["spec"]["selector"]
        pods = [
            w
            for w in of_kind(*WORKLOAD_KINDS)
            if w.namespace == service.namespace
            and _selects(selector, w.doc["spec"]["template"]["metadata"]["labels"])
        ]
        assert pods, f"{service} selects no pods"
        names = {p["name"] for w in pods for c in containers(w) for p in c.get("ports", [])}
        for port in service.doc["spec"]["ports"]:
            assert port["targetPort"] in names, f"{service}: no container port {port['targetPort']}"


def test_the_settings_defaults_name_the_services_the_manifests_create() -> None:
    env = find("ConfigMap", "aurora-common").doc["data"]
    kafka_host = env["AURORA_KAFKA__BOOTSTRAP_SERVERS"].split(":")[0]
    valkey_host = env["AURORA_VALKEY__URL"].split("//")[1].split(":")[0]
    openobserve_host = env["AURORA_OPENOBSERVE__URL"].split("//")[1].split("/")[0]
    for host in (kafka_host, valkey_host, openobserve_host):
        name, namespace = host.split(".")[:2]
        find("Service", name, namespace)


def test_network_policies_deny_by_default_and_cover_every_workload() -> None:
    policies = of_kind("NetworkPolicy")
    for namespace in ("aurora-logs", "aurora-logs-agents"):
        deny = [
            p for p in policies if p.namespace == namespace and p.doc["spec"]["podSelector"] == {}
        ]
        assert any(
            set(p.doc["spec"]["policyTypes"]) == {"Ingress", "Egress"}
            and not p.doc["spec"].get("ingress")
            and not p.doc["spec"].get("egress")
            for p in deny
        ), f"{namespace}: no default-deny policy"
    for workload in of_kind(*WORKLOAD_KINDS):
        labels = workload.doc["spec"]["template"]["metadata"]["labels"]
        own = [
            p
            for p in policies
            if p.namespace == workload.namespace
            and p.doc["spec"]["podSelector"]
            and _selects(p.doc["spec"]["podSelector"]["matchLabels"], labels)
        ]
        assert own, f"{workload}: no NetworkPolicy allows it anything"


def test_irsa_roles_are_annotated_where_aws_is_called() -> None:
    pattern = re.compile(r"^arn:aws:iam::AWS_ACCOUNT_ID:role/aurora-logs-(?P<sa>[a-z-]+)$")
    annotated = {}
    for account in of_kind("ServiceAccount"):
        arn = account.doc["metadata"].get("annotations", {}).get("eks.amazonaws.com/role-arn")
        if arn:
            match = pattern.match(arn)
            assert match, f"{account}: {arn}"
            assert match["sa"] == account.name, f"{account}: {arn}"
            annotated[account.name] = arn
    assert set(annotated) == {"discovery", "processor", "openobserve"}
    for name in annotated:
        assert (K8S / "iam" / f"{name}-policy.json").is_file()


def test_the_provisioning_job_runs_the_command_from_the_processor_image() -> None:
    job = find("Job", "openobserve-provision")
    [container] = containers(job)
    assert container["image"].startswith("aurora-processor:")
    argv = [*container["command"], *container["args"]]
    assert argv[:5] == ["/usr/bin/tini", "--", "aurora-logs", "openobserve", "provision"]
    assert console_scripts()["aurora-logs"] == "common.cli:main"
    assert COMMANDS["openobserve"][0] == "processor.provisioning.cli"
