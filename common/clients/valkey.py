"""The Valkey client (redis-py's asyncio client) configured from :class:`ValkeySettings`."""

from __future__ import annotations

import redis.asyncio as redis

from common.settings import ValkeySettings

__all__ = ["make_valkey"]


def make_valkey(settings: ValkeySettings) -> redis.Redis:
    """A pooled client; connections open lazily, so this never blocks or raises."""
    client: redis.Redis = redis.Redis.from_url(
        settings.url,
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.socket_timeout_s,
        health_check_interval=30,
        decode_responses=False,
    )
    return client
