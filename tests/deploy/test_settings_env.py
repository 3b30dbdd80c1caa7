"""Every AURORA_* variable the manifests and the compose file set is a setting, with a valid
value, for the service that reads it; and the settings that must be explicit are.

The settings classes are read at test time (``load_settings`` with each container's resolved
environment), so a section or field added later is checked without changing these tests.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from pydantic import BaseModel

from common.settings import CommonSettings, env_name, load_settings
from discovery.config import DiscoverySettings
from processor.config import ProcessorSettings
from tests.deploy.manifests import (
    SECRET_PLACEHOLDER,
    Manifest,
    compose,
    compose_env,
    container_env,
    containers,
    find,
    iter_aurora_names,
    of_kind,
    pod_spec,
)

# Settings the deployment must set itself rather than inherit from a default that may change:
# the drain rule's four values and the OpenObserve credentials.
SHUTDOWN = (
    "AURORA_SERVICE__SHUTDOWN_DEADLINE_S",
    "AURORA_SERVICE__TERMINATION_GRACE_PERIOD_S",
    "AURORA_KAFKA__SESSION_TIMEOUT_S",
)
EXPLICIT: dict[type[CommonSettings], tuple[str, ...]] = {
    DiscoverySettings: SHUTDOWN,
    ProcessorSettings: (
        *SHUTDOWN,
        "AURORA_PROCESSOR__DRAIN_TIMEOUT_S",
        "AURORA_OPENOBSERVE__USER",
        "AURORA_OPENOBSERVE__PASSWORD",
    ),
}


def _required(model: type[BaseModel], prefix: tuple[str, ...] = ()) -> set[str]:
    """Variables of fields without a default, found by walking the settings classes."""
    names = set()
    for field_name, field in model.model_fields.items():
        loc = (*prefix, field_name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names |= _required(annotation, loc)
        elif field.is_required():
            names.add(env_name(loc))
    return names


def _settings_class(image: str, argv: list[str]) -> type[CommonSettings] | None:
    """Which settings a container reads, from its image and command."""
    if "aurora-discovery" in image:
        return DiscoverySettings
    if "aurora-processor" in image:  # the service, and 'aurora-logs openobserve provision'
        return ProcessorSettings
    return None


def _check(where: str, cls: type[CommonSettings] | None, env: Mapping[str, str]) -> None:
    names = list(iter_aurora_names(env))
    if cls is None:
        assert not names, f"{where}: AURORA_* variables on a container that reads no settings"
        return
    settings = load_settings(cls, dict(env))  # unknown names and bad values raise
    missing = (_required(cls) | set(EXPLICIT[cls])) - set(names)
    assert not missing, f"{where}: must set {sorted(missing)}"
    grace = settings.service.termination_grace_period_s
    assert settings.service.shutdown_deadline_s < settings.kafka.session_timeout_s < grace


def _k8s_containers() -> list[tuple[Manifest, dict[str, object]]]:
    return [
        (w, c)
        for w in of_kind("Deployment", "StatefulSet", "DaemonSet", "Job")
        for c in containers(w)
    ]


@pytest.mark.parametrize(
    ("workload", "container"),
    _k8s_containers(),
    ids=lambda v: str(v) if isinstance(v, Manifest) else "",
)
def test_kubernetes_containers_set_valid_settings(
    workload: Manifest, container: dict[str, object]
) -> None:
    env = container_env(workload, container)
    argv = [str(a) for a in [*container.get("command", []), *container.get("args", [])]]  # type: ignore[list-item]
    cls = _settings_class(str(container["image"]), argv)
    _check(f"{workload}", cls, env)


@pytest.mark.parametrize("service", sorted(compose()["services"]))
def test_compose_services_set_valid_settings(service: str) -> None:
    definition = compose()["services"][service]
    argv = [str(a) for a in [*definition.get("entrypoint", []), *definition.get("command", [])]]
    _check(
        f"compose service {service}",
        _settings_class(str(definition.get("image", "")), argv),
        compose_env(service),
    )


@pytest.mark.parametrize("name", ["discovery", "processor"])
def test_termination_grace_period_is_the_one_the_settings_know(name: str) -> None:
    deployment = find("Deployment", name)
    [container] = containers(deployment)
    env = container_env(deployment, container)
    grace = pod_spec(deployment)["terminationGracePeriodSeconds"]
    assert float(env["AURORA_SERVICE__TERMINATION_GRACE_PERIOD_S"]) == grace


@pytest.mark.parametrize("service", ["discovery", "processor"])
def test_compose_stop_grace_is_the_one_the_settings_know(service: str) -> None:
    grace = compose()["services"][service]["stop_grace_period"]
    assert (
        grace
        == f"{int(float(compose_env(service)['AURORA_SERVICE__TERMINATION_GRACE_PERIOD_S']))}s"
    )


def test_a_broken_drain_rule_in_the_manifests_would_fail() -> None:
    deployment = find("Deployment", "processor")
    [container] = containers(deployment)
    env = container_env(deployment, container)
    env["AURORA_KAFKA__SESSION_TIMEOUT_S"] = env["AURORA_SERVICE__TERMINATION_GRACE_PERIOD_S"]
    with pytest.raises(Exception, match="session_timeout_s"):
        _check("processor with a long session", ProcessorSettings, env)


def test_an_unknown_variable_in_the_manifests_would_fail() -> None:
    deployment = find("Deployment", "discovery")
    [container] = containers(deployment)
    env = {**container_env(deployment, container), "AURORA_KAFKA__BOOTSTRAP_SERVER": "x:1"}
    with pytest.raises(Exception, match="AURORA_KAFKA__BOOTSTRAP_SERVER"):
        _check("discovery with a typo", DiscoverySettings, env)


def test_secrets_reach_the_processor_only_through_secret_refs() -> None:
    deployment = find("Deployment", "processor")
    [container] = containers(deployment)
    env = container_env(deployment, container)
    assert env["AURORA_OPENOBSERVE__PASSWORD"] == SECRET_PLACEHOLDER
    for config in of_kind("ConfigMap"):
        for key in config.doc.get("data", {}):
            assert "PASSWORD" not in key.upper(), f"{config}: {key}"
            assert "SECRET" not in key.upper(), f"{config}: {key}"
