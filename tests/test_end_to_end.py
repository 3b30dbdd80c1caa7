"""The whole pipeline, end to end: a simulated fleet, two discovery replicas and two processor
replicas as separate processes, the real Kafka, Valkey and moto, and the OpenObserve contract
server. Files grow, rotate at the hour (MySQL dated and legacy ``.N`` names, PostgreSQL new
names, server_audit rename chains) and are finally all rotated out; then every entry the
simulator wrote must be in OpenObserve exactly once, for every log type, compared entry by
entry (instance, exact bytes) with the simulator's ground truth."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from devstack.pipeline import STREAMS, Services, delivered_rows, pipeline_env, record_key, truth_key
from simulator import (
    AURORA_MYSQL_2,
    AURORA_MYSQL_3,
    AURORA_POSTGRESQL,
    Fleet,
    LogOptions,
    LogProfile,
    SimClock,
)
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]


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
    env = pipeline_env(
        unique_name("e2e"),
        kafka_bootstrap=kafka_bootstrap,
        valkey_url=valkey_url,
        moto_url=moto_url,
        openobserve_url=openobserve_url,
        openobserve_credentials=openobserve_credentials,
    )
    running = Services(env, tmp_path)
    yield running
    assert not running.stop(), "a service outlived the test"


async def _delivered(openobserve_url: str, prefix: str) -> dict[str, list[dict[str, Any]]]:
    def fetch() -> dict[str, list[dict[str, Any]]]:
        with httpx.Client(base_url=openobserve_url, timeout=60) as client:
            return delivered_rows(client, prefix)

    return await asyncio.to_thread(fetch)


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
            truth_key(entry)
            for entry in fleet.truth.entries()
            if entry.instance_id.startswith(prefix)
        )
        assert sum(truth.values()) > 3000
        kinds_written = {log_type for _instance, log_type, _digest in truth}
        assert kinds_written == set(STREAMS)

        last: list[Counter[tuple[str, str, str]]] = [Counter()]
        spans: dict[tuple[str, str, str], tuple[object, object]] = {}

        async def arrived() -> bool:
            services.check_alive()
            rows = await _delivered(openobserve_url, prefix)
            last[0] = Counter()
            for log_type, found in rows.items():
                for row in found:
                    key = record_key(row, log_type)
                    last[0][key] += 1
                    spans[key] = (row.get("log_file"), row.get("offset"))
            return last[0] == truth

        def report() -> str:
            missing = truth - last[0]
            extra = last[0] - truth
            where = {
                truth_key(entry): (entry.name, entry.offset) for entry in fleet.truth.entries()
            }
            by_type = [
                f"{label} by type {dict(Counter(t for _i, t, _d in keys.elements()))}"
                f" e.g. {sorted(str(table.get(key)) for key in keys)[:5]}"
                for label, keys, table in (("missing", missing, where), ("extra", extra, spans))
            ]
            return "; ".join(by_type) + f"; service logs in {services.logs}"

        await eventually(arrived, timeout_s=180, interval_s=2, message=report)
        rows = await _delivered(openobserve_url, prefix)
        ids = [str(row["record_id"]) for found in rows.values() for row in found]
        assert len(ids) == len(set(ids)), "a record was shipped twice"
        assert not any(row.get("parse_error") for found in rows.values() for row in found)
    finally:
        fleet.close()
