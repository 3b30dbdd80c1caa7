"""docker-compose.yml against the Compose Specification's JSON schema, and its wiring.

The schema is the compose-spec project's own, as vendored (with its licence) by the
``check-jsonschema`` package: installed from the registry with the dev extra, read from the
package, never copied into this repository, and used offline. ``docker compose config`` does
more (interpolation, merging) but needs Docker; the checks below add what a schema cannot:
every dependency exists and is healthy-checked, every volume is declared, every build names
a Dockerfile that exists.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import jsonschema
import pytest

from tests.deploy.manifests import ROOT, compose


def _schema() -> dict[str, Any]:
    text = (files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def _errors(document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(
        _schema(), format_checker=jsonschema.FormatChecker()
    )
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(document)
    ]


def test_the_compose_file_follows_the_compose_specification() -> None:
    assert _errors(compose()) == []


def test_the_schema_refuses_what_compose_would_refuse() -> None:
    misspelt = json.loads(json.dumps(compose()))
    misspelt["services"]["kafka"]["healthcheck"]["intervall"] = "5s"
    assert any("'intervall'" in error for error in _errors(misspelt))
    unknown = json.loads(json.dumps(compose()))
    unknown["services"]["valkey"]["depends_on"] = {"kafka": {"condition": "service_happy"}}
    assert any(error.startswith("services/valkey") for error in _errors(unknown))


def test_the_stack_has_every_component() -> None:
    assert set(compose()["services"]) >= {
        "kafka",
        "valkey",
        "moto",
        "simulator",
        "openobserve",
        "openobserve-provision",
        "discovery",
        "processor",
    }


@pytest.mark.parametrize("name", sorted(compose()["services"]))
def test_dependencies_exist_and_are_awaited_properly(name: str) -> None:
    services = compose()["services"]
    for dependency, rule in services[name].get("depends_on", {}).items():
        assert dependency in services, f"{name} depends on unknown {dependency}"
        if rule["condition"] == "service_healthy":
            assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
        else:
            assert rule["condition"] == "service_completed_successfully"
            assert services[dependency].get("restart") == "no", f"{dependency} is one-shot"


def test_long_running_services_have_healthchecks() -> None:
    services = compose()["services"]
    for name in ("kafka", "valkey", "moto", "openobserve"):
        assert services[name]["healthcheck"]["test"][0] == "CMD", name


def test_named_volumes_are_declared_and_used() -> None:
    declared = set(compose()["volumes"])
    used = {
        volume.split(":", 1)[0]
        for service in compose()["services"].values()
        for volume in service.get("volumes", [])
    }
    assert used == declared
    assert declared == {"kafka-data", "openobserve-data"}


def test_builds_name_existing_dockerfiles_and_one_image_per_dockerfile() -> None:
    images: dict[str, str] = {}
    for name, service in compose()["services"].items():
        build = service.get("build")
        if build is None:
            continue
        assert build["context"] == "."
        assert (ROOT / build["dockerfile"]).is_file(), f"{name}: {build['dockerfile']}"
        assert images.setdefault(service["image"], build["dockerfile"]) == build["dockerfile"]
    assert images == {
        "aurora-kafka:dev": "kafka/Dockerfile",
        "aurora-logs-dev:dev": "Dockerfile.dev",
        "aurora-openobserve:dev": "openobserve/Dockerfile",
        "aurora-processor:dev": "processor/Dockerfile",
        "aurora-discovery:dev": "discovery/Dockerfile",
    }


def test_moto_loads_the_simulator_extension() -> None:
    command = compose()["services"]["moto"]["command"]
    assert command[:3] == ["python", "-m", "devstack.moto_server"]
    assert command[command.index("--extension") + 1] == "simulator.rds_api:install"
    assert compose()["services"]["simulator"]["command"][:2] == ["aurora-logs", "simulate"]


def test_the_services_point_at_the_compose_services() -> None:
    for name in ("discovery", "processor", "openobserve-provision"):
        env = compose()["services"][name]["environment"]
        assert env["AURORA_KAFKA__BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert env["AURORA_VALKEY__URL"].startswith("redis://valkey:6379/")
        assert env["AURORA_AWS__ENDPOINT_URL"] == "http://moto:5000"
        assert env["AURORA_OPENOBSERVE__URL"] == "http://openobserve:5080"
    openobserve = compose()["services"]["openobserve"]["environment"]
    processor = compose()["services"]["processor"]["environment"]
    assert openobserve["ZO_ROOT_USER_EMAIL"] == processor["AURORA_OPENOBSERVE__USER"]
    assert openobserve["ZO_ROOT_USER_PASSWORD"] == processor["AURORA_OPENOBSERVE__PASSWORD"]
