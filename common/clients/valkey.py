"""The Valkey client (redis-py's asyncio client) configured from :class:`ValkeySettings`."""

from __future__ import annotations

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.settings import ValkeySettings

__all__ = ["make_valkey"]


def make_valkey(settings: ValkeySettings) -> redis.Redis:
    """A pooled client; connections open lazily, so this never blocks or raises.

    A command that meets a dead connection (Valkey restarted, a failover, an idle socket the
    network dropped) reconnects and is sent again, up to 3 times over about a second. Built
    from a URL, redis-py's connections would otherwise not retry at all: after a restart each
    pooled connection would fail one command, and with it a file's work or a poll. Sending
    again is safe for what we send: a budget draw that ran twice costs one token, and the
    lease commands compare the holder before they change anything.
    """
    client: redis.Redis = redis.Redis.from_url(
        settings.url,
        socket_timeout=settings.socket_timeout_s,
        socket_connect_timeout=settings.socket_timeout_s,
        health_check_interval=30,
        decode_responses=False,
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=3),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )
    return client
