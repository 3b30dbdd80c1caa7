"""The real Valkey server: a lease lock taken, refused, expired and taken again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from common.clients.valkey import make_valkey
from common.settings import ValkeySettings
from devstack.stack import LocalStack

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


async def test_pooled_connections_survive_a_valkey_restart(tmp_path: Path) -> None:
    """After Valkey restarts, every pooled connection is dead; the next command on each must
    reconnect, not fail (a failed budget or lease call fails the file's work, whose retry
    re-sends what was shipped since its last checkpoint)."""
    stack = LocalStack(tmp_path)
    try:
        port = stack.ensure("valkey").port
        client = make_valkey(ValkeySettings(url=f"redis://127.0.0.1:{port}/0"))
        try:
            # Several commands at once: several connections in the pool.
            await asyncio.gather(*(client.set(f"k{n}", n) for n in range(4)))
            stack.stop_service("valkey")
            stack.restart_service("valkey")
            assert await asyncio.gather(*(client.get(f"k{n}") for n in range(4))) == [None] * 4
            assert await client.incr("counter") == 1
        finally:
            await client.aclose()
    finally:
        assert not stack.stop()
