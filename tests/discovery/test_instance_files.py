"""The in-memory copy of an instance's generations and the writes a plan turns into."""

from __future__ import annotations

from dataclasses import replace

from common.tracking import Checkpoint, Observation, TrackedFile
from discovery.identity import Born, Entry, Gone, Grew, Moved, NameRules, Plan, StatusChanged
from discovery.instance_files import Create, InstanceFiles, Retire, Update, is_due
from discovery.inventory import AuroraInstance

RULES = NameRules(frozenset({"error", "slowquery", "general", "audit", "postgresql"}))
INSTANCE = AuroraInstance("db-1", "orders", "aurora-mysql", "8.0.mysql_aurora.3.05.2")
SLOW = "slowquery/mysql-slowquery.log"
NOW = 1_767_225_600_000
TTL_S = 3600


def _stored(
    identity: str, name: str, size: int, status: str = "active", **extra: object
) -> TrackedFile:
    observation = Observation(
        cluster_id="orders",
        engine="aurora-mysql",
        engine_version="8.0",
        log_file=name,
        log_kind="slowquery",
        status=status,  # type: ignore[arg-type]
        seen_size=size,
        seen_last_written_ms=NOW - 1000,
        version=3,
        fence=5,
    )
    return TrackedFile("db-1", identity, replace(observation, **extra))  # type: ignore[arg-type]


def _files(*files: TrackedFile) -> InstanceFiles:
    return InstanceFiles(
        INSTANCE,
        list(files),
        fence=7,
        rules=RULES,
        item_ttl_s=TTL_S,
    )


def test_only_live_generations_are_known() -> None:
    files = _files(
        _stored(f"{SLOW}@3", SLOW, 100),
        _stored(f"{SLOW}@2", f"{SLOW}.2026-01-01.0", 50, "rotated"),
        _stored(f"{SLOW}@1", SLOW, 10, "lost", lost_bytes=10),
    )
    assert {k.identity for k in files.known()} == {f"{SLOW}@3", f"{SLOW}@2"}
    assert len(files) == 2


def test_new_generations_continue_after_every_stored_one_gone_or_live() -> None:
    files = _files(
        _stored(f"{SLOW}@3", SLOW, 100),
        _stored(f"{SLOW}@5", f"{SLOW}.2026-01-01.0", 100, "lost", lost_bytes=100),
    )
    writes = files.writes_for(Plan((Born(Entry(SLOW, 1, NOW), "active"),)), NOW)
    assert writes == [Create(writes[0].file, SLOW, 6)]  # type: ignore[union-attr]
    created = writes[0].file  # type: ignore[union-attr]
    assert created.identity == f"{SLOW}@6"
    assert created.observation.fence == 7
    assert created.observation.published_size == -1
    assert created.observation.expires_at_s is None
    assert created.observation.log_kind == "slowquery"
    rotated = files.writes_for(Plan((Born(Entry(f"{SLOW}.9", 1, NOW), "rotated"),)), NOW)
    assert rotated[0].file.identity == f"{SLOW}.9@1"  # type: ignore[union-attr]
    assert rotated[0].file.observation.expires_at_s == NOW // 1000 + TTL_S  # type: ignore[union-attr]


def test_a_generation_left_holding_a_claimed_name_is_retired_first() -> None:
    # A writer died between creating @8 and moving @7 away: both claim the active name.
    older = _stored(f"{SLOW}@7", SLOW, 500, first_seen_ms=NOW - 7200_000)
    newer = _stored(f"{SLOW}@8", SLOW, 20, first_seen_ms=NOW - 60_000)
    files = _files(newer, older)
    assert [k.identity for k in files.known()] == [f"{SLOW}@8"]
    writes = files.writes_for(Plan((Grew(newer.identity, Entry(SLOW, 30, NOW)),)), NOW)
    assert writes[0] == Retire(older, "overwritten")
    assert isinstance(writes[1], Update)
    assert files.writes_for(Plan(()), NOW) == []


def test_a_rename_records_the_previous_name_and_gets_a_ttl() -> None:
    active = _stored(f"{SLOW}@3", SLOW, 100)
    files = _files(active)
    target = Entry(f"{SLOW}.2026-01-01.0", 120, NOW)
    [write] = files.writes_for(Plan((Moved(active.identity, target),)), NOW)
    assert isinstance(write, Update)
    assert write.kind == "moved"
    assert write.observation.log_file == target.name
    assert write.observation.previous_names == (SLOW,)
    assert write.observation.status == "rotated"
    assert write.observation.seen_size == 120
    assert write.observation.fence == 7
    assert write.observation.expires_at_s == NOW // 1000 + TTL_S


def test_growth_superseding_and_retirement_become_their_writes() -> None:
    active = _stored(f"{SLOW}@3", SLOW, 100)
    series = _stored(
        "error/postgresql.log.2026-01-01-0000@1", "error/postgresql.log.2026-01-01-0000", 5
    )
    gone = _stored(f"{SLOW}.3@1", f"{SLOW}.3", 5, "rotated")
    files = _files(active, series, gone)
    plan = Plan(
        (
            Grew(active.identity, Entry(SLOW, 150, NOW)),
            StatusChanged(series.identity, "rotated"),
            Gone(gone.identity, "overwritten"),
        )
    )
    grew, superseded, retire = files.writes_for(plan, NOW)
    assert isinstance(grew, Update)
    assert grew.kind == "grew"
    assert grew.observation.seen_size == 150
    assert isinstance(superseded, Update)
    assert superseded.observation.status == "rotated"
    assert retire == Retire(gone, "overwritten")


def test_retired_content_is_lost_unless_fully_ingested() -> None:
    files = _files()
    unread = replace(_stored("x@1", SLOW, 1000), checkpoint=Checkpoint(offset=400))
    lost = files.retired(unread, NOW)
    assert (lost.status, lost.lost_bytes, lost.fence) == ("lost", 600, 7)
    assert lost.expires_at_s == NOW // 1000 + TTL_S
    read = replace(unread, checkpoint=Checkpoint(offset=1000))
    assert (files.retired(read, NOW).status, files.retired(read, NOW).lost_bytes) == ("deleted", 0)


def test_due_until_published_with_name_and_status() -> None:
    fresh = _stored("x@1", SLOW, 100).observation
    assert is_due(fresh)
    files = _files()
    published = files.published(fresh, NOW)
    assert not is_due(published)
    assert (published.published_size, published.published_file) == (100, SLOW)
    assert is_due(replace(published, seen_size=101))
    assert is_due(replace(published, log_file=f"{SLOW}.1"))
    assert is_due(replace(published, status="rotated"))
    assert not is_due(replace(published, seen_size=0, published_size=-1))
    assert not is_due(replace(fresh, status="lost"))


def test_stored_gone_generations_leave_the_live_set() -> None:
    active = _stored(f"{SLOW}@3", SLOW, 100)
    files = _files(active)
    files.store(replace(active, observation=replace(active.observation, status="deleted")))
    assert files.live() == []
    files.store(active)
    files.forget(active.identity)
    assert files.get(active.identity) is None
    assert files.high_water_ms() is None
