"""The ``aurora-logs`` command line and the installed console scripts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from common.cli import COMMANDS, _load, main


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_every_registered_command_module_has_the_contract() -> None:
    for module_name, _help in COMMANDS.values():
        module = _load(module_name)
        assert callable(module.add_arguments)
        assert callable(module.run)


def test_a_command_from_a_missing_package_explains_itself() -> None:
    with pytest.raises(SystemExit, match="does not include"):
        _load("not_installed_package.cli")


@pytest.mark.parametrize("script", ["aurora-logs", "aurora-discovery", "aurora-processor"])
def test_console_scripts_are_installed(script: str) -> None:
    path = Path(sys.executable).parent / script
    assert path.exists(), f"{script} missing: reinstall the package (make setup)"
    if script == "aurora-logs":
        result = subprocess.run(
            [str(path), "settings"], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stderr
        assert '"topic": "aurora-logs"' in result.stdout
