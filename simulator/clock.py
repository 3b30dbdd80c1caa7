"""Clocks for the fleet: simulated time that tests move by hand, or the wall clock.

Every time in the simulator is an ``int`` of microseconds since the Unix epoch (UTC), the
resolution of the finest log timestamp written (MySQL's ``.123456Z``, Aurora audit's µs epoch).
A :class:`SimClock` only moves when :meth:`SimClock.advance` is called, so an hour of log rotation
runs in as long as it takes to write the hour's entries.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["US_PER_S", "Clock", "SimClock", "WallClock", "to_datetime", "to_us"]

US_PER_S = 1_000_000
# 2024-01-04T09:17:00Z: a Thursday morning, not on an hour boundary, so the first hourly rotation
# of a fresh fleet comes after a partial hour, as it does for a real instance.
DEFAULT_START_US = 1_704_359_820 * US_PER_S


def to_us(moment: datetime | float | int) -> int:
    """Microseconds since the epoch for an aware datetime or POSIX seconds."""
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("naive datetime: give a timezone (the simulator runs in UTC)")
        return round(moment.timestamp() * US_PER_S)
    return round(moment * US_PER_S)


def to_datetime(us: int) -> datetime:
    """The aware UTC datetime of ``us`` microseconds since the epoch."""
    return datetime.fromtimestamp(us / US_PER_S, tz=UTC)


class Clock(Protocol):
    """What the fleet asks of time: the current moment, in µs since the epoch."""

    def now_us(self) -> int: ...


class SimClock:
    """Simulated time: starts at ``start`` and moves only when advanced. Not thread-safe."""

    def __init__(self, start: datetime | float | int | None = None) -> None:
        self._now_us = DEFAULT_START_US if start is None else to_us(start)

    def now_us(self) -> int:
        return self._now_us

    def advance(self, seconds: float) -> int:
        """Move forward by ``seconds`` (>= 0); returns the new time in µs."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        self._now_us += round(seconds * US_PER_S)
        return self._now_us

    def __repr__(self) -> str:
        return f"SimClock({to_datetime(self._now_us).isoformat()})"


class WallClock:
    """The machine's clock, for real-time runs (the CLI, load tests)."""

    def now_us(self) -> int:
        return time.time_ns() // 1000

    def __repr__(self) -> str:
        return "WallClock()"
