"""``aurora-logs backfill`` against the simulated fleet (moto), DynamoDB, Valkey and Kafka: what
it publishes for tracked, caught-up and untracked files, and what a dry run leaves alone."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from common.cli import main
from common.clients.aws import AwsClients
from common.clients.valkey import make_valkey
from common.settings import AwsSettings, ValkeySettings
from common.tracking import Checkpoint, Observation, TrackedFile, TrackingTable
from discovery.leases import LeaseStore
from simulator import AURORA_MYSQL_3, Fleet, LogProfile, Rate
from tests.waiting import events_on

pytestmark = pytest.mark.integration

SLOW, GENERAL, ERROR = (
    "slowquery/mysql-slowquery.log",
    "general/mysql-general.log",
    "error/mysql-error-running.log",
)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def _sizes(fleet: Fleet, instance: str) -> dict[str, tuple[int, int]]:
    answer = fleet.rds.describe_db_log_files(DBInstanceIdentifier=instance)
    return {
        str(e["LogFileName"]): (int(e["Size"]), int(e["LastWritten"]))
        for e in answer["DescribeDBLogFiles"]
    }


async def _track(
    table: TrackingTable, instance: str, cluster: str, name: str, size: int, written: int, read: int
) -> None:
    """A generation as discovery leaves it after publishing, read up to ``read`` bytes."""
    now = int(time.time() * 1000)
    observation = Observation(
        cluster_id=cluster,
        engine="aurora-mysql",
        engine_version=AURORA_MYSQL_3.version,
        log_file=name,
        log_kind=name.split("/")[0],
        first_seen_ms=now,
        last_seen_ms=now,
        seen_size=size,
        seen_last_written_ms=written,
        published_size=size,
        published_at_ms=now,
        published_file=name,
        published_status="active",
    )
    created = await table.create(TrackedFile(instance, f"{name}@1", observation))
    if read:
        await table.save_checkpoint(
            instance, created.identity, created.checkpoint, Checkpoint(read)
        )


def _backfill(*args: str) -> int:
    return main(["backfill", *args])


async def test_backfill_catches_up_records_untracked_and_rereads_from_start(
    fleet: Fleet,
    ident: Callable[[str], str],
    unique_name: Callable[[str], str],
    kafka_bootstrap: str,
    valkey_url: str,
    moto_url: str,
    aws_environ: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rates = {"slowquery": Rate(entries_per_s=5), "general": Rate(entries_per_s=5)}
    rates["error"] = Rate(entries_per_s=1)
    cluster = fleet.add_cluster(ident("bf"), AURORA_MYSQL_3, instances=1, profile=LogProfile(rates))
    instance = cluster.writer
    fleet.advance(60)
    sizes = _sizes(fleet, instance)
    assert {SLOW, GENERAL, ERROR} <= set(sizes)
    topic, table_name = unique_name("events"), unique_name("tracking")
    prefix = f"test-{uuid.uuid4().hex[:10]}:"
    for name, value in {
        "AURORA_AWS__ENDPOINT_URL": moto_url,
        "AURORA_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AURORA_KAFKA__TOPIC": topic,
        "AURORA_VALKEY__URL": valkey_url,
        "AURORA_VALKEY__KEY_PREFIX": prefix,
        "AURORA_DYNAMODB__TABLE": table_name,
    }.items():
        monkeypatch.setenv(name, value)
    async with AwsClients(AwsSettings(endpoint_url=moto_url)).dynamodb() as dynamodb:
        table = TrackingTable(dynamodb, table_name, item_ttl_s=3600)
        await table.ensure_table()
        # The slow query log is fully read, the general log half read, the error log unknown.
        await _track(table, instance, cluster.id, SLOW, *sizes[SLOW], read=sizes[SLOW][0])
        await _track(table, instance, cluster.id, GENERAL, *sizes[GENERAL], read=100)
        since = _iso(fleet.clock.now_us() // 1000 - 3_600_000)
        patterns = ["--pattern", "slowquery/*", "--pattern", "general/*", "--pattern", "error/*"]

        # A dry run reports and changes nothing.
        argv = ["--instance", instance, "--since", since, *patterns]
        assert await asyncio.to_thread(_backfill, *argv, "--dry-run") == 1  # one left untracked
        out = capsys.readouterr().out
        assert f"  catch-up    {instance}  {GENERAL}  size {sizes[GENERAL][0]}" in out
        assert f"  up-to-date  {instance}  {SLOW}" in out
        assert f"  untracked   {instance}  {ERROR}" in out
        assert "1 catch-up, 1 untracked, 1 up-to-date; would publish 1 events" in out
        assert await table.get(instance, f"{ERROR}@1") is None

        # While a discovery replica holds the instance's lease, it is the one to record new
        # files: backfill leaves them (and says so) but catches up the rest.
        valkey = make_valkey(ValkeySettings(url=valkey_url))
        leases = LeaseStore(valkey, key_prefix=prefix, holder="discovery-a", ttl_s=30)
        held = await leases.acquire([instance])
        assert await asyncio.to_thread(_backfill, *argv) == 1
        out = capsys.readouterr().out
        assert f"  untracked   {instance}  {ERROR}" in out
        assert f"discovery replica discovery-a:{held[instance].fence} holds the lease" in out
        assert await table.get(instance, f"{ERROR}@1") is None
        await leases.release(held.values())
        await valkey.aclose()
        first = await events_on(kafka_bootstrap, topic, at_least=1)
        assert [(e.file_identity, e.from_start) for _key, e in first] == [(f"{GENERAL}@1", False)]

        # Once the lease is free, the untracked file is recorded (and published) by one
        # discovery poll; the half-read one gets a catch-up event again.
        assert await asyncio.to_thread(_backfill, *argv) == 0
        out = capsys.readouterr().out
        assert f"  recorded    {instance}  {ERROR}" in out
        assert "1 catch-up, 1 recorded, 1 up-to-date; published 1 events" in out
        recorded = await table.get(instance, f"{ERROR}@1")
        assert recorded is not None
        assert recorded.observation.seen_size == sizes[ERROR][0]
        events = await events_on(kafka_bootstrap, topic, at_least=3)
        general = (f"{instance}/{GENERAL}".encode(), f"{GENERAL}@1", sizes[GENERAL][0], False)
        assert sorted((key, e.file_identity, e.size_bytes, e.from_start) for key, e in events) == [
            (f"{instance}/{ERROR}".encode(), f"{ERROR}@1", sizes[ERROR][0], False),
            general,  # from the run that left the error log to discovery
            general,
        ]

        # --from-start: every tracked file matching the filter, flagged; nothing else.
        assert (
            await asyncio.to_thread(
                _backfill,
                *argv[:4],
                "--from-start",
                "--file-type",
                "slowquery",
                "--file-type",
                "general",
            )
            == 0
        )
        out = capsys.readouterr().out
        assert "2 from-start; published 2 events" in out
        events = await events_on(kafka_bootstrap, topic, at_least=5)
        reread = sorted((e.file_identity, e.from_start) for _key, e in events if e.from_start)
        assert reread == [(f"{GENERAL}@1", True), (f"{SLOW}@1", True)]
        assert len(events) == 5

        # Nothing written since a time after the last write: nothing to do.
        later = _iso(fleet.clock.now_us() // 1000 + 60_000)
        assert await asyncio.to_thread(_backfill, "--instance", instance, "--since", later) == 0
        assert "0 files written since" in capsys.readouterr().out

        # An instance that does not exist is an error for it alone; the others are done.
        argv = ["--instance", "no-such-db", "--instance", instance, "--since", later]
        assert await asyncio.to_thread(_backfill, *argv) == 1
        captured = capsys.readouterr()
        assert "aurora-logs backfill: no-such-db: " in captured.err
        assert f"backfill {instance}: 0 files written since" in captured.out


def test_bad_input_is_a_clear_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _backfill("--instance", "db-1", "--since", "yesterday")
    assert exit_info.value.code == 2
    assert "neither an ISO 8601 time" in capsys.readouterr().err
    assert _backfill("--instance", "db-1", "--since", "2999-01-01T00:00:00") == 2
    assert "--since is in the future" in capsys.readouterr().err
