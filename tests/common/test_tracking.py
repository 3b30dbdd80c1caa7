"""The tracking table on moto's DynamoDB: two writer roles, conditional writes, fencing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace

import pytest

from common.clients.aws import AwsClients
from common.errors import ConflictError
from common.settings import AwsSettings
from common.tracking import Checkpoint, Observation, TrackedFile, TrackingTable

pytestmark = pytest.mark.integration


@pytest.fixture
async def table(
    aws_environ: dict[str, str], moto_url: str, unique_name: Callable[[str], str]
) -> AsyncIterator[TrackingTable]:
    clients = AwsClients(AwsSettings(endpoint_url=moto_url))
    async with clients.dynamodb() as dynamodb:
        tracking = TrackingTable(dynamodb, unique_name("tracking"), item_ttl_s=3600)
        assert await tracking.ensure_table() is True
        assert await tracking.ensure_table() is False
        yield tracking


def _file(identity: str = "slowquery/mysql-slowquery.log@1", size: int = 100) -> TrackedFile:
    return TrackedFile(
        instance_id="orders-1",
        identity=identity,
        observation=Observation(
            cluster_id="orders",
            engine="aurora-mysql",
            engine_version="8.0.mysql_aurora.3.05.2",
            log_file="slowquery/mysql-slowquery.log",
            log_kind="slowquery",
            first_seen_ms=1000,
            last_seen_ms=1000,
            seen_size=size,
            seen_last_written_ms=900,
            fence=7,
        ),
    )


async def test_create_then_read_back_everything(table: TrackingTable) -> None:
    created = await table.create(_file())
    assert created.observation.version == 1
    stored = await table.get("orders-1", "slowquery/mysql-slowquery.log@1")
    assert stored == created
    assert stored.unread_bytes == 100
    with pytest.raises(ConflictError):
        await table.create(_file())


async def test_observation_writes_are_versioned(table: TrackingTable) -> None:
    file = await table.create(_file())
    grown = await table.observe(file, replace(file.observation, seen_size=250, published_size=250))
    assert grown.observation.version == 2
    # A second writer that read version 1 loses instead of overwriting.
    with pytest.raises(ConflictError):
        await table.observe(file, replace(file.observation, seen_size=120))
    stored = await table.get("orders-1", file.identity)
    assert stored is not None
    assert stored.observation.seen_size == 250


async def test_a_stale_lease_holder_is_fenced_out(table: TrackingTable) -> None:
    file = await table.create(_file())
    newer = await table.observe(file, replace(file.observation, fence=9, seen_size=300))
    # The old holder (fence 7) re-reads and tries again: the fence still refuses it.
    with pytest.raises(ConflictError):
        await table.observe(newer, replace(newer.observation, fence=7, seen_size=310))
    await table.observe(newer, replace(newer.observation, fence=9, seen_size=320))


async def test_checkpoints_and_observations_do_not_overwrite_each_other(
    table: TrackingTable,
) -> None:
    file = await table.create(_file(size=1000))
    checkpoint = await table.save_checkpoint(
        "orders-1",
        file.identity,
        file.checkpoint,
        Checkpoint(offset=600, marker="3:512", marker_offset=512),
    )
    assert checkpoint.version == 1
    # Discovery writes from its (older) read of the item: the checkpoint survives.
    await table.observe(file, replace(file.observation, seen_size=1500, status="rotated"))
    stored = await table.get("orders-1", file.identity)
    assert stored is not None
    assert stored.checkpoint.offset == 600
    assert stored.checkpoint.marker == "3:512"
    assert stored.checkpoint.marker_offset == 512
    assert stored.observation.seen_size == 1500
    assert stored.observation.status == "rotated"
    assert stored.unread_bytes == 900


async def test_a_concurrent_checkpoint_writer_gets_a_conflict(table: TrackingTable) -> None:
    file = await table.create(_file())
    first = await table.save_checkpoint(
        "orders-1", file.identity, file.checkpoint, Checkpoint(offset=10, parser_state='{"a":1}')
    )
    with pytest.raises(ConflictError):
        await table.save_checkpoint("orders-1", file.identity, file.checkpoint, Checkpoint(20))
    second = await table.save_checkpoint("orders-1", file.identity, first, Checkpoint(offset=30))
    assert second.version == 2
    stored = await table.get("orders-1", file.identity)
    assert stored is not None
    assert stored.checkpoint.offset == 30
    assert stored.checkpoint.marker is None


async def test_checkpoint_of_an_untracked_file_is_a_conflict(table: TrackingTable) -> None:
    with pytest.raises(ConflictError):
        await table.save_checkpoint("orders-1", "nope", Checkpoint(), Checkpoint(offset=1))


async def test_files_of_an_instance_and_ttl_on_gone_files(table: TrackingTable) -> None:
    files = [await table.create(_file(identity=f"error/f.log@{index}")) for index in range(3)]
    await table.create(replace(_file(identity="other"), instance_id="orders-2"))
    deleted = await table.observe(files[0], replace(files[0].observation, status="deleted"))
    assert deleted.observation.expires_at_s is not None
    listed = {file.identity: file for file in await table.files_of("orders-1")}
    assert set(listed) == {f"error/f.log@{index}" for index in range(3)}
    assert listed["error/f.log@0"].observation.expires_at_s == deleted.observation.expires_at_s
    assert listed["error/f.log@1"].observation.expires_at_s is None


async def test_published_name_and_status_round_trip(table: TrackingTable) -> None:
    file = await table.create(_file())
    published = replace(
        file.observation, published_size=100, published_file="x.log.1", published_status="rotated"
    )
    await table.observe(file, published)
    stored = await table.get("orders-1", file.identity)
    assert stored is not None
    assert stored.observation.published_file == "x.log.1"
    assert stored.observation.published_status == "rotated"
