"""When to poll each owned instance: earliest deadline first, inside a local call rate.

Each instance has a due time. After a poll that found a file grown, new or rotated, the next is
due ``min_poll_interval_s`` later; after an idle poll the interval is multiplied by
``idle_backoff_factor`` up to ``max_poll_interval_s``; a failed poll backs off exponentially
from ``min_poll_interval_s`` (capped likewise). Every interval is shortened by a random share
of up to ``jitter_ratio`` (never lengthened, so the maximum holds), and newly owned instances
are spread over ``min_poll_interval_s``, so polls never fall on the same instant.

Polls are handed out in due order (earliest deadline first), at most as fast as the
:class:`CallPacer` allows: a local GCRA on RDS calls at this replica's share of the account
budget. The shared budget in Valkey (:mod:`common.ratelimit`) remains the hard limit; the pacer
keeps discovery to its share so the processor's downloads are not starved.

When the pace cannot cover every instance at its interval, deadline order makes every poll late
by about the same amount ``L``, so an instance's gap between polls is its interval plus ``L``
(starvation-free): the longest gap stays close to the mean gap, the best any schedule could do
(``instances x calls per poll / pace``; see ``bench/discovery.py``), and busy instances keep
only a small edge.
(A common floor on the intervals, max-min fair, was tried in the benchmark: it adds variance
and made the longest gap worse.)

Each instance also gets a listing without ``FileLastWritten`` (a *full* listing, which finds
deletions) on its first poll and then every ``full_listing_interval_s`` (jittered likewise).

Pure: times are floats in seconds from an injected clock, randomness from an injected
``random.Random``; nothing here sleeps or does I/O.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

__all__ = ["CallPacer", "PollScheduler", "SchedulerPolicy", "Ticket"]


class CallPacer:
    """GCRA on calls: sustained ``rate_per_s``, up to ``burst`` back to back. Pure."""

    def __init__(self, rate_per_s: float, burst: int = 1) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be positive and burst at least 1")
        self._rate_per_s = rate_per_s
        self._burst = burst
        self._tat = float("-inf")  # theoretical arrival time of the next call

    @property
    def rate_per_s(self) -> float:
        return self._rate_per_s

    @rate_per_s.setter
    def rate_per_s(self, value: float) -> None:
        if value <= 0:
            raise ValueError("rate_per_s must be positive")
        self._rate_per_s = value

    def wait_s(self, now: float) -> float:
        """Seconds until one more call may start (0.0: now)."""
        interval = 1.0 / self._rate_per_s
        tat = max(self._tat, now)
        allow_at = tat + interval - interval * self._burst
        return max(0.0, allow_at - now)

    def spend(self, calls: int, now: float) -> None:
        """Record ``calls`` calls made at ``now`` (may exceed the burst: the debt delays the
        next calls)."""
        if calls <= 0:
            return
        self._tat = max(self._tat, now) + calls / self._rate_per_s


@dataclass(frozen=True)
class SchedulerPolicy:
    """The timing knobs, in seconds (see the module docstring)."""

    min_interval_s: float
    max_interval_s: float
    idle_backoff_factor: float = 2.0
    jitter_ratio: float = 0.1
    full_listing_interval_s: float = 3600.0

    def __post_init__(self) -> None:
        if not 0 < self.min_interval_s <= self.max_interval_s:
            raise ValueError("need 0 < min_interval_s <= max_interval_s")
        if not 0 <= self.jitter_ratio < 1:
            raise ValueError("jitter_ratio must be in [0, 1)")


@dataclass(frozen=True)
class Ticket:
    """A poll handed out: which instance, when it was due and started, and its listing kind."""

    key: str
    due: float
    started: float
    full_listing: bool

    @property
    def lag_s(self) -> float:
        return max(0.0, self.started - self.due)


@dataclass
class _Slot:
    key: str
    due: float
    interval_s: float
    next_full_at: float
    # When the last poll started (when the slot was added, before the first).
    since: float = 0.0
    failures: int = 0
    in_flight: bool = False
    version: int = 0


@dataclass
class PollScheduler:
    """Due times of the owned instances. Single-threaded: call from one event loop."""

    policy: SchedulerPolicy
    pacer: CallPacer
    rng: random.Random = field(default_factory=random.Random)
    _slots: dict[str, _Slot] = field(default_factory=dict, init=False)
    _heap: list[tuple[float, int, str]] = field(default_factory=list, init=False)
    _counter: int = field(default=0, init=False)

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, key: object) -> bool:
        return key in self._slots

    def keys(self) -> list[str]:
        return list(self._slots)

    def in_flight(self, key: str) -> bool:
        slot = self._slots.get(key)
        return slot is not None and slot.in_flight

    def add(self, key: str, now: float, *, overdue_s: float = 0.0) -> None:
        """Start scheduling ``key``: its first poll (a full listing) is due ``overdue_s`` ago
        plus a random share of ``min_interval_s``. An instance taken over from a dead replica
        has gone unpolled for at least a lease TTL: passing that puts it ahead of instances
        that are late by less."""
        if key in self._slots:
            return
        due = now - overdue_s + self.rng.uniform(0, self.policy.min_interval_s)
        slot = _Slot(key, due, self.policy.min_interval_s, next_full_at=now, since=now)
        self._slots[key] = slot
        self._push(slot)

    def remove(self, key: str) -> None:
        """Stop scheduling ``key``; an in-flight poll's :meth:`done` is then ignored."""
        self._slots.pop(key, None)

    def take(self, now: float) -> Ticket | None:
        """The most overdue instance if one is due and the pacer allows a call, else None."""
        if self.pacer.wait_s(now) > 0:
            return None
        slot = self._peek()
        if slot is None or slot.due > now:
            return None
        heapq.heappop(self._heap)
        slot.in_flight = True
        slot.since = now
        self.pacer.spend(1, now)
        return Ticket(slot.key, slot.due, now, full_listing=now >= slot.next_full_at)

    def next_wakeup(self, now: float) -> float | None:
        """When :meth:`take` may next succeed (None: nothing queued)."""
        slot = self._peek()
        if slot is None:
            return None
        return max(slot.due, now + self.pacer.wait_s(now))

    def done(self, ticket: Ticket, now: float, *, changed: bool, calls: int, full: bool) -> None:
        """A poll finished: ``changed`` if it found news, ``calls`` RDS calls made (including
        the one taken at hand-out), ``full`` if it made a full listing."""
        self.pacer.spend(calls - 1, now)
        slot = self._finish(ticket)
        if slot is None:
            return
        slot.failures = 0
        if changed:
            slot.interval_s = self.policy.min_interval_s
        else:
            slot.interval_s = min(
                self.policy.max_interval_s, slot.interval_s * self.policy.idle_backoff_factor
            )
        if full:
            slot.next_full_at = now + self._jittered(self.policy.full_listing_interval_s)
        slot.due = ticket.started + self._jittered(slot.interval_s)
        self._push(slot)

    def failed(self, ticket: Ticket, now: float, *, calls: int) -> None:
        """A poll failed: retry after an exponential back-off (capped at the maximum)."""
        self.pacer.spend(calls - 1, now)
        slot = self._finish(ticket)
        if slot is None:
            return
        slot.failures += 1
        backoff = self.policy.min_interval_s * 2 ** min(slot.failures - 1, 16)
        slot.due = now + self._jittered(min(self.policy.max_interval_s, backoff))
        self._push(slot)

    def lag_s(self, now: float) -> float:
        """How overdue the most overdue queued instance is (0.0 when none is)."""
        slot = self._peek()
        return max(0.0, now - slot.due) if slot is not None else 0.0

    def defer(self, ticket: Ticket, until: float) -> None:
        """Hand ``ticket`` back unpolled, due again at ``until``; its interval is unchanged."""
        slot = self._finish(ticket)
        if slot is None:
            return
        slot.due = until
        self._push(slot)

    def seconds_since_poll(self, now: float) -> float:
        """The longest any owned instance has gone without a poll starting (since it was
        added, for one never polled)."""
        return max((now - slot.since for slot in self._slots.values()), default=0.0)

    def _jittered(self, seconds: float) -> float:
        return seconds * (1 - self.rng.uniform(0, self.policy.jitter_ratio))

    def _finish(self, ticket: Ticket) -> _Slot | None:
        slot = self._slots.get(ticket.key)
        if slot is None or not slot.in_flight:
            return None
        slot.in_flight = False
        return slot

    def _push(self, slot: _Slot) -> None:
        self._counter += 1
        slot.version = self._counter
        heapq.heappush(self._heap, (slot.due, self._counter, slot.key))

    def _peek(self) -> _Slot | None:
        while self._heap:
            _due, version, key = self._heap[0]
            slot = self._slots.get(key)
            if slot is not None and not slot.in_flight and slot.version == version:
                return slot
            heapq.heappop(self._heap)
        return None
