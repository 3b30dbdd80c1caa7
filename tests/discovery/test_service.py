"""The assembled service in-process: ready, polling, observable, and a graceful stop."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest
import redis.asyncio as redis

from common.clients.aws import AwsClients
from common.health import HealthServer, Liveness, Readiness
from common.runner import Lifecycle
from common.settings import load_settings
from common.tracking import TrackingTable
from discovery.config import DiscoverySettings
from discovery.metrics import BYTES_LOST, EVENTS_PUBLISHED
from discovery.service import make_main
from simulator import AURORA_MYSQL_3, Fleet, LogProfile, Rate
from tests.waiting import eventually

pytestmark = pytest.mark.integration


async def test_service_polls_publishes_counts_losses_and_stops_cleanly(
    fleet: Fleet,
    ident: Callable[[str], str],
    unique_name: Callable[[str], str],
    kafka_bootstrap: str,
    valkey_url: str,
    moto_url: str,
    aws_environ: dict[str, str],
    valkey: redis.Redis,
    key_prefix: str,
) -> None:
    cluster = fleet.add_cluster(
        ident("svc"),
        AURORA_MYSQL_3,
        instances=2,
        profile=LogProfile.uniform(AURORA_MYSQL_3, Rate(bytes_per_min=500)),
    )
    fleet.advance(600)
    settings = load_settings(
        DiscoverySettings,
        {
            "AURORA_AWS__ENDPOINT_URL": moto_url,
            "AURORA_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
            "AURORA_KAFKA__TOPIC": unique_name("events"),
            "AURORA_VALKEY__URL": valkey_url,
            "AURORA_VALKEY__KEY_PREFIX": key_prefix,
            "AURORA_DYNAMODB__TABLE": unique_name("tracking"),
            "AURORA_DYNAMODB__CREATE_TABLE_IF_MISSING": "true",
            "AURORA_DISCOVERY__REPLICA_ID": "in-process",
            "AURORA_DISCOVERY__INCLUDE_CLUSTERS": json.dumps([cluster.id]),
            "AURORA_DISCOVERY__MIN_POLL_INTERVAL_S": "0.5",
            "AURORA_DISCOVERY__MAX_POLL_INTERVAL_S": "2",
            "AURORA_DISCOVERY__LEASE_TTL_S": "3",
            "AURORA_DISCOVERY__LEASE_RENEW_INTERVAL_S": "1",
            "AURORA_DISCOVERY__MEMBER_TTL_S": "3",
            "AURORA_DISCOVERY__INVENTORY_INTERVAL_S": "1",
            "AURORA_HTTP__HOST": "127.0.0.1",
            "AURORA_HTTP__PORT": "0",
            "AURORA_SERVICE__SHUTDOWN_DEADLINE_S": "5",
            "AURORA_SERVICE__TERMINATION_GRACE_PERIOD_S": "10",
        },
    )
    # Counters are per process and other tests count too: compare with where they start.
    published_before = EVENTS_PUBLISHED.labels("active")._value.get()
    lifecycle = Lifecycle(liveness=Liveness(30), readiness=Readiness(3))
    health = HealthServer(settings.http, liveness=lifecycle.liveness, readiness=lifecycle.readiness)
    await health.start()
    main = asyncio.create_task(make_main(settings)(lifecycle))
    base = f"http://127.0.0.1:{health.port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as http:

            async def ready() -> bool:
                answer = await http.get("/readyz")
                return answer.status_code == 200

            await eventually(ready, timeout_s=30, interval_s=0.2, message="never ready")
            checks = (await http.get("/readyz")).json()["checks"]
            assert checks == {"kafka": "ok", "valkey": "ok", "dynamodb": "ok"}
            assert (await http.get("/healthz")).status_code == 200

            seen: dict[str, float] = {}

            async def published_all() -> bool:
                text = (await http.get("/metrics")).text
                published = _sample(
                    text, 'aurora_discovery_events_published_total{status="active"}'
                )
                # Every file discovery follows (not the ignored ones, not empty ones) has had
                # at least one event; each counts once here, whatever its later events.
                seen["files"] = sum(
                    1
                    for member in cluster.members
                    for name in fleet.log_files(member)
                    if name not in settings.discovery.ignored_files
                    and fleet.path(member, name).stat().st_size > 0
                )
                seen["published"] = published - published_before
                seen["owned"] = _sample(text, "aurora_discovery_instances_owned")
                return seen["owned"] == 2 and seen["published"] >= seen["files"]

            await eventually(
                published_all, timeout_s=30, interval_s=0.2, message=lambda: f"not all: {seen}"
            )
            metrics = (await http.get("/metrics")).text
            for name in (
                "aurora_discovery_polls_total",
                "aurora_discovery_poll_lag_seconds_bucket",
                "aurora_discovery_files{",
                "aurora_discovery_bytes_lost_total",
                'aurora_rds_calls_total{operation="DescribeDBLogFiles",outcome="ok"}',
            ):
                assert name in metrics, name
            lease_keys = [key async for key in valkey.scan_iter(f"{key_prefix}discovery:lease:*")]
            assert len(lease_keys) == 2

            # An instance deleted with files nobody read: they are lost, and counted.
            gone = cluster.members[1]
            lost_before = BYTES_LOST._value.get()
            fleet.remove_instance(gone)

            async def settled() -> bool:
                text = (await http.get("/metrics")).text
                return (
                    _sample(text, "aurora_discovery_instances_owned") == 1
                    and _sample(text, "aurora_discovery_bytes_lost_total") > lost_before
                )

            await eventually(settled, timeout_s=30, interval_s=0.2, message="loss not counted")
            async with AwsClients(settings.aws).dynamodb() as dynamodb:
                table = TrackingTable(dynamodb, settings.dynamodb.table, item_ttl_s=3600)
                statuses = {file.observation.status for file in await table.files_of(gone)}
            assert statuses == {"lost"}
        lifecycle.stopping.set()
        await asyncio.wait_for(main, timeout=settings.service.shutdown_deadline_s)
        assert [key async for key in valkey.scan_iter(f"{key_prefix}discovery:lease:*")] == []
        assert await valkey.smembers(f"{key_prefix}discovery:members") == set()
    finally:
        if not main.done():
            main.cancel()
            await asyncio.wait([main])
        await health.stop()


def _sample(text: str, name: str) -> float:
    """The value of the first sample whose line starts with ``name`` (0 if none)."""
    for line in text.splitlines():
        if line.startswith(name):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
