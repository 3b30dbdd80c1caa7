"""Identity rules against a ground-truth model of an instance's log directory.

Hypothesis drives a model "disk" (pure data: names holding content blobs that grow, rotate by
dated or legacy hourly renames, shift in server_audit chains, start anew in PostgreSQL series,
get reused and get deleted) and polls it the way the poller does: incremental listings from the
high-water mark, a full listing when the plan asks for one or when drawn. After every poll the
identities discovery holds are checked against the truth:

- an identity always denotes the same content (never rebound to other bytes);
- content is never given a second identity (so no byte is read twice);
- growth is only ever reported for the content already known under that identity;
- content declared gone really is gone from the disk;
- after a full listing, live identities and followed files on disk correspond one to one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from discovery.identity import (
    Born,
    Entry,
    Gone,
    Grew,
    Listing,
    Moved,
    NameRules,
    NeedsFullListing,
    Plan,
    StatusChanged,
    listing_since,
    reconcile,
)
from discovery.instance_files import Create, InstanceFiles, Update
from discovery.inventory import AuroraInstance

RULES = NameRules(frozenset({"error", "slowquery", "general", "audit", "postgresql"}))
SLOW = "slowquery/mysql-slowquery.log"
AUDIT = "audit/server_audit.log"
PG = "error/postgresql.log"
HOUR = 3_600_000
T0 = 1_767_225_600_000 + 17 * 60_000  # 2026-01-01T00:17Z
MARGIN_MS = 600_000
AUDIT_ROTATE_BYTES = 3000
AUDIT_KEEP = 4
INSTANCE = AuroraInstance("db-1", "cluster-1", "aurora-mysql", "8.0")


@dataclass
class Blob:
    id: int
    size: int
    lw: int


class Disk:
    """The truth: which content each name holds, rotating like Aurora does."""

    def __init__(self, legacy_names: bool) -> None:
        self.legacy = legacy_names
        self.now = T0
        self.files: dict[str, Blob] = {}
        self._ids = 0

    def _blob(self) -> Blob:
        self._ids += 1
        return Blob(self._ids, 0, self.now)

    def tick(self, ms: int) -> None:
        before = self.now
        self.now += ms
        for boundary in range((before // HOUR + 1) * HOUR, self.now + 1, HOUR):
            self._rotate_hourly(boundary)

    def _rotate_hourly(self, boundary: int) -> None:
        active = self.files.get(SLOW)
        if active is None or active.size == 0:
            return
        ended = dt.datetime.fromtimestamp((boundary - HOUR) / 1000, tz=dt.UTC)
        suffix = str(ended.hour) if self.legacy else f"{ended:%Y-%m-%d}.{ended.hour}"
        self.files[f"{SLOW}.{suffix}"] = self.files.pop(SLOW)  # replaces a reused name

    def write(self, name: str, size: int) -> None:
        self.tick(1000)
        blob = self.files.get(name)
        if blob is None:
            blob = self.files[name] = self._blob()
        blob.size += size
        blob.lw = self.now
        if name == AUDIT and blob.size >= AUDIT_ROTATE_BYTES:
            for position in range(AUDIT_KEEP, 0, -1):
                moving = self.files.pop(f"{AUDIT}.{position}", None)
                if moving is not None and position < AUDIT_KEEP:
                    self.files[f"{AUDIT}.{position + 1}"] = moving
            self.files[f"{AUDIT}.1"] = self.files.pop(AUDIT)

    def write_pg(self, size: int) -> None:
        hour = dt.datetime.fromtimestamp((self.now + 1000) / 1000, tz=dt.UTC)
        self.write(f"{PG}.{hour:%Y-%m-%d-%H}00", size)

    def delete_oldest_rotated(self, seen: dict[str, int]) -> None:
        """Retention (or the storage limit) deletes the oldest rotated file discovery has seen
        under its current name. (A rotated copy deleted before any poll saw it, while the new
        active file regrew past the old size, is indistinguishable from an active file that
        grew across the hour before a late rotation; the identity rules choose growth.)"""
        newest_pg = max((n for n in self.files if n.startswith(PG)), default=None)
        rotated = [
            name
            for name, blob in self.files.items()
            if name not in {SLOW, AUDIT, newest_pg} and seen.get(name) == blob.id
        ]
        if rotated:
            del self.files[min(rotated, key=lambda name: self.files[name].lw)]

    def listing(self, since: int | None) -> Listing:
        entries = tuple(
            Entry(name, blob.size, blob.lw)
            for name, blob in sorted(self.files.items())
            if since is None or blob.lw >= since
        )
        return Listing(entries, since)


class Discovery:
    """The poller's logic on the model, with the bindings the checks need."""

    def __init__(self, disk: Disk) -> None:
        self.disk = disk
        self.files = InstanceFiles(INSTANCE, [], fence=1, rules=RULES, item_ttl_s=3600)
        self.high_water: int | None = None
        self.bound: dict[str, int] = {}  # identity -> blob id, for every identity ever made
        self.full_listings_needed = 0

    def blob_at(self, name: str) -> int:
        return self.disk.files[name].id

    def poll(self, full: bool) -> None:
        known = self.files.known()
        since = None
        if not full and self.high_water is not None:
            since = listing_since(known, self.high_water, MARGIN_MS, RULES)
        listing = self.disk.listing(since)
        outcome = reconcile(known, listing, RULES)
        if isinstance(outcome, NeedsFullListing):
            self.full_listings_needed += 1
            listing = self.disk.listing(None)
            outcome = reconcile(known, listing, RULES)
        assert isinstance(outcome, Plan)
        self.check_and_apply(outcome)
        newest = max((entry.last_written_ms for entry in listing.entries), default=None)
        if newest is not None:
            self.high_water = max(newest, self.high_water or newest)
        elif self.high_water is None:
            self.high_water = 0
        if listing.complete:
            self.check_complete()

    def check_and_apply(self, plan: Plan) -> None:
        live_blobs = {self.bound[identity] for identity in self._live_ids()}
        for change in plan.changes:
            if isinstance(change, Born):
                blob = self.blob_at(change.entry.name)
                assert blob not in self.bound.values(), f"content {blob} got a second identity"
            elif isinstance(change, Grew | Moved):
                assert self.bound[change.identity] == self.blob_at(change.entry.name), (
                    f"{change} attributes other content to {change.identity}"
                )
            elif isinstance(change, Gone):
                blob = self.bound[change.identity]
                assert blob not in {b.id for b in self.disk.files.values()}, (
                    f"{change.identity} declared gone but its content {blob} is still there"
                )
            else:
                assert isinstance(change, StatusChanged)
                assert self.bound[change.identity] in live_blobs
        changed = [c.identity for c in plan.changes if not isinstance(c, Born)]
        assert len(changed) == len(set(changed)), f"two changes for one generation: {plan}"
        # Applied as DynamoDB would: conditional on the version the write was based on.
        for write in self.files.writes_for(plan, self.disk.now):
            if isinstance(write, Create):
                assert write.file.identity not in self.bound, "a generation created twice"
                self.bound[write.file.identity] = self.blob_at(write.name)
                self.files.store(
                    replace(write.file, observation=replace(write.file.observation, version=1))
                )
                continue
            current = self.files.get(write.file.identity)
            assert current == write.file, f"{write} is based on a stale version"
            observation = (
                write.observation
                if isinstance(write, Update)
                else self.files.retired(write.file, self.disk.now)
            )
            version = write.file.observation.version + 1
            self.files.store(replace(write.file, observation=replace(observation, version=version)))

    def check_complete(self) -> None:
        on_disk = {name: blob.id for name, blob in self.disk.files.items()}
        held = {file.observation.log_file: self.bound[file.identity] for file in self.files.live()}
        assert held == on_disk

    def _live_ids(self) -> list[str]:
        return [file.identity for file in self.files.live()]

    def seen_names(self) -> dict[str, int]:
        """Name -> content, as discovery holds them now."""
        return {f.observation.log_file: self.bound[f.identity] for f in self.files.live()}


