"""One poll, from listing snapshots to tracked files and events (moto DynamoDB underneath)."""

from __future__ import annotations

import pytest

from common.errors import ConflictError, NotFoundError
from common.tracking import TrackingTable
from discovery.identity import Entry, Listing, NameRules
from discovery.inventory import AuroraInstance
from discovery.leases import Lease
from discovery.listing import ListedFiles
from discovery.ownership import OwnedInstance
from discovery.poller import InstancePoller
from discovery.tracker import Tracker
from tests.discovery.doubles import RecordingPublisher

pytestmark = pytest.mark.integration

RULES = NameRules(frozenset({"error", "slowquery", "general", "audit", "postgresql"}))
SLOW = "slowquery/mysql-slowquery.log"
T0 = 1_767_225_600_000
MARGIN_MS = 600_000
INSTANCE = AuroraInstance("orders-1", "orders", "aurora-mysql", "8.0")


class SnapshotLister:
    """Serves the instance's directory as a snapshot, honouring FileLastWritten like RDS."""

    def __init__(self) -> None:
        self.files: dict[str, Entry] = {}
        self.asked: list[int | None] = []
        self.missing = False

    def put(self, name: str, size: int, lw: int) -> None:
        self.files[name] = Entry(name, size, lw)

    async def list(self, instance_id: str, since_ms: int | None) -> ListedFiles:
        self.asked.append(since_ms)
        if self.missing:
            raise NotFoundError("DBInstanceNotFound: gone")
        entries = tuple(
            entry
            for entry in self.files.values()
            if since_ms is None or entry.last_written_ms >= since_ms
        )
        return ListedFiles(Listing(entries, since_ms), calls=1)


def _poller(
    table: TrackingTable, lister: SnapshotLister, publisher: RecordingPublisher
) -> InstancePoller:
    tracker = Tracker(table, publisher, rules=RULES, item_ttl_s=3600, clock_ms=lambda: T0)
    return InstancePoller(lister, tracker, RULES, last_written_margin_ms=MARGIN_MS)


def _owned(fence: int = 5) -> OwnedInstance:
    return OwnedInstance(INSTANCE, Lease("orders-1", f"r/1:{fence}", fence, valid_until=1e12))


async def test_first_poll_lists_everything_later_ones_only_what_was_written(
    table: TrackingTable,
) -> None:
    lister, publisher = SnapshotLister(), RecordingPublisher()
    poller = _poller(table, lister, publisher)
    owned = _owned()
    lister.put(SLOW, 100, T0)
    lister.put(f"{SLOW}.2025-12-31.23", 40, T0 - 3_600_000)
    first = await poller.poll(owned, full_listing=False)
    assert lister.asked == [None]
    assert first.full_listing
    assert first.changed
    assert first.events == 2
    lister.put(SLOW, 180, T0 + 60_000)
    second = await poller.poll(owned, full_listing=False)
    assert lister.asked[-1] == T0 - MARGIN_MS
    assert not second.full_listing
    assert second.events == 1
    assert publisher.sent[-1].event.size_bytes == 180
    idle = await poller.poll(owned, full_listing=False)
    assert lister.asked[-1] == T0 + 60_000 - MARGIN_MS
    assert (idle.changed, idle.events, idle.calls) == (False, 0, 1)


async def test_a_rotation_out_of_view_is_settled_by_a_full_listing(table: TrackingTable) -> None:
    lister, publisher = SnapshotLister(), RecordingPublisher()
    poller = _poller(table, lister, publisher)
    owned = _owned()
    lister.put(SLOW, 300, T0 + 5 * 60_000)
    lister.put("error/postgresql.log.2026-01-01-0000", 1, T0 + 50 * 60_000)  # moves the mark
    await poller.poll(owned, full_listing=True)
    # The quiet slow log is renamed at 01:00 with its old LastWritten; the new one outgrows it.
    lister.put(f"{SLOW}.2026-01-01.0", 300, T0 + 5 * 60_000)
    lister.put(SLOW, 5000, T0 + 65 * 60_000)
    result = await poller.poll(owned, full_listing=False)
    assert lister.asked[-2:] == [T0 + 50 * 60_000 - MARGIN_MS, None]
    assert result.calls == 2
    assert result.full_listing
    assert owned.files is not None
    by_name = {file.observation.log_file: file.identity for file in owned.files.live()}
    assert by_name[f"{SLOW}.2026-01-01.0"] == f"{SLOW}@1"
    assert by_name[SLOW] == f"{SLOW}@2"


async def test_a_vanished_instance_has_lost_every_unread_file(table: TrackingTable) -> None:
    lister, publisher = SnapshotLister(), RecordingPublisher()
    poller = _poller(table, lister, publisher)
    owned = _owned()
    lister.put(SLOW, 100, T0)
    await poller.poll(owned, full_listing=True)
    lister.missing = True
    result = await poller.poll(owned, full_listing=False)
    assert result.lost_bytes == 100
    stored = await table.get("orders-1", f"{SLOW}@1")
    assert stored is not None
    assert stored.observation.status == "lost"


async def test_a_newer_lease_holder_makes_this_one_reload(table: TrackingTable) -> None:
    lister = SnapshotLister()
    old = _poller(table, lister, RecordingPublisher())
    new = _poller(table, lister, RecordingPublisher())
    old_owned, new_owned = _owned(fence=5), _owned(fence=6)
    lister.put(SLOW, 100, T0)
    await old.poll(old_owned, full_listing=True)
    await new.poll(new_owned, full_listing=True)
    lister.put(SLOW, 200, T0 + 1000)
    await new.poll(new_owned, full_listing=False)
    lister.put(SLOW, 300, T0 + 2000)
    with pytest.raises(ConflictError):
        await old.poll(old_owned, full_listing=False)
    assert old_owned.files is None, "the stale copy is dropped"
