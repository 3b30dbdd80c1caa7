"""The whole pipeline, end to end: a simulated fleet, two discovery replicas and two processor
replicas as separate processes, the real Kafka, Valkey and moto, and the OpenObserve contract
server. Files grow, rotate at the hour (MySQL dated and legacy ``.N`` names, PostgreSQL new
names, server_audit rename chains) and are finally all rotated out; then every entry the
simulator wrote must be in OpenObserve exactly once, for every log type, compared entry by
entry (instance, exact bytes) with the simulator's ground truth."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from simulator import (
    AURORA_MYSQL_2,
    AURORA_MYSQL_3,
    AURORA_POSTGRESQL,
    Fleet,
    LogOptions,
    LogProfile,
    SimClock,
    entry_digest,
)
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
STREAMS = {
    "mysql_slow": "aurora_mysql_slow",
    "mysql_error": "aurora_mysql_error",
    "mysql_general": "aurora_mysql_general",
    "mysql_audit": "aurora_mysql_audit",
    "postgresql": "aurora_postgresql",
}
KIND_TYPES = {
    "slowquery": "mysql_slow",
    "error": "mysql_error",
    "general": "mysql_general",
    "audit": "mysql_audit",
    "postgresql": "postgresql",
}


@dataclass
class Services:
    env: dict[str, str]
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, module: str, name: str, **extra: str) -> None:
        env = {**self.env, **extra}
        with (self.logs / f"{name}.log").open("wb") as out:
            self.processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", module],
                    cwd=ROOT,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )

    def check_alive(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                names = sorted(path.name for path in self.logs.iterdir())
                raise AssertionError(f"a service exited ({process.returncode}); logs: {names}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def services(
    tmp_path: Path,
    kafka_bootstrap: str,
    valkey_url: str,
    moto_url: str,
    openobserve_url: str,
    openobserve_credentials: tuple[str, str],
    unique_name: Callable[[str], str],
) -> Iterator[Services]:
    user, password = openobserve_credentials
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "AWS_"))}
    env = {
        **inherited,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_SECRET_ACCESS_KEY": "e2e-secret",
        "AURORA_AWS__ENDPOINT_URL": moto_url,
        "AURORA_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AURORA_KAFKA__TOPIC": unique_name("e2e-events"),
        "AURORA_KAFKA__DEAD_LETTER_TOPIC": unique_name("e2e-dlq"),
        "AURORA_KAFKA__CONSUMER_GROUP": unique_name("e2e-processors"),
        "AURORA_KAFKA__TOPIC_PARTITIONS": "4",
        "AURORA_KAFKA__SESSION_TIMEOUT_S": "8",
        "AURORA_KAFKA__HEARTBEAT_INTERVAL_S": "1",
        "AURORA_VALKEY__URL": valkey_url,
        "AURORA_VALKEY__KEY_PREFIX": unique_name("e2e") + ":",
        "AURORA_DYNAMODB__TABLE": unique_name("e2e-tracking"),
        "AURORA_DYNAMODB__CREATE_TABLE_IF_MISSING": "true",
        "AURORA_RDS__BUDGET_RATE_PER_S": "40",
        "AURORA_RDS__BUDGET_BURST": "40",
        "AURORA_OPENOBSERVE__URL": openobserve_url,
        "AURORA_OPENOBSERVE__USER": user,
        "AURORA_OPENOBSERVE__PASSWORD": password,
        "AURORA_DISCOVERY__MIN_POLL_INTERVAL_S": "1",
        "AURORA_DISCOVERY__MAX_POLL_INTERVAL_S": "3",
        "AURORA_DISCOVERY__INVENTORY_INTERVAL_S": "2",
        "AURORA_DISCOVERY__FULL_LISTING_INTERVAL_S": "10",
        "AURORA_DISCOVERY__LEASE_TTL_S": "6",
        "AURORA_DISCOVERY__LEASE_RENEW_INTERVAL_S": "2",
        "AURORA_DISCOVERY__MEMBER_TTL_S": "6",
        "AURORA_PROCESSOR__MAX_BATCH_AGE_S": "0.2",
        "AURORA_PROCESSOR__COMMIT_INTERVAL_S": "0.5",
        "AURORA_PROCESSOR__DRAIN_TIMEOUT_S": "4",
        "AURORA_SERVICE__SHUTDOWN_DEADLINE_S": "5",
        "AURORA_SERVICE__TERMINATION_GRACE_PERIOD_S": "10",
        "AURORA_HTTP__HOST": "127.0.0.1",
        "AURORA_HTTP__PORT": "0",
        "AURORA_LOGGING__FORMAT": "json",
    }
    running = Services(env, tmp_path)
    yield running
    running.stop()


async def _delivered(openobserve_url: str, prefix: str) -> dict[str, list[dict[str, object]]]:
    found: dict[str, list[dict[str, object]]] = {}
    async with httpx.AsyncClient(base_url=openobserve_url, timeout=60) as client:
        for log_type, stream in STREAMS.items():
            params = {"org": "default", "stream": stream}
            answer = await client.get("/_contract/records", params=params)
            rows = answer.json()["records"] if answer.status_code == 200 else []
            found[log_type] = [
                row for row in rows if str(row.get("instance", "")).startswith(prefix)
            ]
    return found


def _record_digest(row: dict[str, object]) -> str:
    data = str(row["message"]).encode()
    if int(str(row["length"])) == len(data) + 1:
        data += b"\n"
    return entry_digest(data)


async def test_every_entry_arrives_exactly_once(
    services: Services, moto_url: str, simulator_control: object, openobserve_url: str
) -> None:
    prefix = f"e2e{uuid.uuid4().hex[:6]}"
    hour_us = 3_600_000_000
    now_us = int(time.time() * 1e6)
    # Six simulated minutes before the top of the hour: the run crosses it, and every log
    # rotates there. Timestamps stay within OpenObserve's five-hour window.
    start_us = now_us - now_us % hour_us - 6 * 60_000_000
    fleet = Fleet(moto_url, clock=SimClock(start_us / 1e6), seed=prefix)
    try:
        fleet.add_cluster(
            f"{prefix}-mysql3",
            AURORA_MYSQL_3,
            instances=2,
            profile=LogProfile.realistic(AURORA_MYSQL_3, 150_000),
        )
        legacy = LogOptions(
            query_log_naming="hour",
            error_naming="hour",
            audit_style="server_audit",
            server_audit_rotate_bytes=60_000,
        )
        fleet.add_cluster(
            f"{prefix}-mysql2",
            AURORA_MYSQL_2,
            instances=1,
            profile=LogProfile.realistic(AURORA_MYSQL_2, 150_000, legacy),
        )
        fleet.add_cluster(
            f"{prefix}-pg",
            AURORA_POSTGRESQL,
            instances=2,
            profile=LogProfile.realistic(AURORA_POSTGRESQL, 150_000),
        )
        services.env["AURORA_DISCOVERY__INCLUDE_CLUSTERS"] = json.dumps([f"{prefix}-*"])
        for number in (1, 2):
            services.start(
                "discovery",
                f"discovery-{number}",
                AURORA_DISCOVERY__REPLICA_ID=f"discovery-{number}",
                AWS_ACCESS_KEY_ID=f"AKIAE2EDISCOVERY000{number}",
            )
            services.start(
                "processor", f"processor-{number}", AWS_ACCESS_KEY_ID=f"AKIAE2EPROCESSOR000{number}"
            )
        for _ in range(10):  # ten simulated minutes, in real time enough for polls between
            fleet.advance(60)
            services.check_alive()
            await asyncio.sleep(1.5)
        # Rotate every log out, so no entry waits for a successor to end it.
        for instance in fleet.instances:
            for kind in fleet.instance(instance).profile.rates:
                fleet.rotate(instance, kind)

        truth = Counter(
            (entry.instance_id, KIND_TYPES.get(entry.kind, entry.kind), entry.digest)
            for entry in fleet.truth.entries()
            if entry.instance_id.startswith(prefix)
        )
        assert sum(truth.values()) > 3000
        kinds_written = {log_type for _instance, log_type, _digest in truth}
        assert kinds_written == set(STREAMS)

        last: list[Counter[tuple[str, str, str]]] = [Counter()]
        rows_seen: list[dict[str, list[dict[str, object]]]] = [{}]

        async def arrived() -> bool:
            services.check_alive()
            rows = await _delivered(openobserve_url, prefix)
            rows_seen[0] = rows
            last[0] = Counter(
                (str(row["instance"]), log_type, _record_digest(row))
                for log_type, found in rows.items()
                for row in found
            )
            return last[0] == truth

        def report() -> str:
            extra_keys = set((last[0] - truth).elements())
            missing_keys = set((truth - last[0]).elements())
            debug = {
                "extra": [
                    {k: row.get(k) for k in ("instance", "log_file", "offset", "length", "message")}
                    for found in rows_seen[0].values()
                    for row in found
                    if (str(row["instance"]), "mysql_audit", _record_digest(row)) in extra_keys
                ][:20],
                "missing": [
                    (e.instance_id, e.name, e.offset, e.length)
                    for e in fleet.truth.entries()
                    if (e.instance_id, KIND_TYPES.get(e.kind, e.kind), e.digest) in missing_keys
                ][:20],
            }
            Path("/tmp/e2e_debug.json").write_text(json.dumps(debug, indent=1, default=str))
            missing = Counter(log_type for (_i, log_type, _d) in (truth - last[0]).elements())
            extra = Counter(log_type for (_i, log_type, _d) in (last[0] - truth).elements())
            return f"missing by type {dict(missing)}, extra by type {dict(extra)}"

        await eventually(arrived, timeout_s=100, interval_s=2, message=report)
        rows = await _delivered(openobserve_url, prefix)
        ids = [str(row["record_id"]) for found in rows.values() for row in found]
        assert len(ids) == len(set(ids)), "a record was shipped twice"
        assert not any(row.get("parse_error") for found in rows.values() for row in found)
    finally:
        fleet.close()
