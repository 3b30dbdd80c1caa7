"""Runs the polls the scheduler hands out, a bounded number at a time, each inside its lease.

The dispatcher is the :class:`~discovery.ownership.OwnershipListener`: an acquired instance is
scheduled ahead of every instance already queued (it has gone unpolled at least since its
lease expired elsewhere, ``acquired_overdue_s``, on top of however late that replica was), a
dropped one unscheduled. Each poll runs in its own task (at most
``concurrency`` at once) under a deadline that is the lease's local validity: every renewal
pushes the deadline on, and a lost lease pulls it to *now*, so a poll never outlives the lease
that allowed it. That, with leases being exclusive, is what keeps two replicas from polling one
instance at the same time.

:meth:`run` loops until told to stop; :meth:`drain` then lets the polls in hand finish until a
deadline and cancels the rest (their partial work is redone by the next owner: every write is
conditional and every event level-triggered).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from common.logs import get_logger
from discovery import metrics
from discovery.ownership import DropReason, OwnedInstance
from discovery.poller import PollResult
from discovery.scheduler import PollScheduler, Ticket

__all__ = ["PollDispatcher", "Poller"]

log = get_logger(__name__)

# The loop looks at its stop flag and reports liveness at least this often.
_IDLE_WAIT_S = 1.0


class Poller(Protocol):
    async def poll(self, owned: OwnedInstance, *, full_listing: bool) -> PollResult: ...


@dataclass
class _Running:
    task: asyncio.Task[None]
    timeout: asyncio.Timeout | None
    hard_deadline: float


class PollDispatcher:
    """Bounded concurrent polling of owned instances. Use from one event loop."""

    def __init__(
        self,
        scheduler: PollScheduler,
        poller: Poller,
        *,
        concurrency: int,
        poll_timeout_s: float,
        clock: Callable[[], float] = time.monotonic,
        on_progress: Callable[[], None] = lambda: None,
        acquired_overdue_s: float = 0.0,
    ) -> None:
        self._scheduler = scheduler
        self._acquired_overdue_s = acquired_overdue_s
        self._poller = poller
        self._concurrency = concurrency
        self._poll_timeout_s = poll_timeout_s
        self._clock = clock
        self._on_progress = on_progress
        self._owned: dict[str, OwnedInstance] = {}
        self._running: dict[str, _Running] = {}
        self._wake = asyncio.Event()

    # --- OwnershipListener -----------------------------------------------------------------

    def acquired(self, owned: OwnedInstance) -> None:
        self._owned[owned.instance_id] = owned
        now = self._clock()
        # Unpolled since before its lease expired elsewhere: later than anything queued here.
        overdue_s = self._scheduler.lag_s(now) + self._acquired_overdue_s
        self._scheduler.add(owned.instance_id, now, overdue_s=overdue_s)
        self._wake.set()

    def retire(self, owned: OwnedInstance) -> None:
        self._scheduler.remove(owned.instance_id)
        self._scheduler.add(owned.instance_id, self._clock(), overdue_s=self._acquired_overdue_s)
        self._wake.set()

    def renewed(self, owned: OwnedInstance) -> None:
        running = self._running.get(owned.instance_id)
        if running is not None and running.timeout is not None:
            running.timeout.reschedule(min(owned.lease.valid_until, running.hard_deadline))

    def dropped(self, owned: OwnedInstance, reason: DropReason) -> None:
        self._owned.pop(owned.instance_id, None)
        self._scheduler.remove(owned.instance_id)
        running = self._running.get(owned.instance_id)
        if running is not None and running.timeout is not None and reason != "released":
            running.timeout.reschedule(self._clock())  # stop now: someone else may own it

    def is_polling(self, instance_id: str) -> bool:
        return instance_id in self._running

    # --- running ---------------------------------------------------------------------------

    @property
    def owned(self) -> dict[str, OwnedInstance]:
        return self._owned

    async def run(self, stopping: asyncio.Event) -> None:
        """Hand out polls until ``stopping`` is set. Never raises for a failed poll."""
        watcher = asyncio.ensure_future(stopping.wait())
        watcher.add_done_callback(lambda _: self._wake.set())
        try:
            await self._hand_out(stopping)
        finally:
            watcher.cancel()

    async def _hand_out(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self._on_progress()
            self._wake.clear()  # anything that happens from here on wakes the wait below
            now = self._clock()
            ticket = self._scheduler.take(now) if len(self._running) < self._concurrency else None
            if ticket is None:
                wake_at = self._scheduler.next_wakeup(now)
                wait_s = _IDLE_WAIT_S if wake_at is None else min(_IDLE_WAIT_S, wake_at - now)
                await self._sleep(max(0.0, wait_s))
                continue
            owned = self._owned.get(ticket.key)
            if owned is None:
                self._scheduler.remove(ticket.key)
                continue
            if ticket.key in self._running or owned.lease.valid_until <= now:
                # Still polling it, or its lease ran out and the next cycle will drop it.
                self._scheduler.defer(ticket, now + _IDLE_WAIT_S)
                continue
            task = asyncio.create_task(self._poll(ticket, owned), name=f"poll-{ticket.key}")
            self._running[ticket.key] = _Running(task, None, now + self._poll_timeout_s)

    async def drain(self, timeout_s: float) -> int:
        """Wait up to ``timeout_s`` for the polls in hand, then cancel the rest; returns how
        many had to be cancelled."""
        tasks = [running.task for running in self._running.values()]
        if not tasks:
            return 0
        _done, pending = await asyncio.wait(tasks, timeout=max(0.0, timeout_s))
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
            log.warning("polls_cancelled", polls=len(pending))
        return len(pending)

    def refresh_gauges(self) -> None:
        """Set the gauges that describe the owned instances (cheap; call every few seconds)."""
        now = self._clock()
        metrics.SECONDS_SINCE_POLL.set(self._scheduler.seconds_since_poll(now))
        counts = {"active": 0, "rotated": 0}
        for owned in self._owned.values():
            if owned.files is None:
                continue
            for file in owned.files.live():
                status = str(file.observation.status)
                if status in counts:
                    counts[status] += 1
        for status, count in counts.items():
            metrics.FILES_TRACKED.labels(status).set(count)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)

    async def _poll(self, ticket: Ticket, owned: OwnedInstance) -> None:
        key = ticket.key
        started = self._clock()
        metrics.POLL_LAG.observe(ticket.lag_s)
        running = self._running[key]
        try:
            await self._poll_within_lease(ticket, owned, running)
        finally:
            metrics.POLL_DURATION.observe(self._clock() - started)
            self._running.pop(key, None)
            self._wake.set()

    async def _poll_within_lease(
        self, ticket: Ticket, owned: OwnedInstance, running: _Running
    ) -> None:
        key = ticket.key
        listing = "full" if ticket.full_listing else "incremental"
        error: Exception | None = None
        try:
            async with asyncio.timeout_at(
                min(owned.lease.valid_until, running.hard_deadline)
            ) as timeout:
                running.timeout = timeout
                result = await self._poller.poll(owned, full_listing=ticket.full_listing)
        except TimeoutError as exc:
            if running.timeout is None or not running.timeout.expired():
                error = exc  # a client library's own timeout: an ordinary failure
            else:
                owned.files = None  # a write may have been cut short: reload next time
                lease_ended = key not in self._owned or owned.lease.valid_until <= self._clock()
                outcome = "lease_lost" if lease_ended else "timed_out"
                metrics.POLLS.labels(listing, outcome).inc()
                log.warning("poll_interrupted", instance=key, outcome=outcome)
                self._scheduler.failed(ticket, self._clock(), calls=1)
                return
        except Exception as exc:
            error = exc
        if error is not None:
            metrics.POLLS.labels(listing, "failed").inc()
            log.warning(
                "poll_failed",
                instance=key,
                reason=getattr(error, "reason", type(error).__name__),
                error=str(error)[:300],
            )
            self._scheduler.failed(ticket, self._clock(), calls=1)
            return
        listing = "full" if result.full_listing else "incremental"
        metrics.POLLS.labels(listing, "ok").inc()
        if owned.retiring and result.full_listing:
            owned.retired = True
        self._scheduler.done(
            ticket,
            self._clock(),
            changed=result.changed,
            calls=result.calls,
            full=result.full_listing,
        )
