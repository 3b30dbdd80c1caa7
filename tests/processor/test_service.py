"""The processor as a service: Kafka events in, records in OpenObserve (the contract server
process), malformed events dead-lettered, offsets committed; and a kill -9 in the middle of a
file followed by a restart, with nothing lost and duplicates only where documented."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from aiokafka import TopicPartition

from common.clients.aws import AwsClients
from common.clients.kafka import ensure_topics, make_consumer, make_producer
from common.events import LogFileEvent, encode_event, event_key
from common.health import Liveness, Readiness
from common.runner import Lifecycle
from common.settings import load_settings
from common.tracking import Observation, TrackedFile, TrackingTable
from processor.config import ProcessorSettings
from processor.pipeline import run_processor
from processor.records import record_id
from simulator import AURORA_MYSQL_3, AURORA_POSTGRESQL, Fleet, LogProfile, Rate, SimClock
from tests.waiting import eventually

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Deployment:
    env: dict[str, str]
    settings: ProcessorSettings
    openobserve_url: str
    auth: tuple[str, str]

    async def count(self, stream: str, instance: str) -> int:
        """Records of ``instance`` in ``stream``, through OpenObserve's search API."""
        query = {
            "query": {
                "sql": f"SELECT COUNT(*) AS n FROM \"{stream}\" WHERE instance = '{instance}'",
                "start_time": 0,
                "end_time": int(time.time() * 1e6) + 3_600_000_000,
                "from": 0,
                "size": 1,
            }
        }
        async with httpx.AsyncClient(base_url=self.openobserve_url, auth=self.auth) as client:
            answer = await client.post("/api/default/_search?type=logs", json=query)
        if answer.status_code == 400:  # the stream was never ingested
            return 0
        answer.raise_for_status()
        return int(answer.json()["hits"][0]["n"])

    async def faults(self, body: dict[str, object]) -> None:
        async with httpx.AsyncClient(base_url=self.openobserve_url) as client:
            (await client.post("/_contract/faults", json=body)).raise_for_status()

    async def rows(self, stream: str, instance: str) -> list[dict[str, object]]:
        async with httpx.AsyncClient(base_url=self.openobserve_url, timeout=30) as client:
            answer = await client.get(
                "/_contract/records",
                params={
                    "org": "default",
                    "stream": stream,
                    "field": "instance",
                    "equals": instance,
                },
            )
        if answer.status_code != 200:
            return []
        rows: list[dict[str, object]] = answer.json()["records"]
        return rows


@pytest.fixture
async def deployment(
    kafka_bootstrap: str,
    valkey_url: str,
    moto_url: str,
    aws_environ: dict[str, str],
    openobserve_url: str,
    openobserve_credentials: tuple[str, str],
    unique_name: Callable[[str], str],
) -> Deployment:
    user, password = openobserve_credentials
    env = {
        **aws_environ,
        "AURORA_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AURORA_KAFKA__TOPIC": unique_name("events"),
        "AURORA_KAFKA__DEAD_LETTER_TOPIC": unique_name("dlq"),
        "AURORA_KAFKA__CONSUMER_GROUP": unique_name("processors"),
        "AURORA_KAFKA__TOPIC_PARTITIONS": "3",
        "AURORA_VALKEY__URL": valkey_url,
        "AURORA_VALKEY__KEY_PREFIX": unique_name("k") + ":",
        "AURORA_RDS__BUDGET_RATE_PER_S": "50",
        "AURORA_RDS__BUDGET_BURST": "50",
        "AURORA_DYNAMODB__TABLE": unique_name("tracking"),
        "AURORA_OPENOBSERVE__URL": openobserve_url,
        "AURORA_OPENOBSERVE__USER": user,
        "AURORA_OPENOBSERVE__PASSWORD": password,
        "AURORA_HTTP__HOST": "127.0.0.1",
        "AURORA_HTTP__PORT": "0",
        "AURORA_LOGGING__FORMAT": "json",
        "AURORA_PROCESSOR__MAX_BATCH_AGE_S": "0.1",
        "AURORA_PROCESSOR__MAX_BATCH_RECORDS": "200",
        "AURORA_PROCESSOR__CHECKPOINT_EVERY_BYTES": "65536",
        "AURORA_PROCESSOR__COMMIT_INTERVAL_S": "0.2",
        "AURORA_PROCESSOR__RETRY_BASE_S": "0.05",
    }
    settings = load_settings(ProcessorSettings, env)
    await ensure_topics(settings.kafka, [settings.kafka.topic, settings.kafka.dead_letter_topic])
    async with AwsClients(settings.aws).dynamodb() as dynamodb:
        await TrackingTable(dynamodb, settings.dynamodb.table, item_ttl_s=3600).ensure_table()
    return Deployment(env, settings, openobserve_url, (user, password))


