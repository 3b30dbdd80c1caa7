"""One poll of one owned instance: list its files, settle what changed, track and publish.

::

    DescribeDBLogFiles (FileLastWritten = high-water mark - margin, or none)
        -> identity.reconcile(known generations, listing)
              -> needs a full listing? list again without the filter, reconcile again
        -> tracker.record(plan): tracking writes, events, publication marks

The first poll under a lease (or after a conflicting write) reloads the instance from the
tracking table and lists without a filter: the high-water mark is only trusted while this
replica has been watching. An instance that no longer exists (``DBInstanceNotFound``) has lost
every file it had: they are settled as gone (and counted as lost if not fully ingested).
"""

from __future__ import annotations

from dataclasses import dataclass

from common.errors import ConflictError, NotFoundError
from common.logs import get_logger
from discovery import metrics
from discovery.identity import (
    Listing,
    NameRules,
    NeedsFullListing,
    Plan,
    listing_since,
    reconcile,
)
from discovery.listing import FileLister
from discovery.ownership import OwnedInstance
from discovery.tracker import Tracker

__all__ = ["InstancePoller", "PollResult"]

log = get_logger(__name__)


@dataclass(frozen=True)
class PollResult:
    """What one poll did: RDS calls made, whether anything changed, the listing kind."""

    calls: int
    changed: bool
    full_listing: bool
    events: int
    lost_bytes: int


class InstancePoller:
    """Polls instances. Stateless itself: per-instance state lives in :class:`OwnedInstance`."""

    def __init__(
        self,
        lister: FileLister,
        tracker: Tracker,
        rules: NameRules,
        *,
        last_written_margin_ms: int,
    ) -> None:
        self._lister = lister
        self._tracker = tracker
        self._rules = rules
        self._margin_ms = last_written_margin_ms

    async def poll(self, owned: OwnedInstance, *, full_listing: bool) -> PollResult:
        """Poll ``owned`` once. Raises :class:`ConflictError` after a refused tracking write
        (``owned.files`` is then dropped, to be reloaded) and the errors of RDS, DynamoDB and
        the budget; any partial work is either recorded or redone by the next poll."""
        instance_id = owned.instance_id
        if owned.files is None or owned.files.fence != owned.lease.fence:
            owned.files = await self._tracker.load(owned.instance, owned.lease.fence)
            owned.high_water_ms = None
        files = owned.files
        full = full_listing or owned.high_water_ms is None or owned.retiring
        since = None
        if not full and owned.high_water_ms is not None:
            since = listing_since(files.known(), owned.high_water_ms, self._margin_ms, self._rules)
        calls = 0
        try:
            listed = await self._lister.list(instance_id, since)
            calls += listed.calls
            listing = listed.listing
            plan = reconcile(files.known(), listing, self._rules)
            if isinstance(plan, NeedsFullListing):
                log.debug("full_listing_needed", instance=instance_id, reason=plan.reason)
                listed = await self._lister.list(instance_id, None)
                calls += listed.calls
                listing = listed.listing
                full = True
                plan = reconcile(files.known(), listing, self._rules)
        except NotFoundError:
            log.warning("instance_vanished", instance=instance_id, files=len(files))
            listing = Listing((), None)
            full = True
            plan = reconcile(files.known(), listing, self._rules)
        if not isinstance(plan, Plan):  # pragma: no cover - a complete listing settles all
            raise AssertionError(f"a complete listing could not be reconciled: {plan.reason}")
        try:
            recorded = await self._tracker.record(files, plan)
        except ConflictError:
            owned.files = None
            metrics.TRACKING_CONFLICTS.inc()
            raise
        newest = max((entry.last_written_ms for entry in listing.entries), default=None)
        if newest is not None:
            owned.high_water_ms = max(newest, owned.high_water_ms or newest)
        elif owned.high_water_ms is None:
            owned.high_water_ms = files.high_water_ms() or 0
        return PollResult(
            calls=max(calls, 1),
            changed=recorded.changed,
            full_listing=full,
            events=recorded.events,
            lost_bytes=recorded.lost_bytes,
        )