operations = st.one_of(
    st.tuples(st.just("write_slow"), st.integers(1, 400)),
    st.tuples(st.just("write_audit"), st.integers(1, 900)),
    st.tuples(st.just("write_pg"), st.integers(1, 300)),
    st.tuples(st.just("wait_minutes"), st.integers(1, 130)),
    st.tuples(st.just("wait_hours"), st.integers(2, 13)),
    st.tuples(st.just("delete"), st.just(0)),
    st.tuples(st.just("poll"), st.integers(0, 4)),  # 0: full listing, else incremental
)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(legacy=st.booleans(), steps=st.lists(operations, min_size=20, max_size=120))
def test_identities_follow_content_through_every_rotation(
    legacy: bool, steps: list[tuple[str, int]]
) -> None:
    disk = Disk(legacy_names=legacy)
    discovery = Discovery(disk)
    discovery.poll(full=True)
    for operation, amount in steps:
        if operation == "write_slow":
            disk.write(SLOW, amount)
        elif operation == "write_audit":
            disk.write(AUDIT, amount)
        elif operation == "write_pg":
            disk.write_pg(amount)
        elif operation == "wait_minutes":
            disk.tick(amount * 60_000)
        elif operation == "wait_hours":
            disk.tick(amount * HOUR)
        elif operation == "delete":
            disk.delete_oldest_rotated(discovery.seen_names())
        else:
            discovery.poll(full=amount == 0)
    discovery.poll(full=True)


def test_model_exercises_hourly_rotation_reuse_and_chains() -> None:
    """A fixed walk through the model, so the rotations above are known to happen."""
    disk = Disk(legacy_names=True)
    discovery = Discovery(disk)
    discovery.poll(full=True)
    for _day in range(2):
        for _hour in range(24):
            disk.write(SLOW, 100)
            disk.write(AUDIT, 700)
            disk.write_pg(50)
            discovery.poll(full=False)
            disk.tick(HOUR)
    discovery.poll(full=True)
    names = {file.observation.log_file for file in discovery.files.live()}
    assert {f"{SLOW}.{hour}" for hour in range(24)} <= names
    assert f"{AUDIT}.{AUDIT_KEEP}" in names
    assert any(file.observation.previous_names for file in discovery.files.live())