async def _announce(
    deployment: Deployment, fleet: Fleet, instances: list[str]
) -> list[TrackedFile]:
    """Do what discovery does on first sight of each file: list it (size and LastWritten, as
    the RDS API reports them), track it, then publish an event.

    LastWritten matters: the processor compares it with what it lists before reading a name
    that can hold another generation later, and one that was never recorded looks like a
    name that moved on whenever the simulated hour turned while the fleet was writing (its
    hourly predecessor is larger), so the read waits for a discovery that never comes here."""
    settings = deployment.settings
    tracked: list[TrackedFile] = []
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        async with AwsClients(settings.aws).dynamodb() as dynamodb:
            table = TrackingTable(dynamodb, settings.dynamodb.table, item_ttl_s=3600)
            for instance in instances:
                sim = fleet.instance(instance)
                pages = fleet.rds.get_paginator("describe_db_log_files").paginate(
                    DBInstanceIdentifier=instance
                )
                listed = {
                    item["LogFileName"]: (item["Size"], item["LastWritten"])
                    for page in pages
                    for item in page["DescribeDBLogFiles"]
                }
                for log_file in fleet.log_files(instance):
                    kind = log_file.split("/", 1)[0]
                    kind = {"error": "error" if sim.engine.is_mysql else "postgresql"}.get(
                        kind, kind
                    )
                    size, last_written_ms = listed[log_file]
                    item = await table.create(
                        TrackedFile(
                            instance,
                            f"{log_file}@1",
                            Observation(
                                cluster_id=sim.cluster_id,
                                engine=sim.engine.name,
                                engine_version=sim.engine.version,
                                log_file=log_file,
                                log_kind=kind,
                                seen_size=size,
                                seen_last_written_ms=last_written_ms,
                                first_seen_ms=int(time.time() * 1000),
                            ),
                        )
                    )
                    tracked.append(item)
                    event = LogFileEvent(
                        cluster_id=sim.cluster_id,
                        instance_id=instance,
                        engine=sim.engine.name,  # type: ignore[arg-type]
                        engine_version=sim.engine.version,
                        log_file=log_file,
                        log_kind=kind,  # type: ignore[arg-type]
                        file_identity=item.identity,
                        size_bytes=size,
                        last_written_ms=last_written_ms,
                        observed_at_ms=int(time.time() * 1000),
                    )
                    await producer.send_and_wait(
                        settings.kafka.topic, encode_event(event), key=event_key(instance, log_file)
                    )
    finally:
        await producer.stop()
    return tracked


def _expected(fleet: Fleet, tracked: list[TrackedFile]) -> dict[str, set[str]]:
    """record ids of every entry written, per instance (the active files' last entry may still
    be held back by the parser: it is complete only once the next one starts)."""
    expected: dict[str, set[str]] = {}
    for item in tracked:
        content_id = fleet.truth.content_id_of(item.instance_id, item.observation.log_file)
        entries = fleet.truth.entries(instance=item.instance_id, content_id=content_id)
        ids = expected.setdefault(item.instance_id, set())
        ids.update(
            record_id(item.instance_id, item.identity, entry.offset) for entry in entries[:-1]
        )
    return expected


def _missing(fleet: Fleet, tracked: list[TrackedFile], absent: set[str]) -> str:
    """Where the records in ``absent`` come from (file and offset), for a failure message."""
    where: dict[str, list[int]] = {}
    for item in tracked:
        content_id = fleet.truth.content_id_of(item.instance_id, item.observation.log_file)
        for entry in fleet.truth.entries(instance=item.instance_id, content_id=content_id):
            if record_id(item.instance_id, item.identity, entry.offset) in absent:
                where.setdefault(item.observation.log_file, []).append(entry.offset)
    return "; ".join(
        f"{name}: {len(offsets)} from offset {min(offsets)} to {max(offsets)}"
        for name, offsets in sorted(where.items())
    )


STREAMS = (
    "aurora_mysql_slow",
    "aurora_mysql_error",
    "aurora_mysql_general",
    "aurora_mysql_audit",
    "aurora_postgresql",
)


