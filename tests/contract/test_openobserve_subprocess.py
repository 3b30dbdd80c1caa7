"""The contract server as a subprocess (``python -m tests.contract.openobserve_server``), the way
a pipeline benchmark or an integration test starts it, and its ingestion throughput there."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
START_DEADLINE_S = 20.0
# A floor far below what the server sustains (see test_ingestion_throughput), so a busy CI
# machine does not fail it, yet high enough to catch a per-record slowdown.
MIN_RECORDS_PER_S = 10_000


def _wait_for_port(port_file: Path, process: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if port_file.exists():
            return int(port_file.read_text())
        if process.poll() is not None:
            raise AssertionError(f"server exited early with {process.returncode}")
        time.sleep(0.01)  # polling a file the child writes; bounded by the deadline
    raise AssertionError("the server did not write its port file in time")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port_file = tmp_path / "port"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.contract.openobserve_server",
            "--port",
            "0",
            "--port-file",
            str(port_file),
            "--user",
            "ci@example.com",
            "--password",
            "pw",
            "--org",
            "aurora",
            "--ingest-allowed-upto-hours",
            "720",
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        port = _wait_for_port(port_file, process)
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        assert process.stderr is not None
        process.stderr.close()


def test_subprocess_ingests_searches_fails_on_request_and_stops_on_sigterm(
    served: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, process = served
    with httpx.Client(base_url=url, auth=("ci@example.com", "pw"), timeout=10.0) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        day_old_us = int((time.time() - 24 * 3600) * 1_000_000)  # allowed: --...-upto-hours 720
        docs = [{"_timestamp": day_old_us + i, "level": "error", "n": i} for i in range(10)]
        response = client.post("/api/aurora/pg_logs/_json", json=docs)
        assert response.json() == {
            "code": 200,
            "status": [{"name": "pg_logs", "successful": 10, "failed": 0}],
        }
        query = {
            "sql": "SELECT COUNT(*) AS c FROM \"pg_logs\" WHERE level = 'error'",
            "start_time": day_old_us,
            "end_time": day_old_us + 10,
        }
        hits = client.post("/api/aurora/_search", json={"query": query}).json()["hits"]
        assert hits == [{"c": 10}]

        client.post("/_contract/faults", json={"fail_next": {"count": 1, "status": 503}})
        assert client.post("/api/aurora/pg_logs/_json", json=docs).status_code == 503
        assert client.post("/api/aurora/pg_logs/_json", json=docs[:1]).status_code == 200
        records = client.get("/_contract/records", params={"org": "aurora", "stream": "pg_logs"})
        assert len(records.json()["records"]) == 11
        statuses = [r["status"] for r in client.get("/_contract/requests").json()["requests"]]
        assert statuses == [200, 200, 503, 200]

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_ingestion_throughput(served: tuple[str, subprocess.Popen[bytes]]) -> None:
    url, _ = served
    now_us = int(time.time() * 1_000_000)
    batch = [
        {
            "_timestamp": now_us - i,
            "db_instance": "aurora-pg-1",
            "log_file": "error/postgresql.log.2026-01-01-00",
            "severity": "LOG",
            "pid": 4242 + i,
            "message": f"duration: {i}.5 ms statement: SELECT 1",
            "aws": {"region": "eu-west-1", "account": "123456789012"},
        }
        for i in range(1000)
    ]
    body = "\n".join(json.dumps(doc) for doc in batch).encode()
    requests = 30
    with httpx.Client(base_url=url, auth=("ci@example.com", "pw"), timeout=30.0) as client:
        started = time.monotonic()
        for _ in range(requests):
            response = client.post("/api/aurora/bench/_multi", content=body)
            assert response.json()["status"][0]["successful"] == len(batch)
        elapsed = time.monotonic() - started
    rate = requests * len(batch) / elapsed
    assert rate >= MIN_RECORDS_PER_S, f"{rate:.0f} records/s"
