"""What the deployment tests read: Kubernetes manifests, the compose file, Dockerfiles, and the
environment each container would get, resolved the way Kubernetes and Compose resolve it."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILES = {
    "discovery": ROOT / "discovery" / "Dockerfile",
    "processor": ROOT / "processor" / "Dockerfile",
    "kafka": ROOT / "kafka" / "Dockerfile",
    "openobserve": ROOT / "openobserve" / "Dockerfile",
    "dev": ROOT / "Dockerfile.dev",
}
WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job"})
# A value the test puts where Kubernetes would inject a Secret's key.
SECRET_PLACEHOLDER = "secret-from-kubernetes"


@dataclass(frozen=True)
class Manifest:
    path: Path
    index: int
    doc: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.doc["kind"])

    @property
    def name(self) -> str:
        return str(self.doc["metadata"]["name"])

    @property
    def namespace(self) -> str | None:
        namespace = self.doc["metadata"].get("namespace")
        return None if namespace is None else str(namespace)

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}#{self.index} {self.kind}/{self.name}"


@cache
def manifests() -> tuple[Manifest, ...]:
    """Every Kubernetes object under k8s/, in file order."""
    found = []
    for path in sorted(K8S.rglob("*.yaml")):
        for index, doc in enumerate(yaml.safe_load_all(path.read_text())):
            if doc:
                found.append(Manifest(path, index, doc))
    return tuple(found)


def of_kind(*kinds: str) -> list[Manifest]:
    return [m for m in manifests() if m.kind in kinds]


def find(kind: str, name: str, namespace: str = "aurora-logs") -> Manifest:
    for manifest in manifests():
        if manifest.kind == kind and manifest.name == name and manifest.namespace == namespace:
            return manifest
    raise AssertionError(f"no {kind} {namespace}/{name} under k8s/")


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload.doc["spec"]["template"]["spec"]
    return spec


def containers(workload: Manifest) -> list[dict[str, Any]]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def container_env(workload: Manifest, container: Mapping[str, Any]) -> dict[str, str]:
    """The environment Kubernetes gives ``container``: ConfigMaps of ``envFrom`` in order, then
    ``env``; a Secret's key becomes :data:`SECRET_PLACEHOLDER`."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source.get("configMapRef")
        assert ref is not None, f"{workload}: envFrom only from ConfigMaps (secrets by key)"
        config = find("ConfigMap", ref["name"], workload.namespace or "aurora-logs")
        env.update({str(k): str(v) for k, v in config.doc.get("data", {}).items()})
    for item in container.get("env", []):
        if "value" in item:
            env[item["name"]] = str(item["value"])
        elif "secretKeyRef" in item.get("valueFrom", {}):
            env[item["name"]] = SECRET_PLACEHOLDER
        elif "configMapKeyRef" in item.get("valueFrom", {}):
            ref = item["valueFrom"]["configMapKeyRef"]
            config = find("ConfigMap", ref["name"], workload.namespace or "aurora-logs")
            env[item["name"]] = str(config.doc["data"][ref["key"]])
    return env


@cache
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text())
    return data


def compose_env(service: str) -> dict[str, str]:
    env = compose()["services"][service].get("environment", {})
    assert isinstance(env, dict), f"compose service {service}: environment must be a mapping"
    return {str(k): str(v) for k, v in env.items()}


@cache
def console_scripts() -> dict[str, str]:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    scripts: dict[str, str] = pyproject["project"]["scripts"]
    return scripts


@cache
def project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


@dataclass(frozen=True)
class Instruction:
    stage: int
    keyword: str
    arguments: str


def dockerfile_instructions(path: Path) -> list[Instruction]:
    """The instructions of a Dockerfile (continuations joined, comments dropped), each with the
    index of its stage (0 for the first FROM)."""
    lines: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    stage = -1
    instructions = []
    for line in lines:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        instructions.append(Instruction(stage, keyword, re.sub(r"\s+", " ", arguments).strip()))
    return instructions


def iter_aurora_names(env: Mapping[str, str]) -> Iterator[str]:
    return (name for name in env if name.startswith("AURORA_"))
