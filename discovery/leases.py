"""Per-instance leases in Valkey: at most one replica polls an instance at any moment.

A lease is the key ``<prefix>discovery:lease:<instance>`` holding ``<holder>:<fence>``, set with
``NX PX lease_ttl`` so only one holder can have it. The *fencing number* is taken at the same
time, atomically, from the per-instance counter ``<prefix>discovery:fence:<instance>``: it is
``max(counter + 1, Valkey's clock in ms)``, so it grows with every new lease even if Valkey
lost its data in between. Every tracking write carries the fence and DynamoDB refuses writes
with a smaller one (see :mod:`common.tracking`): a replica that lost its lease without noticing
(paused, partitioned) cannot overwrite the new holder's work.

The holder renews with compare-and-``PEXPIRE`` and releases with compare-and-``DEL`` (both Lua,
so a lease that already passed to someone else is never touched). Locally a lease is trusted
only until ``valid_until``: the time the renewal was *sent* plus the TTL, minus a margin for
clock-rate drift. Work on an instance must stop by then; the Valkey key lives at least as long.
Calls on many leases are pipelined, a few hundred per round trip.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from common.logs import get_logger

if TYPE_CHECKING:
    import redis.asyncio as redis

__all__ = ["Lease", "LeaseStore"]

log = get_logger(__name__)

_CHUNK = 500
# Locally, a lease is trusted for its TTL shortened by this share plus a fixed margin.
_DRIFT_RATIO = 0.02
_MARGIN_S = 0.25

# KEYS: lease key, fence counter. ARGV: holder, TTL ms. Returns the fence, or 0 when another
# holder has the lease. A lease this holder already has (a renewal whose answer was lost) is
# adopted with its fence.
_ACQUIRE = """
local current = redis.call('GET', KEYS[1])
if current then
  local prefix = ARGV[1] .. ':'
  if string.sub(current, 1, string.len(prefix)) == prefix then
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
    return tonumber(string.sub(current, string.len(prefix) + 1))
  end
  return 0
end
local fence = redis.call('INCR', KEYS[2])
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if fence < now_ms then
  fence = now_ms
  redis.call('SET', KEYS[2], fence)
end
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. fence, 'PX', tonumber(ARGV[2]))
return fence
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Lease:
    """This replica's hold on one instance."""

    instance_id: str
    token: str
    fence: int
    # Local monotonic time until which the holder may act on the instance.
    valid_until: float

    def remaining_s(self, now: float) -> float:
        return self.valid_until - now


class LeaseStore:
    """Acquires, renews and releases leases for one holder (a replica incarnation)."""

    def __init__(
        self,
        valkey: redis.Redis,
        *,
        key_prefix: str,
        holder: str,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ":" in holder:
            raise ValueError("a lease holder id must not contain ':'")
        self.holder = holder
        self._valkey = valkey
        self._prefix = f"{key_prefix}discovery:"
        self._ttl_s = ttl_s
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._clock = clock
        self._acquire = valkey.register_script(_ACQUIRE)
        self._renew = valkey.register_script(_RENEW)
        self._release = valkey.register_script(_RELEASE)

    def _lease_key(self, instance_id: str) -> str:
        return f"{self._prefix}lease:{instance_id}"

    def _valid_until(self, sent_at: float) -> float:
        return sent_at + self._ttl_s * (1 - _DRIFT_RATIO) - _MARGIN_S

    async def acquire(self, instance_ids: Iterable[str]) -> dict[str, Lease]:
        """Try to take each instance's lease; returns those taken. Raises redis errors."""
        ids = list(instance_ids)
        taken: dict[str, Lease] = {}
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            sent_at = self._clock()
            answers = await self._pipelined(
                self._acquire,
                [
                    ([self._lease_key(i), f"{self._prefix}fence:{i}"], [self.holder, self._ttl_ms])
                    for i in chunk
                ],
            )
            for instance_id, fence in zip(chunk, answers, strict=True):
                if int(fence) > 0:
                    token = f"{self.holder}:{int(fence)}"
                    taken[instance_id] = Lease(
                        instance_id, token, int(fence), self._valid_until(sent_at)
                    )
        return taken

    async def renew(self, leases: Iterable[Lease]) -> tuple[list[Lease], list[Lease]]:
        """Extend each lease still held by this holder. Returns (renewed, lost): a lost lease
        expired or passed to another holder. Raises redis errors (nothing is renewed then)."""
        items = list(leases)
        renewed: list[Lease] = []
        lost: list[Lease] = []
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            sent_at = self._clock()
            answers = await self._pipelined(
                self._renew,
                [
                    ([self._lease_key(lease.instance_id)], [lease.token, self._ttl_ms])
                    for lease in chunk
                ],
            )
            for lease, answer in zip(chunk, answers, strict=True):
                if int(answer) == 1:
                    renewed.append(replace(lease, valid_until=self._valid_until(sent_at)))
                else:
                    lost.append(lease)
        return renewed, lost

    async def release(self, leases: Iterable[Lease]) -> int:
        """Give up leases this holder still has; returns how many were released."""
        items = list(leases)
        released = 0
        for start in range(0, len(items), _CHUNK):
            chunk = items[start : start + _CHUNK]
            answers = await self._pipelined(
                self._release,
                [([self._lease_key(lease.instance_id)], [lease.token]) for lease in chunk],
            )
            released += sum(int(answer) for answer in answers)
        return released

    async def holder_of(self, instance_id: str) -> str | None:
        """The token currently in the lease key (diagnostics and tests)."""
        raw = await self._valkey.get(self._lease_key(instance_id))
        if raw is None:
            return None
        return raw if isinstance(raw, str) else raw.decode()

    async def _pipelined(
        self, script: Any, calls: Sequence[tuple[list[str], list[Any]]]
    ) -> list[Any]:
        async with self._valkey.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                await script(keys=keys, args=args, client=pipe)
            answers: list[Any] = await pipe.execute()
        return answers
