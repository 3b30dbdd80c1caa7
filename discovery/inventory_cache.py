"""The inventory shared by every replica through Valkey, described by one replica at a time.

Describing 10,000 instances costs about 150 RDS calls; if every replica did it, the inventory's
share of the account budget would grow with the replica count. Instead the fleet is kept in
Valkey (zlib-compressed JSON, with its timestamp in a small key beside it): a replica reads the
snapshot when its timestamp changes, and when the snapshot is older than
``inventory_interval_s`` the replica that wins a short lock (``SET NX PX``) describes the fleet
again. A replica that dies while describing only delays the refresh until its lock expires.
"""

from __future__ import annotations

import json
import time
import uuid
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from common.logs import get_logger
from discovery.inventory import AuroraInstance, Fleet

if TYPE_CHECKING:
    import redis.asyncio as redis

__all__ = ["FleetSource", "SharedInventory"]

log = get_logger(__name__)

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class FleetSource(Protocol):
    async def describe(self) -> Fleet: ...


class SharedInventory:
    """The current fleet. :meth:`current` may describe the fleet (many RDS calls) when stale."""

    def __init__(
        self,
        valkey: redis.Redis,
        source: FleetSource,
        *,
        key_prefix: str,
        interval_s: float,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._valkey = valkey
        self._source = source
        self._blob_key = f"{key_prefix}discovery:inventory"
        self._taken_key = f"{key_prefix}discovery:inventory:taken-at"
        self._lock_key = f"{key_prefix}discovery:inventory:lock"
        self._interval_ms = int(interval_s * 1000)
        self._clock_ms = clock_ms
        self._release = valkey.register_script(_RELEASE)
        self._fleet: Fleet | None = None

    @property
    def fleet(self) -> Fleet | None:
        """The last fleet read or described, without any I/O."""
        return self._fleet

    async def current(self) -> Fleet | None:
        """The freshest fleet known, refreshing it from RDS first if it is stale and this
        replica wins the lock. None until some replica has described the fleet once.

        Raises redis errors when Valkey is unreachable and RDS/budget errors when describing
        fails; the previous fleet stays available through :attr:`fleet`.
        """
        raw_taken = await self._valkey.get(self._taken_key)
        taken_at_ms = int(raw_taken) if raw_taken is not None else None
        if taken_at_ms is not None and (
            self._fleet is None or self._fleet.taken_at_ms != taken_at_ms
        ):
            await self._load()
        now = self._clock_ms()
        if taken_at_ms is None or now - taken_at_ms >= self._interval_ms:
            await self._refresh()
        return self._fleet

    async def _load(self) -> None:
        blob = await self._valkey.get(self._blob_key)
        if blob is None:
            return
        data = json.loads(zlib.decompress(blob.encode() if isinstance(blob, str) else blob))
        instances = [AuroraInstance.from_json(item) for item in data["instances"]]
        self._fleet = Fleet.of(instances, int(data["taken_at_ms"]))

    async def _refresh(self) -> None:
        token = uuid.uuid4().hex
        won = await self._valkey.set(self._lock_key, token, nx=True, px=self._interval_ms)
        if not won:
            return
        try:
            fleet = await self._source.describe()
        except BaseException:
            # Let another replica (or this one, next time) try again without waiting.
            await self._release(keys=[self._lock_key], args=[token])
            raise
        payload = {
            "taken_at_ms": fleet.taken_at_ms,
            "instances": [instance.to_json() for instance in fleet.instances.values()],
        }
        blob = zlib.compress(json.dumps(payload, separators=(",", ":")).encode(), 6)
        async with self._valkey.pipeline(transaction=True) as pipe:
            pipe.set(self._blob_key, blob)
            pipe.set(self._taken_key, fleet.taken_at_ms)
            await pipe.execute()
        self._fleet = fleet
        log.info("inventory_shared", instances=len(fleet.instances), bytes=len(blob))
