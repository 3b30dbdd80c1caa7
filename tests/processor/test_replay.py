"""``aurora-logs replay --from-s3`` against moto's S3 and DynamoDB, Kafka and the OpenObserve
contract server: archived bytes parsed and shipped again under their original record ids."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from common.cli import main
from common.clients.aws import AwsClients
from common.settings import AwsSettings
from common.tracking import Observation, TrackedFile, TrackingTable
from processor.archive import RawArchive
from processor.records import record_id
from simulator import AURORA_MYSQL_3, Fleet, LogProfile, Rate
from tests.contract.openobserve_server import OpenObserveContractServer
from tests.processor.conftest import PASSWORD, USER

pytestmark = pytest.mark.integration

SLOW, GENERAL = "slowquery/mysql-slowquery.log", "general/mysql-general.log"


def _replay(*args: str) -> int:
    return main(["replay", "--from-s3", *args])


async def test_replay_ships_archived_files_again_under_their_ids(
    fleet: Fleet,
    ident: Callable[[str], str],
    unique_name: Callable[[str], str],
    kafka_bootstrap: str,
    moto_url: str,
    aws_environ: dict[str, str],
    wide_openobserve: OpenObserveContractServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    openobserve = wide_openobserve
    openobserve.reset()
    rates = {"slowquery": Rate(entries_per_s=10), "general": Rate(entries_per_s=10)}
    cluster = fleet.add_cluster(ident("rp"), AURORA_MYSQL_3, instances=1, profile=LogProfile(rates))
    instance = cluster.writer
    fleet.advance(30)
    content = {name: fleet.path(instance, name).read_bytes() for name in (SLOW, GENERAL)}
    truth = {
        name: fleet.truth.entries(
            instance=instance, content_id=fleet.truth.content_id_of(instance, name)
        )
        for name in (SLOW, GENERAL)
    }
    bucket, table_name = unique_name("raw"), unique_name("tracking")
    for name, value in {
        "AURORA_AWS__ENDPOINT_URL": moto_url,
        "AURORA_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AURORA_KAFKA__DEAD_LETTER_TOPIC": unique_name("dlq"),
        "AURORA_S3__BUCKET": bucket,
        "AURORA_DYNAMODB__TABLE": table_name,
        "AURORA_OPENOBSERVE__URL": openobserve.url,
        "AURORA_OPENOBSERVE__USER": USER,
        "AURORA_OPENOBSERVE__PASSWORD": PASSWORD,
        "AURORA_PROCESSOR__MAX_BATCH_RECORDS": "50",
    }.items():
        monkeypatch.setenv(name, value)
    aws = AwsClients(AwsSettings(endpoint_url=moto_url))
    async with aws.s3() as s3, aws.dynamodb() as dynamodb:
        await s3.create_bucket(Bucket=bucket)
        archive = RawArchive(s3, bucket=bucket, prefix="raw/")
        # Archived in segments as the processor cuts them; the general log's tracking item
        # has expired, the slow query log's is still there.
        for name, data in content.items():
            third = len(data) // 3
            for start in (0, third, 2 * third):
                end = len(data) if start == 2 * third else start + third
                await archive.put(instance, f"{name}@1", name, start, data[start:end])
        tracking = TrackingTable(dynamodb, table_name, item_ttl_s=3600)
        await tracking.ensure_table()
        observation = Observation(
            cluster_id=cluster.id,
            engine="aurora-mysql",
            engine_version=AURORA_MYSQL_3.version,
            log_file=SLOW,
            log_kind="slowquery",
            seen_size=len(content[SLOW]),
            seen_last_written_ms=int(time.time() * 1000),
        )
        await tracking.create(TrackedFile(instance, f"{SLOW}@1", observation))

    def ids(name: str) -> list[str]:
        return sorted(record_id(instance, f"{name}@1", entry.offset) for entry in truth[name])

    def stored(stream: str) -> list[dict[str, object]]:
        try:
            return openobserve.records("default", stream)
        except KeyError:
            return []

    # The expired item needs the cluster and the engine: a clear error, nothing shipped.
    assert await asyncio.to_thread(_replay, "--instance", instance) == 2
    assert "is no longer tracked: give --cluster and --engine" in capsys.readouterr().err
    assert stored("aurora_mysql_general") == []

    full = ["--instance", instance, "--cluster", cluster.id, "--engine", "aurora-mysql"]
    assert await asyncio.to_thread(_replay, *full, "--dry-run") == 0
    out = capsys.readouterr().out
    assert f"  aurora_mysql_slow: {len(ids(SLOW))} records\n" in out
    assert f"  aurora_mysql_general: {len(ids(GENERAL))} records\n" in out
    assert stored("aurora_mysql_slow") == []

    # One file: every entry, under the id of the original ingestion.
    assert await asyncio.to_thread(_replay, *full, "--file", "slowquery/*") == 0
    out = capsys.readouterr().out
    slow = len(ids(SLOW))
    assert f"  {SLOW}@1  {len(content[SLOW])} bytes, {slow} records  ({SLOW})" in out
    assert f"  aurora_mysql_slow: {slow} records ({slow} delivered, 0 dead-lettered)" in out
    rows = stored("aurora_mysql_slow")
    assert sorted(str(row["record_id"]) for row in rows) == ids(SLOW)
    assert {row["cluster"] for row in rows} == {cluster.id}
    assert stored("aurora_mysql_general") == []

    # A time window: only the records inside it.
    times = sorted(entry.ts_us for entry in truth[GENERAL])
    since_us, until_us = times[len(times) // 4], times[3 * len(times) // 4]
    window = [
        "--since",
        _iso(since_us),
        "--until",
        _iso(until_us),
        "--file",
        "general/*",
    ]
    assert await asyncio.to_thread(_replay, *full, *window) == 0
    rows = stored("aurora_mysql_general")
    expected = sorted(
        record_id(instance, f"{GENERAL}@1", entry.offset)
        for entry in truth[GENERAL]
        if since_us // 1000 * 1000 <= entry.ts_us < until_us // 1000 * 1000
    )
    assert expected
    assert sorted(str(row["record_id"]) for row in rows) == expected

    assert await asyncio.to_thread(_replay, "--instance", "db-nothing-archived") == 1
    assert "nothing archived for db-nothing-archived matches" in capsys.readouterr().out


def _iso(ts_us: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts_us / 1_000_000, UTC).isoformat(timespec="milliseconds")


def test_a_window_that_ends_before_it_starts_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--instance", "db-1", "--since", "2026-01-02T00:00:00", "--until", "2026-01-01"]
    assert _replay(*argv) == 2
    assert "--since must be before --until" in capsys.readouterr().err
