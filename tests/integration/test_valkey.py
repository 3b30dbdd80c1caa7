"""The real Valkey server: a lease lock taken, refused, expired and taken again."""

from __future__ import annotations

import asyncio

import pytest

from common.clients.valkey import make_valkey
from common.settings import ValkeySettings

pytestmark = pytest.mark.integration


async def test_lock_is_exclusive_until_it_expires(valkey_url: str) -> None:
    client = make_valkey(ValkeySettings(url=valkey_url))
    try:
        key = "test:lock:instance-1"
        await client.delete(key)
        assert await client.set(key, b"replica-a", nx=True, px=300) is True
        assert await client.set(key, b"replica-b", nx=True, px=300) is None
        assert await client.get(key) == b"replica-a"
        ttl_ms = await client.pttl(key)
        assert 0 < ttl_ms <= 300

        # Wait for the server to expire the key (a condition, bounded by a deadline).
        for _ in range(100):
            if not await client.exists(key):
                break
            await asyncio.sleep(0.05)
        assert not await client.exists(key), "lease did not expire"

        assert await client.set(key, b"replica-b", nx=True, px=300) is True
        assert await client.get(key) == b"replica-b"
    finally:
        await client.aclose()
