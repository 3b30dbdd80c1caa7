"""``make run`` as a user runs it (off a terminal): the whole system for half a minute, records of
every log type in the file sink, a summary, and no process left behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from devstack.monitor import LOG_TYPES, Metrics
from devstack.run import marked_processes, sink_env

ROOT = Path(__file__).resolve().parents[2]


def _make_run(workdir: Path, duration_s: int, extra_env: dict[str, str] | None = None) -> str:
    """``devstack.run`` as ``make run`` starts it, off a terminal, with none of the caller's
    AURORA_/AWS_ settings (plus ``extra_env``); its output, once it exited 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "AWS_"))}
    env.update(extra_env or {})
    argv = ["--duration", str(duration_s), "--every", "10", "--workdir", str(workdir)]
    done = subprocess.run(
        [sys.executable, "-m", "devstack.run", *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    return output


@pytest.mark.integration
@pytest.mark.slow
def test_make_run_ships_every_log_type_and_stops_cleanly(tmp_path: Path) -> None:
    workdir = tmp_path / "run"
    # No OpenObserve configured: the file sink is the target.
    output = _make_run(workdir, 30)

    data = workdir / "data"
    for log_type, (_kind, stream) in LOG_TYPES.items():
        lines = (data / f"{stream}.ndjson").read_text().splitlines()
        assert lines, f"no {log_type} record in the file sink"
        records = [json.loads(line) for line in lines]
        assert {record["log_type"] for record in records} == {log_type}
        assert all(record["message"] for record in records)
        assert f"{stream}: 2 sample record(s)" in output

    # Plain periodic lines off a terminal, then the summary with the shipped counts.
    assert output.count("] up 4/4 |") >= 2, output[-3000:]
    assert "summary after" in output
    shipped = int(output.split("shipped in all: ")[1].split()[0].replace(",", ""))
    on_disk = sum(
        len((data / f"{stream}.ndjson").read_text().splitlines())
        for _kind, stream in LOG_TYPES.values()
    )
    # The summary is taken just before the processors drain, so the disk may hold a few more.
    assert 0 < shipped <= on_disk
    assert "all processes stopped" in output
    assert marked_processes(str(workdir.resolve())) == []


def test_the_sink_is_openobserve_only_when_one_is_configured(tmp_path: Path) -> None:
    assert sink_env({}, tmp_path) == {
        "AURORA_PROCESSOR__SINK": "file",
        "AURORA_PROCESSOR__FILE_SINK_DIR": str(tmp_path),
        "AURORA_PROCESSOR__FILE_SINK_MAX_FILE_BYTES": "8388608",
        "AURORA_PROCESSOR__FILE_SINK_KEEP_FILES": "3",
    }
    for name in ("AURORA_OPENOBSERVE_URL", "AURORA_OPENOBSERVE__URL"):
        assert sink_env({name: "http://o2.example:5080"}, tmp_path) == {
            "AURORA_PROCESSOR__SINK": "openobserve",
            "AURORA_OPENOBSERVE__URL": "http://o2.example:5080",
        }


def test_metrics_are_summed_by_label() -> None:
    metrics = Metrics.parse(
        "# TYPE aurora_processor_records_shipped_total counter\n"
        'aurora_processor_records_shipped_total{stream="aurora_mysql_slow"} 5.0\n'
        'aurora_processor_records_shipped_total{stream="aurora_postgresql"} 7.0\n'
        "# TYPE aurora_processor_records_total counter\n"
        'aurora_processor_records_total{log_type="postgresql",outcome="parsed"} 9.0\n'
        'aurora_processor_records_total{log_type="postgresql",outcome="dead_lettered"} 1.0\n'
    )
    assert metrics.total("aurora_processor_records_shipped_total") == 12
    assert metrics.by("aurora_processor_records_shipped_total", "stream") == {
        "aurora_mysql_slow": 5,
        "aurora_postgresql": 7,
    }
    assert metrics.total("aurora_processor_records_total", outcome="parsed") == 9
    assert metrics.total("aurora_processor_absent_total") == 0


@pytest.mark.integration
@pytest.mark.slow
def test_make_run_ships_to_the_openobserve_it_is_given(
    tmp_path: Path, openobserve_url: str, openobserve_credentials: tuple[str, str]
) -> None:
    workdir = tmp_path / "run"
    user, password = openobserve_credentials
    # make run's spelling of the URL, which no service may see (they refuse unknown names).
    given = {
        "AURORA_OPENOBSERVE_URL": openobserve_url,
        "AURORA_OPENOBSERVE__USER": user,
        "AURORA_OPENOBSERVE__PASSWORD": password,
    }
    output = _make_run(workdir, 20, given)
    assert f"records go to: OpenObserve at {openobserve_url}" in output
    assert not (workdir / "data").exists()
    for log_type, (_kind, stream) in LOG_TYPES.items():
        answer = httpx.get(
            f"{openobserve_url}/_contract/records",
            params={"org": "default", "stream": stream, "field": "instance", "prefix": "sim-"},
        )
        records = answer.json()["records"]
        assert records, f"no {log_type} record of the run's fleet in OpenObserve"
        # The closing samples come from OpenObserve's _search: the parsed fields of real records.
        assert f"{stream}: 2 sample record(s)" in output
    assert "search failed" not in output
    assert marked_processes(str(workdir.resolve())) == []
