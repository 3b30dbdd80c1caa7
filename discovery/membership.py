"""Which discovery replicas are alive, and which of them owns each instance.

Each replica announces itself with a heartbeat key ``<prefix>discovery:member:<replica id>``
written with a TTL (``member_ttl_s``) and renewed every ``lease_renew_interval_s``; a set beside
the keys lists the ids so nobody has to SCAN the keyspace. A replica whose key expired is dead
and is removed from the set by whoever notices.

Instances are assigned by rendezvous (highest random weight) hashing: each instance goes to the
live replica with the highest ``hash(replica, instance)``. Every replica computes the same answer
from the same member list, with no coordination; when a replica joins or leaves, only the
instances it gains or loses move (about 1/N of them), the rest stay where they are. The
assignment only says who *should* poll; the lease (see :mod:`discovery.leases`) decides who may.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from common.logs import get_logger

if TYPE_CHECKING:
    import redis.asyncio as redis

__all__ = ["Membership", "assign", "owner_of", "weight"]

log = get_logger(__name__)

# KEYS[1]: the member set. ARGV: key prefix of heartbeat keys, this replica's id, its
# incarnation, TTL (ms). Returns the live member ids, this replica included.
_HEARTBEAT = """
local set, prefix, me = KEYS[1], ARGV[1], ARGV[2]
redis.call('SET', prefix .. me, ARGV[3], 'PX', tonumber(ARGV[4]))
redis.call('SADD', set, me)
local live = {}
for _, id in ipairs(redis.call('SMEMBERS', set)) do
  if redis.call('EXISTS', prefix .. id) == 1 then
    table.insert(live, id)
  else
    redis.call('SREM', set, id)
  end
end
return live
"""

# Leaving removes the heartbeat only if it is still this incarnation's.
_LEAVE = """
if redis.call('GET', ARGV[1] .. ARGV[2]) == ARGV[3] then
  redis.call('DEL', ARGV[1] .. ARGV[2])
  redis.call('SREM', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


def weight(member: str, key: str) -> int:
    """The rendezvous weight of ``member`` for ``key``: 64 bits of BLAKE2b, stable everywhere."""
    digest = hashlib.blake2b(f"{member}\x00{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def owner_of(key: str, members: Sequence[str]) -> str:
    """The member that owns ``key``. Raises ValueError when there are no members."""
    if not members:
        raise ValueError("no members to assign to")
    return max(members, key=lambda member: (weight(member, key), member))


def assign(keys: Iterable[str], members: Sequence[str], me: str) -> set[str]:
    """The keys ``me`` owns among ``members`` (``me`` counts as a member in any case)."""
    everyone = sorted({*members, me})
    return {key for key in keys if owner_of(key, everyone) == me}


class Membership:
    """This replica's heartbeat and the list of live replicas."""

    def __init__(
        self,
        valkey: redis.Redis,
        *,
        key_prefix: str,
        replica_id: str,
        incarnation: str,
        ttl_s: float,
    ) -> None:
        self.replica_id = replica_id
        self._incarnation = incarnation
        self._ttl_ms = int(ttl_s * 1000)
        self._set_key = f"{key_prefix}discovery:members"
        self._member_prefix = f"{key_prefix}discovery:member:"
        self._heartbeat = valkey.register_script(_HEARTBEAT)
        self._leave = valkey.register_script(_LEAVE)
        self.members: tuple[str, ...] = (replica_id,)

    async def heartbeat(self) -> tuple[str, ...]:
        """Renew this replica's heartbeat; returns the live replicas, sorted. One round trip;
        raises redis errors when Valkey is unreachable (the previous list stays in
        :attr:`members`)."""
        raw: list[bytes] = await self._heartbeat(
            keys=[self._set_key],
            args=[self._member_prefix, self.replica_id, self._incarnation, self._ttl_ms],
        )
        members = tuple(sorted({item.decode() for item in raw} | {self.replica_id}))
        if members != self.members:
            log.info("members_changed", members=len(members), replicas=list(members))
        self.members = members
        return members

    async def leave(self) -> None:
        """Remove this replica's heartbeat (graceful stop): the others take over at once."""
        await self._leave(
            keys=[self._set_key], args=[self._member_prefix, self.replica_id, self._incarnation]
        )
