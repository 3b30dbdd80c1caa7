"""One RDS API budget for the whole account and region, shared by every replica of both services.

AWS throttles RDS API calls per account and region with one token bucket (burst 300, about 12
requests/s) that the console and every other tool draw from too. A fleet polled naively
throttles the whole account, so every RDS call this project makes first takes a token from a
budget kept in Valkey:

- **GCRA** (generic cell rate algorithm) in one Lua script: the bucket is a single timestamp,
  the "theoretical arrival time", updated atomically with Valkey's own clock, so replicas with
  skewed clocks still share one rate exactly. ``rate_per_s`` is the sustained rate and
  ``burst`` the number of calls allowed back to back.
- **Adaptive**: when AWS answers ``ThrottlingException`` anyway (other tools spent the shared
  bucket), :meth:`RdsBudget.report_throttled` halves the budget's rate for every replica, down
  to a floor; the rate climbs back linearly to the configured maximum over ``recovery_s``
  seconds without throttling (additive increase, multiplicative decrease). Throttles reported
  within ``cooldown_s`` of a halving are one event (calls in flight together are refused
  together): they hold the bucket back but do not halve the rate again.

:class:`RdsCaller` wraps an RDS call: take a token, call, and on throttling report it, back off
with full jitter and try again, up to a limit; it counts every call in the metrics.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import Counter, Histogram

from common.errors import ThrottledError, aws_error_code, from_aws_error
from common.logs import get_logger
from common.settings import RdsSettings

if TYPE_CHECKING:
    import redis.asyncio as redis

__all__ = ["BudgetState", "RdsBudget", "RdsCaller"]

log = get_logger(__name__)
T = TypeVar("T")

RDS_CALLS = Counter(
    "aurora_rds_calls_total",
    "RDS API calls made, by operation and outcome (ok, throttled, error).",
    ["operation", "outcome"],
)
RDS_BUDGET_WAIT = Histogram(
    "aurora_rds_budget_wait_seconds",
    "Time spent waiting for a token of the shared RDS budget.",
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
RDS_THROTTLES = Counter(
    "aurora_rds_throttles_total",
    "ThrottlingException answers from AWS, by operation.",
    ["operation"],
)

# KEYS[1]: the bucket hash. ARGV: max rate (calls/s), burst, cost, recovery seconds, min factor,
# throttled (1 = report a throttle instead of taking tokens), cooldown seconds.
# Hash fields: tat (µs, theoretical arrival time), factor (share of the max rate in force),
# changed (µs, when factor was last set). Returns {allowed (0/1), wait µs, factor * 1e6}.
_SCRIPT = """
local key = KEYS[1]
local max_rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local recovery_us = tonumber(ARGV[4]) * 1000000
local min_factor = tonumber(ARGV[5])
local throttled = ARGV[6] == '1'
local cooldown_us = tonumber(ARGV[7]) * 1000000

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', key, 'tat', 'factor', 'changed')
local tat = tonumber(state[1]) or now
local factor = tonumber(state[2]) or 1
local last_change = tonumber(state[3])
local changed = last_change or now

-- Linear recovery towards the full rate since the last change.
if factor < 1 and recovery_us > 0 then
  factor = math.min(1, factor + (now - changed) / recovery_us)
end

if throttled then
  if last_change == nil or now - last_change >= cooldown_us then
    factor = math.max(min_factor, factor / 2)
    redis.call('HSET', key, 'factor', factor, 'changed', now)
  end
  -- Hold every replica back for one interval at the rate in force.
  local interval = 1000000 / (max_rate * factor)
  tat = math.max(tat, now) + interval
  redis.call('HSET', key, 'tat', tat)
  redis.call('PEXPIRE', key, 3600000)
  return {0, 0, math.floor(factor * 1000000)}
end