async def _delivered(deployment: Deployment, instances: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for instance in instances:
        for stream in STREAMS:
            found.setdefault(instance, []).extend(
                str(row["record_id"]) for row in await deployment.rows(stream, instance)
            )
    return found


@pytest.fixture
def live_fleet(moto_url: str, simulator_control: object, ident: Callable[[str], str]) -> Fleet:
    # Timestamps near now: OpenObserve refuses records older than its 5-hour window. The clock
    # starts 30 s before the current hour began, so that every test's writing crosses an hour
    # and the hourly logs rotate under the names being read: the case that depends most on
    # what discovery recorded, every run rather than when the wall clock happens to be near
    # the hour.
    hour = time.time() // 3600 * 3600
    return Fleet(moto_url, clock=SimClock(hour - 30), seed=uuid.uuid4().hex)


async def test_events_become_records_and_bad_events_dead_letters(
    deployment: Deployment, live_fleet: Fleet, ident: Callable[[str], str]
) -> None:
    fleet = live_fleet
    try:
        mysql = fleet.add_cluster(
            ident("svc-my"),
            AURORA_MYSQL_3,
            instances=1,
            profile=LogProfile.realistic(AURORA_MYSQL_3, 600_000),
        ).writer
        pg = fleet.add_cluster(
            ident("svc-pg"),
            AURORA_POSTGRESQL,
            instances=1,
            profile=LogProfile.realistic(AURORA_POSTGRESQL, 600_000),
        ).writer
        fleet.advance(60)
        tracked = await _announce(deployment, fleet, [mysql, pg])
        producer = make_producer(deployment.settings.kafka)
        await producer.start()
        await producer.send_and_wait(deployment.settings.kafka.topic, b"{broken", key=b"x")
        await producer.stop()

        lifecycle = Lifecycle(liveness=Liveness(60), readiness=Readiness(2))
        task = asyncio.create_task(run_processor(deployment.settings, lifecycle))
        expected = _expected(fleet, tracked)

        async def complete() -> bool:
            found = await _delivered(deployment, [mysql, pg])
            return all(expected[i] <= set(found[i]) for i in expected)

        try:
            await eventually(complete, timeout_s=90, interval_s=0.5, message="records missing")
        finally:
            lifecycle.stopping.set()
            await asyncio.wait_for(task, timeout=60)
        found = await _delivered(deployment, [mysql, pg])
        for instance, ids in found.items():
            assert len(ids) == len(set(ids)), f"{instance}: records doubled without a crash"
            assert expected[instance] <= set(ids)

        # The malformed event is in the dead-letter topic, with its reason.
        consumer = make_consumer(
            deployment.settings.kafka,
            deployment.settings.kafka.dead_letter_topic,
            group_id=f"dlq-reader-{uuid.uuid4().hex}",
        )
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=10_000)
        finally:
            await consumer.stop()
        letters = [
            json.loads(record.value or b"{}") for records in batches.values() for record in records
        ]
        assert [(letter["kind"], letter["reason"], letter["payload"]) for letter in letters] == [
            ("event", "invalid_json", "{broken")
        ]
        # Every event is committed.
        consumer = make_consumer(
            deployment.settings.kafka, group_id=deployment.settings.kafka.consumer_group
        )
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(deployment.settings.kafka.topic) or set()
            tps = [TopicPartition(deployment.settings.kafka.topic, p) for p in partitions]
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                assert (await consumer.committed(tp) or 0) == ends[tp]
        finally:
            await consumer.stop()
    finally:
        fleet.close()


