"""``aurora-logs simulate`` against the session's moto, and S3 staging."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from common.cli import COMMANDS
from simulator.client import SimulatorControl
from simulator.fleet import Fleet
from simulator.profiles import AURORA_MYSQL_2, Skew
from simulator.truth import Truth

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _events(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_simulate_runs_a_fleet_in_real_time_and_leaves_nothing_behind(
    moto_url: str, simulator_control: SimulatorControl
) -> None:
    assert "simulate" in COMMANDS
    prefix = f"cli{uuid.uuid4().hex[:6]}"
    # Two seconds before the hour, so the run crosses a rotation.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "common.cli",
            "simulate",
            "--moto",
            moto_url,
            "--clusters",
            "2",
            "--instances-per-cluster",
            "2",
            "--engines",
            "mysql3,postgresql",
            "--rate",
            "300KB/min",
            "--skew",
            "0.25:4:0.25",
            "--duration",
            "3",
            "--tick",
            "0.5",
            "--summary-every",
            "1",
            "--start",
            "2024-01-04T09:59:58",
            "--prefix",
            prefix,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    events = _events(result.stdout)
    names = [event["event"] for event in events]
    assert names[0] == "fleet_created"
    assert names[-1] == "fleet_stopped"
    assert "file_rotated" in names
    summaries = [event for event in events if event["event"] == "summary_reported"]
    assert len(summaries) >= 2
    assert sum(s["mb_written"] for s in summaries) > 0
    truth_path = Path(events[0]["truth"])
    truth = Truth.load_jsonl(truth_path)
    instances = {f.instance_id for f in truth.files()}
    assert len(instances) == 4
    assert all(i.startswith(prefix) for i in instances)
    rotated = [f for f in truth.files() if len(f.names) > 1 or f.name.endswith("-1000")]
    assert rotated
    # The CLI removed its clusters (and their files) at the end.
    rds = boto3.client(
        "rds",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="AKIACHECK00000000001",
        aws_secret_access_key="x",
    )
    try:
        clusters = rds.describe_db_clusters()["DBClusters"]
    finally:
        rds.close()
    assert not [c for c in clusters if c["DBClusterIdentifier"].startswith(prefix)]
    data_dir = simulator_control.info().data_dir
    assert not any((data_dir / instance).exists() for instance in instances)
    truth_path.unlink()


def test_simulate_explains_a_moto_it_cannot_use(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "common.cli",
            "simulate",
            "--moto",
            "http://127.0.0.1:9",
            "--duration",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "aurora-logs simulate: http://127.0.0.1:9" in result.stderr


def test_skew_makes_a_few_hot_and_many_idle() -> None:
    import random

    factors = Skew.parse("0.1:10:0.5").factors(100, random.Random(1))
    assert factors.count(10.0) == 10
    assert factors.count(0.0) == 50
    assert factors.count(1.0) == 40
    with pytest.raises(ValueError, match="exceed"):
        Skew(hot_fraction=0.6, idle_fraction=0.6)


def test_staging_copies_changed_files_to_s3(
    fleet: Fleet, moto_url: str, ident: Callable[[str], str]
) -> None:
    cluster = fleet.add_cluster(ident("staged"), AURORA_MYSQL_2, instances=1)
    assert cluster.writer is not None
    fleet.advance(60)
    bucket = ident("bucket")
    keys = fleet.stage_to_s3(bucket)
    assert sorted(keys) == sorted(
        f"staged/{cluster.writer}/{name}" for name in fleet.log_files(cluster.writer)
    )
    s3 = boto3.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="AKIAS3READER00000001",
        aws_secret_access_key="x",
    )
    try:
        for key in keys:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            name = key.split("/", 2)[2]
            assert body == fleet.path(cluster.writer, name).read_bytes()
    finally:
        s3.close()
    # Nothing changed: nothing staged. Time passes: the grown files are staged again.
    assert fleet.stage_to_s3(bucket) == []
    fleet.advance(60)
    again = fleet.stage_to_s3(bucket)
    assert f"staged/{cluster.writer}/general/mysql-general.log" in again
