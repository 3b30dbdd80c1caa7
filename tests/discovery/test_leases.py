"""Instance leases against the real Valkey: exclusivity, fencing, renewal, release, expiry."""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as redis

from discovery.leases import LeaseStore

pytestmark = pytest.mark.integration


def _store(valkey: redis.Redis, prefix: str, holder: str, ttl_s: float = 30.0) -> LeaseStore:
    return LeaseStore(valkey, key_prefix=prefix, holder=holder, ttl_s=ttl_s)


async def test_only_one_holder_gets_a_lease(valkey: redis.Redis, key_prefix: str) -> None:
    a, b = _store(valkey, key_prefix, "a/1"), _store(valkey, key_prefix, "b/1")
    taken = await a.acquire(["db-1", "db-2"])
    assert set(taken) == {"db-1", "db-2"}
    assert set(await b.acquire(["db-1", "db-2", "db-3"])) == {"db-3"}
    assert await a.holder_of("db-1") == taken["db-1"].token


async def test_concurrent_acquisitions_never_both_win(valkey_url: str, key_prefix: str) -> None:
    from common.clients.valkey import make_valkey
    from common.settings import ValkeySettings

    clients = [make_valkey(ValkeySettings(url=valkey_url)) for _ in range(5)]
    try:
        stores = [_store(client, key_prefix, f"r{n}/1") for n, client in enumerate(clients)]
        instances = [f"db-{index}" for index in range(200)]
        results = await asyncio.gather(*(store.acquire(instances) for store in stores))
    finally:
        for client in clients:
            await client.aclose()
    winners = [instance for result in results for instance in result]
    assert sorted(winners) == sorted(instances)


async def test_every_new_lease_has_a_larger_fence(valkey: redis.Redis, key_prefix: str) -> None:
    a, b = _store(valkey, key_prefix, "a/1"), _store(valkey, key_prefix, "b/1")
    first = (await a.acquire(["db-1"]))["db-1"]
    assert await a.release([first]) == 1
    second = (await b.acquire(["db-1"]))["db-1"]
    assert second.fence > first.fence
    # Even if Valkey lost the counter, the fence keeps growing (it follows Valkey's clock).
    await valkey.delete(f"{key_prefix}discovery:fence:db-1")
    await b.release([second])
    await asyncio.sleep(0.005)  # losing Valkey's data takes a restart: milliseconds at least
    third = (await a.acquire(["db-1"]))["db-1"]
    assert third.fence > second.fence


async def test_renewal_keeps_the_lease_and_detects_a_lost_one(
    valkey: redis.Redis, key_prefix: str
) -> None:
    a, b = _store(valkey, key_prefix, "a/1", ttl_s=0.5), _store(valkey, key_prefix, "b/1")
    leases = await a.acquire(["db-1", "db-2"])
    await asyncio.sleep(0.3)
    renewed, lost = await a.renew(leases.values())
    assert {lease.instance_id for lease in renewed} == {"db-1", "db-2"}
    assert all(r.valid_until > leases[r.instance_id].valid_until for r in renewed)
    assert lost == []
    await asyncio.sleep(0.7)  # no renewal: both expire, and b takes one
    assert set(await b.acquire(["db-1"])) == {"db-1"}
    renewed, lost = await a.renew(renewed)
    assert [lease.instance_id for lease in lost] == ["db-1", "db-2"]
    assert renewed == []


async def test_local_validity_ends_before_the_key_expires(
    valkey: redis.Redis, key_prefix: str
) -> None:
    store = _store(valkey, key_prefix, "a/1", ttl_s=10)
    loop_before = asyncio.get_running_loop().time()
    lease = (await store.acquire(["db-1"]))["db-1"]
    remaining_key_ms = await valkey.pttl(f"{key_prefix}discovery:lease:db-1")
    assert lease.valid_until - loop_before < remaining_key_ms / 1000
    assert lease.remaining_s(loop_before) > 9


async def test_release_only_touches_leases_still_held(valkey: redis.Redis, key_prefix: str) -> None:
    a, b = _store(valkey, key_prefix, "a/1", ttl_s=0.2), _store(valkey, key_prefix, "b/1")
    lease = (await a.acquire(["db-1"]))["db-1"]
    await asyncio.sleep(0.4)
    theirs = (await b.acquire(["db-1"]))["db-1"]
    assert await a.release([lease]) == 0
    assert await b.holder_of("db-1") == theirs.token


async def test_a_lease_whose_renewal_answer_was_lost_is_adopted(
    valkey: redis.Redis, key_prefix: str
) -> None:
    store = _store(valkey, key_prefix, "a/1")
    first = (await store.acquire(["db-1"]))["db-1"]
    again = (await store.acquire(["db-1"]))["db-1"]
    assert (again.token, again.fence) == (first.token, first.fence)
    with pytest.raises(ValueError, match="':'"):
        _store(valkey, key_prefix, "bad:holder")