local interval = 1000000 / (max_rate * factor)
local tolerance = interval * burst
tat = math.max(tat, now)
local new_tat = tat + interval * cost
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, math.ceil(allow_at - now), math.floor(factor * 1000000)}
end
-- factor and changed are written only on a throttle: recovery is always measured from it.
redis.call('HSET', key, 'tat', new_tat)
redis.call('PEXPIRE', key, 3600000)
return {1, 0, math.floor(factor * 1000000)}
"""


@dataclass(frozen=True)
class BudgetState:
    """What the budget allows right now."""

    rate_per_s: float
    factor: float


class RdsBudget:
    """The shared token bucket. Safe to use from many tasks and many processes at once."""

    def __init__(
        self,
        valkey: redis.Redis,
        settings: RdsSettings,
        *,
        key: str = "aurora-logs:rds-budget",
        min_factor: float = 0.125,
        recovery_s: float = 300.0,
        cooldown_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._valkey = valkey
        self._settings = settings
        self._key = key
        self._min_factor = min_factor
        self._recovery_s = recovery_s
        self._cooldown_s = cooldown_s
        self._sleep = sleep
        self._script = valkey.register_script(_SCRIPT)

    async def _run(self, cost: int, throttled: bool) -> tuple[bool, float, float]:
        answer: list[int] = await self._script(
            keys=[self._key],
            args=[
                self._settings.budget_rate_per_s,
                self._settings.budget_burst,
                cost,
                self._recovery_s,
                self._min_factor,
                "1" if throttled else "0",
                self._cooldown_s,
            ],
        )
        allowed, wait_us, factor_millionths = (int(value) for value in answer)
        return allowed == 1, wait_us / 1e6, factor_millionths / 1e6

    async def try_acquire(self, cost: int = 1) -> float:
        """Take ``cost`` tokens if available now. Returns 0.0 on success, else the seconds to wait.

        One Valkey round trip; raises redis errors when Valkey is unreachable.
        """
        allowed, wait_s, _factor = await self._run(cost, throttled=False)
        return 0.0 if allowed else max(wait_s, 0.001)

    async def acquire(self, cost: int = 1, *, max_wait_s: float = 60.0) -> float:
        """Wait for ``cost`` tokens; returns the seconds waited.

        Raises :class:`ThrottledError` when the tokens cannot be had within ``max_wait_s``
        (the caller retries later rather than queueing without bound).
        """
        if not 0 < cost <= self._settings.budget_burst:
            raise ValueError(
                f"cost must be between 1 and the burst ({self._settings.budget_burst})"
            )
        started = time.monotonic()
        while True:
            wait_s = await self.try_acquire(cost)
            waited = time.monotonic() - started
            if wait_s == 0.0:
                RDS_BUDGET_WAIT.observe(waited)
                return waited
            if waited + wait_s > max_wait_s:
                raise ThrottledError(
                    f"RDS budget: no token within {max_wait_s:g}s", retry_after_s=wait_s
                )
            # A little jitter so replicas woken at the same instant do not collide again.
            await self._sleep(wait_s * random.uniform(1.0, 1.2))

    async def report_throttled(self) -> BudgetState:
        """AWS throttled a call: halve the shared rate (down to a floor) for every replica,
        once per ``cooldown_s`` however many calls report it."""
        _allowed, _wait, factor = await self._run(0, throttled=True)
        return BudgetState(self._settings.budget_rate_per_s * factor, factor)

    async def state(self) -> BudgetState:
        """The rate in force (reads without taking tokens)."""
        raw = await self._valkey.hmget(self._key, ["factor", "changed"])
        factor = float(raw[0]) if raw[0] is not None else 1.0
        if factor < 1 and raw[1] is not None:
            server_s, server_us = await self._valkey.time()
            elapsed_s = (server_s * 1e6 + server_us - float(raw[1])) / 1e6
            factor = min(1.0, factor + elapsed_s / self._recovery_s)
        return BudgetState(self._settings.budget_rate_per_s * factor, factor)


class RdsCaller:
    """Makes RDS calls inside the budget, retrying throttled ones with jittered back-off."""

    def __init__(
        self,
        budget: RdsBudget,
        *,
        max_attempts: int = 5,
        base_backoff_s: float = 0.5,
        max_backoff_s: float = 20.0,
        max_wait_s: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.budget = budget
        self._max_attempts = max_attempts
        self._base_backoff_s = base_backoff_s
        self._max_backoff_s = max_backoff_s
        self._max_wait_s = max_wait_s
        self._sleep = sleep

    async def call(self, operation: str, request: Callable[[], Awaitable[T]]) -> T:
        """Run ``request`` (one RDS API call) inside the budget and return its answer.

        Throttling answers are reported to the budget and retried with full-jitter exponential
        back-off; after ``max_attempts`` a :class:`ThrottledError` is raised. Any other AWS
        error is translated by :func:`common.errors.from_aws_error` and raised at once.
        """
        for attempt in range(1, self._max_attempts + 1):
            await self.budget.acquire(max_wait_s=self._max_wait_s)
            try:
                answer = await request()
            except Exception as exc:
                if isinstance(exc, asyncio.CancelledError):  # pragma: no cover - BaseException
                    raise
                translated = from_aws_error(exc) if aws_error_code(exc) else None
                if isinstance(translated, ThrottledError):
                    RDS_CALLS.labels(operation, "throttled").inc()
                    RDS_THROTTLES.labels(operation).inc()
                    state = await self.budget.report_throttled()
                    backoff = random.uniform(
                        0, min(self._max_backoff_s, self._base_backoff_s * 2**attempt)
                    )
                    log.warning(
                        "rds_call_throttled",
                        operation=operation,
                        attempt=attempt,
                        backoff_s=round(backoff, 3),
                        budget_rate_per_s=round(state.rate_per_s, 3),
                    )
                    await self._sleep(backoff)
                    continue
                RDS_CALLS.labels(operation, "error").inc()
                if translated is not None:
                    raise translated from exc
                raise
            RDS_CALLS.labels(operation, "ok").inc()
            return answer
        raise ThrottledError(
            f"{operation} throttled {self._max_attempts} times in a row", reason="throttled"
        )
