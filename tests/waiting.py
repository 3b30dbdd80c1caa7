"""Waiting in tests for a condition another process or service brings about.

Where a test controls the producer of a condition it awaits an ``asyncio.Event``; where the
condition lives in Kafka, Valkey, moto or a subprocess, it polls, always under a deadline, and
fails with a message saying what never happened.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

from common.clients.kafka import make_consumer
from common.events import LogFileEvent, decode_event
from common.settings import KafkaSettings


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    timeout_s: float,
    interval_s: float = 0.05,
    message: str | Callable[[], str] = "condition not reached",
) -> None:
    """Return once ``condition()`` is true; raise AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / interval_s) + 1):
        result = condition()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(interval_s)
    text = message() if callable(message) else message
    raise AssertionError(f"{text} (within {timeout_s:g} s)")


async def events_on(
    bootstrap: str, topic: str, *, at_least: int, timeout_s: float = 60
) -> list[tuple[bytes | None, LogFileEvent]]:
    """Every log-file event on ``topic`` (key, event), read from the beginning in a group of
    its own, once at least ``at_least`` have arrived and one more fetch found nothing new.
    The deadline is generous: a loaded machine joins consumer groups slowly."""
    consumer = make_consumer(
        KafkaSettings(bootstrap_servers=bootstrap), topic, group_id=uuid.uuid4().hex
    )
    await consumer.start()
    found: list[tuple[bytes | None, LogFileEvent]] = []
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            found += [(m.key, decode_event(m.value)) for ms in batches.values() for m in ms]
            if len(found) >= at_least and not batches:
                return found
    finally:
        await consumer.stop()
    raise AssertionError(f"{len(found)} of {at_least} events on {topic} (within {timeout_s:g} s)")
