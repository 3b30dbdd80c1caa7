"""The ``aurora-logs`` command line and the installed console scripts."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from common.cli import COMMANDS, _load, main, point_in_time_ms


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


def test_points_in_time_are_iso_or_an_age() -> None:
    assert point_in_time_ms("2026-11-27T08:00:00Z") == 1_795_766_400_000
    assert point_in_time_ms("2026-11-27T09:00:00+01:00") == 1_795_766_400_000
    assert point_in_time_ms("2026-11-27T08:00:00") == 1_795_766_400_000  # UTC by default
    assert point_in_time_ms("2h", now_s=1_000_000) == (1_000_000 - 7200) * 1000
    assert point_in_time_ms("7d", now_s=1_000_000) == (1_000_000 - 7 * 86400) * 1000
    with pytest.raises(argparse.ArgumentTypeError, match="neither an ISO 8601 time"):
        point_in_time_ms("2 hours")
