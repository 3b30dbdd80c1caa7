"""Which instances this replica owns now: heartbeat, rendezvous assignment, leases.

One :meth:`Ownership.cycle` every ``lease_renew_interval_s``:

1. drop leases whose local validity ran out (Valkey unreachable for too long);
2. heartbeat, learning the live replicas;
3. renew every lease held; a lease found taken by another holder is dropped at once;
4. give back leases of instances now assigned to another replica, unless a poll of them is
   in flight (next cycle then); an instance gone from the fleet is first polled once more,
   completely (a deleted instance's files are then settled as gone, unread bytes as lost);
5. try to take the leases of instances assigned here and not yet held.

So a dead replica's instances are taken over once its heartbeat has expired (``member_ttl_s``)
and its leases have too (``lease_ttl_s``), at the first cycle after that: within
``lease_ttl_s + lease_renew_interval_s``, and polled within ``min_poll_interval_s`` after
(budget permitting). A replica that joins gets its share as soon as the others have seen its
heartbeat and given the leases back: within two cycles.

Listeners hear of every change (:class:`OwnershipListener`); the dispatcher uses them to
schedule instances and to stop a poll the moment its lease is lost.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, Protocol

from common.logs import get_logger
from discovery import metrics
from discovery.instance_files import InstanceFiles
from discovery.inventory import AuroraInstance, Fleet
from discovery.leases import Lease, LeaseStore
from discovery.membership import Membership, assign

__all__ = ["DropReason", "OwnedInstance", "Ownership", "OwnershipListener"]

log = get_logger(__name__)

DropReason = Literal["lost", "expired", "released"]


@dataclass
class OwnedInstance:
    """An instance whose lease this replica holds, with what polling keeps about it."""

    instance: AuroraInstance
    lease: Lease
    # Loaded on the first poll under this lease; None forces a reload (after a conflict).
    files: InstanceFiles | None = None
    # Newest LastWritten seen in any listing: incremental listings start a margin before it.
    high_water_ms: int | None = None
    # Gone from the fleet: kept (and its lease renewed) for one last complete poll, so the
    # files of a deleted instance are settled and their unread bytes counted as lost.
    retiring: bool = False
    retired: bool = False

    @property
    def instance_id(self) -> str:
        return self.instance.instance_id


class OwnershipListener(Protocol):
    def acquired(self, owned: OwnedInstance) -> None: ...

    def retire(self, owned: OwnedInstance) -> None:
        """Poll ``owned`` once more, completely, then set ``owned.retired``."""
        ...

    def renewed(self, owned: OwnedInstance) -> None: ...

    def dropped(self, owned: OwnedInstance, reason: DropReason) -> None: ...

    def is_polling(self, instance_id: str) -> bool: ...


class Ownership:
    """The set of owned instances. Single-threaded: one cycle at a time, from one loop."""

    def __init__(
        self,
        membership: Membership,
        leases: LeaseStore,
        listener: OwnershipListener,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._membership = membership
        self._leases = leases
        self._listener = listener
        self._clock = clock
        self.owned: dict[str, OwnedInstance] = {}

    @property
    def members(self) -> tuple[str, ...]:
        return self._membership.members

    async def cycle(self, fleet: Fleet | None) -> None:
        """One round of heartbeat, renewal, release and acquisition (see the module docstring).

        With ``fleet`` None (no inventory yet) only heartbeat and renewal happen. Raises redis
        errors; what was done before the error stands, and local expiry keeps it safe.
        """
        self.expire(self._clock())
        members = await self._membership.heartbeat()
        await self._renew()
        if fleet is None:
            return
        desired = assign(fleet.instances, members, self._membership.replica_id)
        await self._release_undesired(desired, fleet)
        for instance_id, owned in self.owned.items():
            latest = fleet.instances.get(instance_id)
            if latest is not None and latest != owned.instance:
                owned.instance = latest  # roles and versions change; the id does not
        wanted = sorted(desired - self.owned.keys())
        if wanted:
            taken = await self._leases.acquire(wanted)
            for instance_id, lease in taken.items():
                owned = OwnedInstance(fleet.instances[instance_id], lease)
                self.owned[instance_id] = owned
                metrics.LEASE_CHANGES.labels("acquired").inc()
                self._listener.acquired(owned)
            if taken:
                log.info("leases_acquired", instances=len(taken), waiting=len(wanted) - len(taken))
        metrics.INSTANCES_OWNED.set(len(self.owned))

    def expire(self, now: float) -> None:
        """Drop every lease whose local validity has run out."""
        for owned in [o for o in self.owned.values() if o.lease.valid_until <= now]:
            self._drop(owned, "expired")

    async def release_all(self) -> int:
        """Give back every lease (graceful stop) and leave the membership."""
        leases = [owned.lease for owned in self.owned.values()]
        for owned in list(self.owned.values()):
            self._drop(owned, "released")
        released = await self._leases.release(leases)
        await self._membership.leave()
        metrics.INSTANCES_OWNED.set(0)
        log.info("leases_released", instances=released)
        return released

    async def _renew(self) -> None:
        if not self.owned:
            return
        renewed, lost = await self._leases.renew(owned.lease for owned in self.owned.values())
        for lease in renewed:
            owned = self.owned.get(lease.instance_id)
            if owned is not None and owned.lease.token == lease.token:
                owned.lease = replace(owned.lease, valid_until=lease.valid_until)
                self._listener.renewed(owned)
        for lease in lost:
            owned = self.owned.get(lease.instance_id)
            if owned is not None:
                self._drop(owned, "lost")
        if lost:
            log.warning("leases_not_renewed", instances=len(lost))

    async def _release_undesired(self, desired: set[str], fleet: Fleet) -> None:
        giving_back = []
        for instance_id, owned in self.owned.items():
            if instance_id in desired or self._listener.is_polling(instance_id):
                continue
            if instance_id not in fleet.instances and not owned.retired:
                # Deleted (or filtered out): settle its files before anyone forgets them.
                if not owned.retiring:
                    owned.retiring = True
                    self._listener.retire(owned)
                continue
            giving_back.append(owned)
        if not giving_back:
            return
        for owned in giving_back:
            self._drop(owned, "released")
        await self._leases.release(owned.lease for owned in giving_back)
        log.info("leases_handed_over", instances=len(giving_back))

    def _drop(self, owned: OwnedInstance, reason: DropReason) -> None:
        if self.owned.pop(owned.instance_id, None) is None:
            return
        metrics.LEASE_CHANGES.labels(reason).inc()
        self._listener.dropped(owned, reason)
        metrics.INSTANCES_OWNED.set(len(self.owned))
