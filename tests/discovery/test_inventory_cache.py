"""The fleet shared through Valkey: one replica describes, the others read the snapshot."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis

from discovery.inventory import AuroraInstance, Fleet
from discovery.inventory_cache import SharedInventory

pytestmark = pytest.mark.integration


class CountingSource:
    """A fleet source that counts how often the fleet is described (stands in for RDS)."""

    def __init__(self, size: int, *, fail: bool = False) -> None:
        self.size = size
        self.calls = 0
        self.fail = fail
        self.now_ms = 1_000

    async def describe(self) -> Fleet:
        self.calls += 1
        if self.fail:
            raise RuntimeError("RDS unavailable")
        instances = [
            AuroraInstance(f"db-{n}", f"cluster-{n // 2}", "aurora-mysql", "8.0", n % 2 == 0)
            for n in range(self.size)
        ]
        return Fleet.of(instances, self.now_ms)


def _shared(
    valkey: redis.Redis, prefix: str, source: CountingSource, clock: list[int]
) -> SharedInventory:
    return SharedInventory(
        valkey, source, key_prefix=prefix, interval_s=60, clock_ms=lambda: clock[0]
    )


async def test_one_replica_describes_the_others_read(valkey: redis.Redis, key_prefix: str) -> None:
    clock = [1_000]
    sources = [CountingSource(3000) for _ in range(3)]
    replicas = [_shared(valkey, key_prefix, source, clock) for source in sources]
    first = await asyncio.gather(*(replica.current() for replica in replicas))
    assert sum(source.calls for source in sources) == 1
    # The lock's losers have nothing yet; their next look finds the snapshot.
    assert sum(fleet is not None for fleet in first) >= 1
    fleets = await asyncio.gather(*(replica.current() for replica in replicas))
    assert sum(source.calls for source in sources) == 1
    assert all(fleet is not None and len(fleet.instances) == 3000 for fleet in fleets)
    assert fleets[0] == fleets[1] == fleets[2]


async def test_a_stale_snapshot_is_described_again(valkey: redis.Redis, key_prefix: str) -> None:
    clock = [1_000]
    source = CountingSource(5)
    replica = _shared(valkey, key_prefix, source, clock)
    await replica.current()
    clock[0] += 61_000
    source.size, source.now_ms = 7, clock[0]
    await valkey.delete(f"{key_prefix}discovery:inventory:lock")  # its TTL has passed too
    fleet = await replica.current()
    assert source.calls == 2
    assert fleet is not None
    assert len(fleet.instances) == 7
    assert replica.fleet is fleet


async def test_a_failed_describe_lets_another_replica_try_at_once(
    valkey: redis.Redis, key_prefix: str
) -> None:
    clock = [1_000]
    broken = _shared(valkey, key_prefix, CountingSource(5, fail=True), clock)
    with pytest.raises(RuntimeError, match="unavailable"):
        await broken.current()
    assert broken.fleet is None
    healthy_source = CountingSource(5)
    healthy = _shared(valkey, key_prefix, healthy_source, clock)
    fleet = await healthy.current()
    assert healthy_source.calls == 1
    assert fleet is not None
    assert fleet.instances["db-0"].is_writer
