"""The dispatcher: bounded concurrent polls, each stopped the moment its lease ends."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from discovery import metrics
from discovery.dispatcher import PollDispatcher
from discovery.inventory import AuroraInstance
from discovery.leases import Lease
from discovery.ownership import OwnedInstance
from discovery.poller import PollResult
from discovery.scheduler import CallPacer, PollScheduler, SchedulerPolicy
from tests.waiting import eventually

WAIT_S = 5.0  # every wait below is bounded by this


class ScriptedPoller:
    """Polls that take as long as the test says: ``gates[id]`` holds a poll until set."""

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.started: list[str] = []
        self.finished: list[str] = []
        self.running = 0
        self.most_running = 0
        self.fail: set[str] = set()
        self.full_listings: list[bool] = []

    async def poll(self, owned: OwnedInstance, *, full_listing: bool) -> PollResult:
        self.started.append(owned.instance_id)
        self.full_listings.append(full_listing)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            gate = self.gates.get(owned.instance_id)
            if gate is not None:
                await gate.wait()
            if owned.instance_id in self.fail:
                raise RuntimeError("RDS said no")
            self.finished.append(owned.instance_id)
            return PollResult(
                calls=1, changed=True, full_listing=full_listing, events=0, lost_bytes=0
            )
        finally:
            self.running -= 1


def _owned(instance_id: str, valid_for_s: float = 60.0) -> OwnedInstance:
    now = asyncio.get_running_loop().time()
    lease = Lease(instance_id, f"r/1:{instance_id}", 1, valid_until=now + valid_for_s)
    return OwnedInstance(AuroraInstance(instance_id, "c", "aurora-mysql", "8.0"), lease)


@pytest.fixture
async def running() -> AsyncIterator[tuple[PollDispatcher, ScriptedPoller]]:
    poller = ScriptedPoller()
    scheduler = PollScheduler(
        SchedulerPolicy(min_interval_s=0.01, max_interval_s=0.05, jitter_ratio=0),
        CallPacer(1000, burst=100),
        rng=random.Random(1),
    )
    dispatcher = PollDispatcher(
        scheduler,
        poller,
        concurrency=3,
        poll_timeout_s=30,
        clock=asyncio.get_running_loop().time,
    )
    stopping = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stopping))
    yield dispatcher, poller
    stopping.set()
    await asyncio.wait_for(task, WAIT_S)
    await dispatcher.drain(0.1)


async def test_owned_instances_are_polled_a_bounded_number_at_a_time(
    running: tuple[PollDispatcher, ScriptedPoller],
) -> None:
    dispatcher, poller = running
    gate = asyncio.Event()
    for n in range(8):
        poller.gates[f"db-{n}"] = gate
        dispatcher.acquired(_owned(f"db-{n}"))
    await eventually(lambda: len(poller.started) == 3, timeout_s=WAIT_S)
    assert dispatcher.is_polling(poller.started[0])
    gate.set()
    await eventually(
        lambda: set(poller.finished) >= {f"db-{n}" for n in range(8)}, timeout_s=WAIT_S
    )
    assert poller.most_running == 3


async def test_a_lost_lease_stops_the_poll_at_once(
    running: tuple[PollDispatcher, ScriptedPoller],
) -> None:
    dispatcher, poller = running
    poller.gates["db-1"] = asyncio.Event()  # never opened: only the lease can end it
    owned = _owned("db-1")
    before = metrics.POLLS.labels("full", "lease_lost")._value.get()
    dispatcher.acquired(owned)
    await eventually(lambda: dispatcher.is_polling("db-1"), timeout_s=WAIT_S)
    dispatcher.dropped(owned, "lost")
    await eventually(lambda: not dispatcher.is_polling("db-1"), timeout_s=WAIT_S)
    assert metrics.POLLS.labels("full", "lease_lost")._value.get() == before + 1
    assert owned.files is None
    assert "db-1" not in dispatcher.owned


async def test_a_poll_never_outlives_its_lease_unless_renewed(
    running: tuple[PollDispatcher, ScriptedPoller],
) -> None:
    dispatcher, poller = running
    short = _owned("db-short", valid_for_s=0.2)
    renewed = _owned("db-renewed", valid_for_s=0.2)
    gate = asyncio.Event()
    poller.gates["db-short"] = poller.gates["db-renewed"] = gate
    loop = asyncio.get_running_loop()
    dispatcher.acquired(short)
    dispatcher.acquired(renewed)
    await eventually(
        lambda: dispatcher.is_polling("db-short") and dispatcher.is_polling("db-renewed"),
        timeout_s=WAIT_S,
    )
    renewed.lease = replace(renewed.lease, valid_until=loop.time() + 30)
    dispatcher.renewed(renewed)
    started = loop.time()
    await eventually(lambda: not dispatcher.is_polling("db-short"), timeout_s=WAIT_S)
    assert loop.time() - started < 0.5
    assert dispatcher.is_polling("db-renewed")
    gate.set()
    await eventually(lambda: "db-renewed" in poller.finished, timeout_s=WAIT_S)
    assert "db-short" not in poller.finished


async def test_a_failed_poll_is_retried_later_and_the_loop_goes_on(
    running: tuple[PollDispatcher, ScriptedPoller],
) -> None:
    dispatcher, poller = running
    poller.fail.add("db-bad")
    dispatcher.acquired(_owned("db-bad"))
    dispatcher.acquired(_owned("db-good"))
    await eventually(
        lambda: poller.started.count("db-bad") >= 2 and "db-good" in poller.finished,
        timeout_s=WAIT_S,
    )


async def test_drain_lets_polls_finish_then_cancels_the_rest() -> None:
    poller = ScriptedPoller()
    scheduler = PollScheduler(
        SchedulerPolicy(min_interval_s=0.01, max_interval_s=10, jitter_ratio=0),
        CallPacer(1000, burst=100),
    )
    loop = asyncio.get_running_loop()
    dispatcher = PollDispatcher(
        scheduler, poller, concurrency=4, poll_timeout_s=30, clock=loop.time
    )
    quick, stuck = asyncio.Event(), asyncio.Event()
    poller.gates.update({"db-quick": quick, "db-stuck": stuck})
    stopping = asyncio.Event()
    task = asyncio.create_task(dispatcher.run(stopping))
    dispatcher.acquired(_owned("db-quick"))
    dispatcher.acquired(_owned("db-stuck"))
    await eventually(
        lambda: dispatcher.is_polling("db-quick") and dispatcher.is_polling("db-stuck"),
        timeout_s=WAIT_S,
    )
    stopping.set()
    await asyncio.wait_for(task, WAIT_S)
    loop.call_later(0.05, quick.set)
    assert await dispatcher.drain(0.3) == 1
    assert poller.finished == ["db-quick"]
    assert not dispatcher.is_polling("db-stuck")


async def test_a_retiring_instance_gets_one_more_complete_poll(
    running: tuple[PollDispatcher, ScriptedPoller],
) -> None:
    dispatcher, poller = running
    owned = _owned("db-gone")
    dispatcher.acquired(owned)
    await eventually(lambda: "db-gone" in poller.finished, timeout_s=WAIT_S)
    polls_before = len(poller.full_listings)
    owned.retiring = True
    dispatcher.retire(owned)
    await eventually(lambda: owned.retired, timeout_s=WAIT_S)
    assert poller.full_listings[polls_before] is True, "the next poll lists everything"
