"""The ownership cycle against the real Valkey: shares, hand-over, lost and expired leases."""

from __future__ import annotations

import pytest
import redis.asyncio as redis

from discovery.inventory import AuroraInstance, Fleet
from discovery.leases import LeaseStore
from discovery.membership import Membership, assign
from discovery.ownership import Ownership
from tests.discovery.doubles import RecordingListener

pytestmark = pytest.mark.integration

FLEET = Fleet.of(
    [AuroraInstance(f"db-{n:03d}", f"c-{n // 2}", "aurora-mysql", "8.0") for n in range(60)], 1
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _replica(
    valkey: redis.Redis, prefix: str, name: str, clock: Clock, ttl_s: float = 30
) -> tuple[Ownership, RecordingListener]:
    listener = RecordingListener()
    ownership = Ownership(
        Membership(valkey, key_prefix=prefix, replica_id=name, incarnation="1", ttl_s=ttl_s),
        LeaseStore(valkey, key_prefix=prefix, holder=f"{name}/1", ttl_s=ttl_s, clock=clock),
        listener,
        clock=clock,
    )
    return ownership, listener


async def test_a_lone_replica_owns_the_whole_fleet(valkey: redis.Redis, key_prefix: str) -> None:
    clock = Clock()
    ownership, listener = _replica(valkey, key_prefix, "a", clock)
    await ownership.cycle(None)
    assert ownership.owned == {}
    await ownership.cycle(FLEET)
    assert sorted(listener.acquired_ids) == sorted(FLEET.instances)
    await ownership.cycle(FLEET)
    assert len(listener.renewed_ids) == 60
    assert len(listener.acquired_ids) == 60


async def test_a_joining_replica_gets_its_share_after_a_hand_over(
    valkey: redis.Redis, key_prefix: str
) -> None:
    clock = Clock()
    a, a_events = _replica(valkey, key_prefix, "a", clock)
    b, _ = _replica(valkey, key_prefix, "b", clock)
    await a.cycle(FLEET)
    await b.cycle(FLEET)  # b is assigned its share, but a still holds every lease
    assert b.owned == {}
    share = assign(FLEET.instances, ["a", "b"], "b")
    assert 20 <= len(share) <= 40
    busy = sorted(share)[0]
    a_events.polling = {busy}
    await a.cycle(FLEET)  # a sees b: gives back b's share, except the one it is polling
    await b.cycle(FLEET)
    assert set(b.owned) == share - {busy}
    assert set(a.owned) == set(FLEET.instances) - share | {busy}
    a_events.polling = set()
    await a.cycle(FLEET)
    await b.cycle(FLEET)
    assert set(b.owned) == share
    assert set(a.owned) == set(FLEET.instances) - share
    assert {reason for _id, reason in a_events.dropped_ids} == {"released"}


async def test_a_lease_taken_by_another_holder_is_dropped_as_lost(
    valkey: redis.Redis, key_prefix: str
) -> None:
    clock = Clock()
    a, events = _replica(valkey, key_prefix, "a", clock)
    await a.cycle(FLEET)
    await valkey.delete(f"{key_prefix}discovery:lease:db-007")
    thief = LeaseStore(valkey, key_prefix=key_prefix, holder="x/1", ttl_s=30)
    assert set(await thief.acquire(["db-007"])) == {"db-007"}
    await a.cycle(FLEET)
    assert ("db-007", "lost") in events.dropped_ids
    assert "db-007" not in a.owned


async def test_leases_not_renewed_in_time_expire_locally(
    valkey: redis.Redis, key_prefix: str
) -> None:
    clock = Clock()
    a, events = _replica(valkey, key_prefix, "a", clock, ttl_s=10)
    await a.cycle(FLEET)
    clock.now += 10  # Valkey unreachable for a whole TTL: no renewal happened
    a.expire(clock.now)
    assert a.owned == {}
    assert {reason for _id, reason in events.dropped_ids} == {"expired"}


async def test_instances_leaving_the_fleet_are_polled_once_more_then_released(
    valkey: redis.Redis, key_prefix: str
) -> None:
    clock = Clock()
    a, events = _replica(valkey, key_prefix, "a", clock)
    await a.cycle(FLEET)
    smaller = Fleet.of([i for i in FLEET.instances.values() if i.instance_id != "db-000"], 2)
    await a.cycle(smaller)
    assert events.retiring_ids == ["db-000"]
    assert "db-000" in a.owned, "kept until its files are settled"
    await a.cycle(smaller)
    assert events.retiring_ids == ["db-000"], "asked once"
    a.owned["db-000"].retired = True  # the dispatcher's last, complete poll is done
    await a.cycle(smaller)
    assert ("db-000", "released") in events.dropped_ids
    other = LeaseStore(valkey, key_prefix=key_prefix, holder="x/1", ttl_s=30)
    assert set(await other.acquire(["db-000"])) == {"db-000"}


async def test_graceful_stop_releases_everything_and_leaves(
    valkey: redis.Redis, key_prefix: str
) -> None:
    clock = Clock()
    a, _ = _replica(valkey, key_prefix, "a", clock)
    b, _ = _replica(valkey, key_prefix, "b", clock)
    await a.cycle(FLEET)
    assert await a.release_all() == 60
    assert a.owned == {}
    await b.cycle(FLEET)  # a has left: b owns everything at once
    assert len(b.owned) == 60
    assert b.members == ("b",)
