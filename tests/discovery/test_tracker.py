"""Recording plans in the tracking table (moto DynamoDB): generations, events after
confirmation, renames, loss accounting, fencing and concurrent generation creation."""

from __future__ import annotations

import pytest

from common.errors import ConflictError
from common.tracking import Checkpoint, TrackingTable
from discovery import metrics
from discovery.identity import Entry, Listing, NameRules, Plan, reconcile
from discovery.instance_files import InstanceFiles
from discovery.inventory import AuroraInstance
from discovery.tracker import Tracker
from tests.discovery.doubles import RecordingPublisher

pytestmark = pytest.mark.integration

RULES = NameRules(frozenset({"error", "slowquery", "general", "audit", "postgresql"}))
SLOW = "slowquery/mysql-slowquery.log"
PG = "error/postgresql.log"
T0 = 1_767_225_600_000
INSTANCE = AuroraInstance("orders-1", "orders", "aurora-mysql", "8.0.mysql_aurora.3.05.2")


def _tracker(table: TrackingTable, publisher: RecordingPublisher, now: list[int]) -> Tracker:
    return Tracker(table, publisher, rules=RULES, item_ttl_s=3600, clock_ms=lambda: now[0])


def _plan(files: InstanceFiles, *entries: Entry) -> Plan:
    outcome = reconcile(files.known(), Listing(entries), RULES)
    assert isinstance(outcome, Plan)
    return outcome


async def test_new_files_are_tracked_then_published_then_marked(table: TrackingTable) -> None:
    publisher = RecordingPublisher()
    tracker = _tracker(table, publisher, [T0])
    files = await tracker.load(INSTANCE, fence=5)
    listing = (
        Entry(SLOW, 100, T0),
        Entry(f"{SLOW}.2025-12-31.23", 40, T0 - 1),
        Entry("error/mysql-error-running.log", 0, T0),
    )
    recorded = await tracker.record(files, _plan(files, *listing))
    assert (recorded.changes, recorded.events, recorded.unconfirmed) == (3, 2, 0)
    stored = {file.observation.log_file: file for file in await table.files_of("orders-1")}
    assert stored[SLOW].identity == f"{SLOW}@1"
    assert stored[SLOW].observation.published_size == 100
    assert stored[SLOW].observation.published_file == SLOW
    assert stored[SLOW].observation.fence == 5
    assert stored[f"{SLOW}.2025-12-31.23"].observation.status == "rotated"
    assert stored[f"{SLOW}.2025-12-31.23"].observation.expires_at_s is not None
    # The empty file is tracked but nothing is announced for it.
    assert stored["error/mysql-error-running.log"].observation.published_size == -1
    event = {o.event.log_file: o for o in publisher.sent}[SLOW]
    assert event.key == f"orders-1/{SLOW}".encode()
    assert (event.event.size_bytes, event.event.file_identity) == (100, f"{SLOW}@1")
    assert (event.event.cluster_id, event.event.engine, event.event.log_kind) == (
        "orders",
        "aurora-mysql",
        "slowquery",
    )
    # Nothing new: nothing written, nothing published.
    again = await tracker.record(files, _plan(files, *listing))
    assert (again.changes, again.events) == (0, 0)
    assert len(publisher.sent) == 2


async def test_growth_kafka_did_not_confirm_is_published_on_the_next_poll(
    table: TrackingTable,
) -> None:
    publisher = RecordingPublisher()
    tracker = _tracker(table, publisher, [T0])
    files = await tracker.load(INSTANCE, fence=5)
    await tracker.record(files, _plan(files, Entry(SLOW, 100, T0)))
    publisher.refuse = True
    failures = metrics.EVENT_PUBLISH_FAILURES._value.get()
    recorded = await tracker.record(files, _plan(files, Entry(SLOW, 250, T0 + 1000)))
    assert (recorded.events, recorded.unconfirmed) == (0, 1)
    assert metrics.EVENT_PUBLISH_FAILURES._value.get() == failures + 1
    stored = await table.get("orders-1", f"{SLOW}@1")
    assert stored is not None
    assert (stored.observation.seen_size, stored.observation.published_size) == (250, 100)
    # The file does not grow again, yet the next poll publishes what is owed.
    publisher.refuse = False
    recorded = await tracker.record(files, _plan(files, Entry(SLOW, 250, T0 + 1000)))
    assert recorded.events == 1
    assert publisher.sent[-1].event.size_bytes == 250
    stored = await table.get("orders-1", f"{SLOW}@1")
    assert stored is not None
    assert stored.observation.published_size == 250


