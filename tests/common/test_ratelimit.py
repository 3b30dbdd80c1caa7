"""The shared RDS budget against the real Valkey: GCRA burst and rate, AIMD, the caller."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from botocore.exceptions import ClientError

from common.clients.valkey import make_valkey
from common.errors import NotFoundError, ThrottledError
from common.ratelimit import RDS_CALLS, RdsBudget, RdsCaller
from common.settings import RdsSettings, ValkeySettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def valkey(valkey_url: str) -> AsyncIterator[redis.Redis]:
    client = make_valkey(ValkeySettings(url=valkey_url))
    yield client
    await client.aclose()


def _budget(valkey: redis.Redis, rate: float, burst: int, **kwargs: float) -> RdsBudget:
    settings = RdsSettings(budget_rate_per_s=rate, budget_burst=burst)
    return RdsBudget(valkey, settings, key=f"test:budget:{uuid.uuid4().hex}", **kwargs)


async def test_burst_then_one_token_per_interval(valkey: redis.Redis) -> None:
    budget = _budget(valkey, rate=2, burst=3)
    assert [await budget.try_acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    wait_s = await budget.try_acquire()
    assert 0.3 < wait_s <= 0.5, "the next token comes one interval (0.5 s) after the burst"


async def test_many_replicas_together_never_exceed_the_rate(valkey_url: str) -> None:
    rate, burst, window_s = 40.0, 4, 1.5
    key = f"test:budget:{uuid.uuid4().hex}"
    settings = RdsSettings(budget_rate_per_s=rate, budget_burst=burst)
    clients = [make_valkey(ValkeySettings(url=valkey_url)) for _ in range(3)]
    budgets = [RdsBudget(client, settings, key=key) for client in clients]
    granted: list[float] = []
    started = time.monotonic()

    async def replica(budget: RdsBudget) -> None:
        while time.monotonic() - started < window_s:
            await budget.acquire(max_wait_s=5)
            granted.append(time.monotonic() - started)

    try:
        await asyncio.gather(*(replica(budget) for budget in budgets))
    finally:
        for client in clients:
            await client.aclose()
    inside = [at for at in granted if at < window_s]
    assert len(inside) <= burst + rate * window_s + 1
    # ...and the budget is used, not starved: at least 80% of what it allows.
    assert len(inside) >= 0.8 * rate * window_s


async def test_throttle_halves_the_rate_and_it_recovers(valkey: redis.Redis) -> None:
    budget = _budget(valkey, rate=10, burst=1, recovery_s=0.5, cooldown_s=0)
    assert (await budget.state()).factor == 1.0
    first = await budget.report_throttled()
    assert first.factor == pytest.approx(0.5, abs=0.05)
    second = await budget.report_throttled()
    assert second.factor == pytest.approx(0.25, abs=0.05)
    assert second.rate_per_s == pytest.approx(2.5, abs=0.5)
    for _ in range(100):
        if (await budget.state()).factor == 1.0:
            break
        await asyncio.sleep(0.02)
    assert (await budget.state()).factor == 1.0


async def test_the_rate_never_falls_below_the_floor(valkey: redis.Redis) -> None:
    budget = _budget(valkey, rate=8, burst=1, min_factor=0.125, cooldown_s=0)
    for _ in range(10):
        state = await budget.report_throttled()
    assert state.factor == pytest.approx(0.125)


async def test_throttles_reported_together_halve_the_rate_once(valkey: redis.Redis) -> None:
    """Calls in flight together are throttled together: one halving, not one per call."""
    budget = _budget(valkey, rate=8, burst=4, cooldown_s=30)
    states = await asyncio.gather(*(budget.report_throttled() for _ in range(6)))
    assert [state.factor for state in states] == [pytest.approx(0.5, abs=0.01)] * 6
    # ...but each report still holds the bucket back.
    assert await budget.try_acquire() > 0
    later = _budget(valkey, rate=8, burst=4, cooldown_s=0.05)
    await later.report_throttled()
    await asyncio.sleep(0.1)
    assert (await later.report_throttled()).factor == pytest.approx(0.25, abs=0.01)


async def test_acquire_gives_up_after_max_wait(valkey: redis.Redis) -> None:
    budget = _budget(valkey, rate=0.1, burst=1)
    await budget.acquire()
    with pytest.raises(ThrottledError) as error:
        await budget.acquire(max_wait_s=0.5)
    assert error.value.retry_after_s is not None
    assert error.value.retry_after_s > 5


def _aws_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "Rate exceeded"}}, "DescribeDBLogFiles")


async def test_caller_retries_throttled_calls_and_reports_them(valkey: redis.Redis) -> None:
    budget = _budget(valkey, rate=100, burst=100, cooldown_s=0)
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    caller = RdsCaller(budget, sleep=fake_sleep)
    answers: list[object] = [_aws_error("Throttling"), _aws_error("ThrottlingException"), "files"]

    async def request() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        assert isinstance(answer, str)
        return answer

    before = RDS_CALLS.labels("DescribeDBLogFiles", "throttled")._value.get()
    assert await caller.call("DescribeDBLogFiles", request) == "files"
    assert RDS_CALLS.labels("DescribeDBLogFiles", "throttled")._value.get() == before + 2
    assert len(slept) == 2
    assert (await budget.state()).factor < 0.3


async def test_caller_gives_up_after_max_attempts(valkey: redis.Redis) -> None:
    async def no_sleep(_seconds: float) -> None:
        return None

    caller = RdsCaller(_budget(valkey, rate=100, burst=100), max_attempts=3, sleep=no_sleep)

    async def always_throttled() -> None:
        raise _aws_error("Throttling")

    with pytest.raises(ThrottledError):
        await caller.call("DownloadDBLogFilePortion", always_throttled)


async def test_caller_translates_other_aws_errors_at_once(valkey: redis.Redis) -> None:
    caller = RdsCaller(_budget(valkey, rate=100, burst=100))
    calls = 0

    async def missing() -> None:
        nonlocal calls
        calls += 1
        raise _aws_error("DBInstanceNotFound")

    with pytest.raises(NotFoundError):
        await caller.call("DescribeDBLogFiles", missing)
    assert calls == 1
