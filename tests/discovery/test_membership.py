"""Rendezvous assignment (pure) and replica heartbeats (real Valkey)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
import redis.asyncio as redis

from discovery.membership import Membership, assign, owner_of, weight

INSTANCES = [f"db-{index:05d}" for index in range(10_000)]


def test_weights_are_stable_and_spread() -> None:
    assert weight("replica-a", "db-1") == weight("replica-a", "db-1")
    assert weight("replica-a", "db-1") != weight("replica-b", "db-1")
    assert owner_of("db-1", ["b", "a"]) == owner_of("db-1", ["a", "b"])
    with pytest.raises(ValueError, match="no members"):
        owner_of("db-1", [])


@pytest.mark.parametrize("replicas", [2, 3, 7])
def test_instances_are_shared_evenly(replicas: int) -> None:
    members = [f"discovery-{index}" for index in range(replicas)]
    counts = Counter(owner_of(instance, members) for instance in INSTANCES)
    fair = len(INSTANCES) / replicas
    assert set(counts) == set(members)
    assert max(counts.values()) < fair * 1.1
    assert min(counts.values()) > fair * 0.9


def test_a_joining_replica_takes_only_its_share_and_a_leaving_one_gives_only_its_own() -> None:
    before = ["a", "b", "c"]
    after = ["a", "b", "c", "d"]
    moved = [i for i in INSTANCES if owner_of(i, before) != owner_of(i, after)]
    assert all(owner_of(i, after) == "d" for i in moved), "only the newcomer gains"
    assert abs(len(moved) - len(INSTANCES) / 4) < len(INSTANCES) * 0.03
    gone = ["a", "c"]
    moved_out = [i for i in INSTANCES if owner_of(i, before) != owner_of(i, gone)]
    assert all(owner_of(i, before) == "b" for i in moved_out), "only the leaver's move"


def test_assignment_partitions_the_fleet() -> None:
    members = ["a", "b", "c"]
    shares = [assign(INSTANCES[:3000], members, me) for me in members]
    assert sum(len(share) for share in shares) == 3000
    assert set().union(*shares) == set(INSTANCES[:3000])
    # A replica that has not seen its own heartbeat yet still counts itself.
    assert assign(INSTANCES[:100], [], "solo") == set(INSTANCES[:100])


@pytest.mark.integration
async def test_heartbeats_list_live_replicas_and_expire(
    valkey: redis.Redis, key_prefix: str
) -> None:
    a = Membership(valkey, key_prefix=key_prefix, replica_id="a", incarnation="1", ttl_s=0.4)
    b = Membership(valkey, key_prefix=key_prefix, replica_id="b", incarnation="1", ttl_s=30)
    assert await a.heartbeat() == ("a",)
    assert await b.heartbeat() == ("a", "b")
    await asyncio.sleep(0.6)  # a's heartbeat lapses (no renewal): it is dead
    assert await b.heartbeat() == ("b",)
    assert await valkey.smembers(f"{key_prefix}discovery:members") == {b"b"}


@pytest.mark.integration
async def test_leaving_removes_only_this_incarnation(valkey: redis.Redis, key_prefix: str) -> None:
    old = Membership(valkey, key_prefix=key_prefix, replica_id="a", incarnation="old", ttl_s=30)
    new = Membership(valkey, key_prefix=key_prefix, replica_id="a", incarnation="new", ttl_s=30)
    watcher = Membership(valkey, key_prefix=key_prefix, replica_id="w", incarnation="1", ttl_s=30)
    await old.heartbeat()
    await new.heartbeat()  # the pod restarted under the same name
    await old.leave()  # the old process's late goodbye must not remove the new one
    assert await watcher.heartbeat() == ("a", "w")
    await new.leave()
    assert await watcher.heartbeat() == ("w",)