async def test_renamed_content_keeps_identity_checkpoint_and_partition_key(
    table: TrackingTable,
) -> None:
    publisher = RecordingPublisher()
    tracker = _tracker(table, publisher, [T0])
    files = await tracker.load(INSTANCE, fence=5)
    await tracker.record(files, _plan(files, Entry(SLOW, 1000, T0 + 10 * 60_000)))
    await table.save_checkpoint("orders-1", f"{SLOW}@1", Checkpoint(), Checkpoint(offset=700))
    rotated = Entry(f"{SLOW}.2026-01-01.0", 1200, T0 + 59 * 60_000)
    fresh = Entry(SLOW, 30, T0 + 61 * 60_000)
    await tracker.record(files, _plan(files, rotated, fresh))
    moved = await table.get("orders-1", f"{SLOW}@1")
    assert moved is not None
    assert moved.observation.log_file == rotated.name
    assert moved.observation.previous_names == (SLOW,)
    assert moved.observation.status == "rotated"
    assert moved.checkpoint.offset == 700, "the processor resumes where it was"
    assert moved.unread_bytes == 500
    new = await table.get("orders-1", f"{SLOW}@2")
    assert new is not None
    assert new.observation.log_file == SLOW
    by_identity = {o.event.file_identity: o for o in publisher.sent[1:]}
    assert by_identity[f"{SLOW}@1"].event.log_file == rotated.name
    assert by_identity[f"{SLOW}@1"].event.status == "rotated"
    assert (
        by_identity[f"{SLOW}@1"].key == by_identity[f"{SLOW}@2"].key == f"orders-1/{SLOW}".encode()
    )


async def test_files_gone_before_full_ingestion_are_counted_as_lost(table: TrackingTable) -> None:
    publisher = RecordingPublisher()
    tracker = _tracker(table, publisher, [T0])
    files = await tracker.load(INSTANCE, fence=5)
    read = f"{PG}.2026-01-01-0000"
    unread = f"{PG}.2026-01-01-0100"
    await tracker.record(files, _plan(files, Entry(read, 500, T0), Entry(unread, 800, T0 + 1)))
    await table.save_checkpoint("orders-1", f"{read}@1", Checkpoint(), Checkpoint(offset=500))
    await table.save_checkpoint("orders-1", f"{unread}@1", Checkpoint(), Checkpoint(offset=300))
    lost_before = metrics.BYTES_LOST._value.get()
    recorded = await tracker.record(files, _plan(files))
    assert recorded.lost_bytes == 500
    assert metrics.BYTES_LOST._value.get() == lost_before + 500
    gone = {
        file.observation.log_file: file.observation for file in await table.files_of("orders-1")
    }
    assert (gone[read].status, gone[read].lost_bytes) == ("deleted", 0)
    assert (gone[unread].status, gone[unread].lost_bytes) == ("lost", 500)
    assert gone[unread].expires_at_s is not None
    assert files.live() == []


async def test_a_replica_with_an_older_fence_cannot_write(table: TrackingTable) -> None:
    publisher = RecordingPublisher()
    old = _tracker(table, publisher, [T0])
    old_files = await old.load(INSTANCE, fence=5)
    await old.record(old_files, _plan(old_files, Entry(SLOW, 100, T0)))
    new = _tracker(table, publisher, [T0 + 5000])
    new_files = await new.load(INSTANCE, fence=6)
    await new.record(new_files, _plan(new_files, Entry(SLOW, 200, T0 + 2000)))
    with pytest.raises(ConflictError):
        await old.record(old_files, _plan(old_files, Entry(SLOW, 300, T0 + 3000)))
    stored = await table.get("orders-1", f"{SLOW}@1")
    assert stored is not None
    assert stored.observation.seen_size == 200
    assert stored.observation.fence == 6


async def test_two_replicas_cannot_create_two_identities_for_one_file(
    table: TrackingTable,
) -> None:
    first = _tracker(table, RecordingPublisher(), [T0])
    second = _tracker(table, RecordingPublisher(), [T0])
    files_a = await first.load(INSTANCE, fence=5)
    files_b = await second.load(INSTANCE, fence=6)
    listing = (Entry(f"{PG}.2026-01-01-0000", 10, T0),)
    await first.record(files_a, _plan(files_a, *listing))
    with pytest.raises(ConflictError):
        await second.record(files_b, _plan(files_b, *listing))
    reloaded = await second.load(INSTANCE, fence=6)
    assert [file.identity for file in reloaded.live()] == [f"{PG}.2026-01-01-0000@1"]
    assert _plan(reloaded, *listing).changes == ()
