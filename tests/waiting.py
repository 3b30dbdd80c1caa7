"""Waiting in tests for a condition another process or service brings about.

Where a test controls the producer of a condition it awaits an ``asyncio.Event``; where the
condition lives in Kafka, Valkey, moto or a subprocess, it polls, always under a deadline, and
fails with a message saying what never happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


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