def _start(deployment: Deployment, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "processor"],
            cwd=ROOT,
            env={**os.environ, **deployment.env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def test_kill_nine_mid_file_then_restart_loses_nothing(
    deployment: Deployment, live_fleet: Fleet, ident: Callable[[str], str], tmp_path: Path
) -> None:
    fleet = live_fleet
    processes: list[subprocess.Popen[bytes]] = []
    try:
        profile = LogProfile.realistic(AURORA_POSTGRESQL, 4_000_000)
        instance = fleet.add_cluster(
            ident("kill"), AURORA_POSTGRESQL, instances=1, profile=profile
        ).writer
        fleet.advance(90)
        tracked = await _announce(deployment, fleet, [instance])
        expected = _expected(fleet, tracked)[instance]
        assert len(expected) > 5000

        # A slow OpenObserve keeps the file in flight long enough to kill the processor in it.
        await deployment.faults({"latency": {"seconds": 0.05}})
        processes.append(_start(deployment, tmp_path / "first.log"))

        async def some_arrived() -> bool:
            return await deployment.count("aurora_postgresql", instance) > len(expected) // 4

        await eventually(some_arrived, timeout_s=120, interval_s=0.1, message="nothing delivered")
        processes[0].send_signal(signal.SIGKILL)
        processes[0].wait(timeout=30)
        await deployment.faults({"latency": None})
        async with AwsClients(deployment.settings.aws).dynamodb() as dynamodb:
            table = TrackingTable(dynamodb, deployment.settings.dynamodb.table, item_ttl_s=3600)
            at_kill = {
                item.identity: (await table.get(instance, item.identity)) for item in tracked
            }
        before_restart = (await _delivered(deployment, [instance]))[instance]
        assert len(set(before_restart)) < len(expected), "the kill came too late to test anything"

        processes.append(_start(deployment, tmp_path / "second.log"))

        async def complete() -> bool:
            if await deployment.count("aurora_postgresql", instance) < len(expected):
                return False
            found = (await _delivered(deployment, [instance]))[instance]
            return expected <= set(found)

        await eventually(
            complete, timeout_s=180, interval_s=0.5, message="entries lost after restart"
        )
        found = (await _delivered(deployment, [instance]))[instance]
        doubled = {rid for rid in found if found.count(rid) > 1}
        # Re-sent records are only those after each file's last durable checkpoint at the kill.
        offsets_by_id = {
            str(row["record_id"]): int(str(row["offset"]))
            for stream in STREAMS
            for row in await deployment.rows(stream, instance)
        }
        limit = min(item.checkpoint.offset for item in at_kill.values() if item is not None)
        assert all(offsets_by_id[rid] >= limit for rid in doubled)
        assert len(doubled) <= len(expected)
    finally:
        await deployment.faults({"latency": None})
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        fleet.close()


def _metric(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    value = REGISTRY.get_sample_value(name, labels)
    return value or 0.0


async def test_every_failure_at_once_and_the_accounting_is_exact(
    deployment: Deployment, live_fleet: Fleet, ident: Callable[[str], str]
) -> None:
    """RDS faults on the read side, OpenObserve faults on the ship side:
    delivered + dead-lettered = written, each fallback and rejection counted."""
    from simulator import BinaryData, Gap, Overlap, Throttle, Truncate

    fleet = live_fleet
    try:
        profile = LogProfile.realistic(AURORA_MYSQL_3, 3_000_000)
        instance = fleet.add_cluster(
            ident("faulty"), AURORA_MYSQL_3, instances=1, profile=profile
        ).writer
        fleet.advance(60)
        # One fault per log, each firing a known number of times: deterministic, and together
        # they cover every read-side failure.
        for fault in (
            Gap(file="slowquery", lines=3, count=1),
            Truncate(file="general", count=1),
            BinaryData(file="error", count=1),
            Overlap(file="audit", lines=2),
            Throttle(action="DownloadDBLogFilePortion", count=2),
        ):
            fleet.faults.add(fault.model_copy(update={"instance": instance}))
        # OpenObserve: a 503 burst, then one refused record type, then credentials refused
        # for a while (the shipper halts, the test fixes the "deployment", it resumes).
        await deployment.faults(
            {
                "fail_next": {"count": 4, "status": 503},
                "record_failure": {"field": "severity", "value": "WARNING"},
            }
        )
        tracked = await _announce(deployment, fleet, [instance])
        expected = _expected(fleet, tracked)[instance]
        fallbacks_before = sum(
            _metric("aurora_processor_source_fallbacks_total", reason=reason)
            for reason in ("gap", "truncated", "binary_data", "unverified")
        )
        lifecycle = Lifecycle(liveness=Liveness(60), readiness=Readiness(2))
        task = asyncio.create_task(run_processor(deployment.settings, lifecycle))
        dead: list[dict[str, object]] = []
        try:
            consumer = make_consumer(
                deployment.settings.kafka,
                deployment.settings.kafka.dead_letter_topic,
                group_id=f"dlq-reader-{uuid.uuid4().hex}",
            )
            await consumer.start()
            try:
                absent: set[str] = set(expected)

                async def accounted() -> bool:
                    nonlocal absent
                    batches = await consumer.getmany(timeout_ms=100)
                    dead.extend(
                        json.loads(record.value or b"{}")
                        for records in batches.values()
                        for record in records
                    )
                    delivered = set((await _delivered(deployment, [instance]))[instance])
                    rejected = {str(letter["source"]["record_id"]) for letter in dead}  # type: ignore[index]
                    absent = expected - delivered - rejected
                    return not absent

                def unaccounted() -> str:
                    retries = {
                        reason: _metric("aurora_processor_sink_retries_total", reason=reason)
                        for reason in (
                            "http_503",
                            "timeout",
                            "connection",
                            "item_retry",
                            "bulk_mismatch",
                        )
                    }
                    return (
                        f"{len(absent)} of {len(expected)} records neither delivered nor "
                        f"dead-lettered ({_missing(fleet, tracked, absent)}); "
                        f"{len(dead)} dead letters; sink retries {retries}; "
                        f"halted {_metric('aurora_processor_sink_halted')}"
                    )

                await eventually(accounted, timeout_s=180, interval_s=0.5, message=unaccounted)
            finally:
                await consumer.stop()
        finally:
            lifecycle.stopping.set()
            await asyncio.wait_for(task, timeout=60)
            await deployment.faults({"fail_next": None, "record_failure": None})
        delivered = (await _delivered(deployment, [instance]))[instance]
        rejected = [str(letter["source"]["record_id"]) for letter in dead]  # type: ignore[index]
        assert rejected, "the refused record type should have been dead-lettered"
        assert {letter["reason"] for letter in dead} == {"cast_failed"}
        assert set(delivered).isdisjoint(rejected)
        assert set(delivered) | set(rejected) >= expected
        assert len(delivered) == len(set(delivered)), "no crash here: nothing may be doubled"
        fallbacks = sum(
            _metric("aurora_processor_source_fallbacks_total", reason=reason)
            for reason in ("gap", "truncated", "binary_data", "unverified")
        )
        assert fallbacks > fallbacks_before
        assert _metric("aurora_processor_sink_retries_total", reason="http_503") >= 4
        throttled = [
            r for r in fleet.requests.records(instance=instance) if r.outcome == "throttled"
        ]
        assert throttled, "the throttle fault never fired"
        assert _metric("aurora_rds_throttles_total", operation="DownloadDBLogFilePortion") > 0, (
            throttled
        )
    finally:
        fleet.close()


async def test_refused_credentials_halt_the_sink_until_fixed(
    deployment: Deployment, live_fleet: Fleet, ident: Callable[[str], str]
) -> None:
    """401 from OpenObserve: nothing is acknowledged, /readyz says why, and delivery resumes
    by itself once the credentials work again."""
    fleet = live_fleet
    try:
        profile = LogProfile(rates={"slowquery": Rate(entries_per_s=5)})
        instance = fleet.add_cluster(
            ident("halt"), AURORA_MYSQL_3, instances=1, profile=profile
        ).writer
        fleet.advance(60)
        await deployment.faults({"fail_next": {"count": 1000, "status": 401}})
        tracked = await _announce(deployment, fleet, [instance])
        expected = _expected(fleet, tracked)[instance]
        settings = load_settings(
            ProcessorSettings,
            {**deployment.env, "AURORA_PROCESSOR__HALTED_RETRY_INTERVAL_S": "0.2"},
        )
        lifecycle = Lifecycle(liveness=Liveness(60), readiness=Readiness(2))
        task = asyncio.create_task(run_processor(settings, lifecycle))
        try:

            async def halted() -> bool:
                ready, checks = await lifecycle.readiness.evaluate()
                return not ready and "halted" in checks.get("sink", "")

            await eventually(halted, timeout_s=60, message="the sink never reported the halt")
            assert _metric("aurora_processor_sink_halted") == 1
            assert await deployment.count("aurora_mysql_slow", instance) == 0
            await deployment.faults({"fail_next": None})

            async def delivered() -> bool:
                return await deployment.count("aurora_mysql_slow", instance) >= len(expected)

            await eventually(delivered, timeout_s=60, message="delivery did not resume")
            assert _metric("aurora_processor_sink_halted") == 0
        finally:
            lifecycle.stopping.set()
            await asyncio.wait_for(task, timeout=60)
            await deployment.faults({"fail_next": None})
        found = (await _delivered(deployment, [instance]))[instance]
        assert set(found) == expected
        assert len(found) == len(set(found))
    finally:
        fleet.close()
