"""One file's work end to end, minus Kafka: simulator -> RDS source -> parser -> batcher ->
OpenObserve contract server, with checkpoints in DynamoDB. Compared entry by entry with the
simulator's ground truth: nothing lost, nothing doubled, resumable at any checkpoint."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace

import pytest
from pydantic import AnyHttpUrl, SecretStr

from common.clients.aws import AwsClients
from common.clients.valkey import make_valkey
from common.errors import ThrottledError
from common.events import LogFileEvent
from common.ratelimit import RdsBudget, RdsCaller
from common.settings import AwsSettings, OpenObserveSettings, RdsSettings, ValkeySettings
from common.tracking import Checkpoint, Observation, TrackedFile, TrackingTable
from processor.archive import RawArchive, restore
from processor.batching import Batcher
from processor.config import StreamNames
from processor.parsing import ParsingSettings
from processor.records import record_id
from processor.shipping import Shipper
from processor.sinks.openobserve import OpenObserveSink
from processor.sources import Chunk, FileRef, FileStat, Position, Source
from processor.sources.rds import FullDownload, RdsSource
from processor.work import FileWork, InflightBytes
from simulator import (
    AURORA_MYSQL_3,
    AURORA_POSTGRESQL,
    Fleet,
    LogOptions,
    LogProfile,
    Rate,
    TruthEntry,
)
from tests.contract.openobserve_server import OpenObserveContractServer

pytestmark = pytest.mark.integration

USER, PASSWORD = "root@example.com", "pw"
KINDS = {
    "slowquery/mysql-slowquery.log": ("slowquery", "aurora_mysql_slow"),
    "error/mysql-error-running.log": ("error", "aurora_mysql_error"),
    "general/mysql-general.log": ("general", "aurora_mysql_general"),
}


class NoDeadLetters:
    async def documents(self, stream: str, rejected: object) -> None:
        raise AssertionError(f"nothing should be dead-lettered here: {rejected}")


@pytest.fixture(scope="module")
def openobserve() -> Iterator[OpenObserveContractServer]:
    # A wide window: simulated logs are dated in the past.
    with OpenObserveContractServer(
        root_email=USER, root_password=PASSWORD, ingest_allowed_upto_hours=10**6
    ) as server:
        yield server


@dataclass
class Pipeline:
    work: FileWork
    tracking: TrackingTable
    batcher: Batcher
    server: OpenObserveContractServer
    inflight: InflightBytes
    archive: RawArchive
    make_work: Callable[..., FileWork]

    def stored(self, stream: str) -> list[dict[str, object]]:
        try:
            return self.server.records("default", stream)
        except KeyError:
            return []


@pytest.fixture
async def pipeline(
    aws_environ: dict[str, str],
    moto_url: str,
    valkey_url: str,
    openobserve: OpenObserveContractServer,
    unique_name: Callable[[str], str],
) -> AsyncIterator[Pipeline]:
    openobserve.reset()
    openobserve.set_time_window(upto_hours=10**6)
    aws = AwsClients(AwsSettings(endpoint_url=moto_url))
    valkey = make_valkey(ValkeySettings(url=valkey_url))
    budget = RdsBudget(
        valkey, RdsSettings(budget_rate_per_s=100, budget_burst=100), key=f"t:{uuid.uuid4().hex}"
    )
    caller = RdsCaller(budget)
    full = FullDownload(
        aws.session,
        caller,
        region="us-east-1",
        endpoint_url=moto_url,
        path_template="/v13/downloadCompleteLogFile/{instance}/{file}",
        chunk_bytes=256 * 1024,
        timeout_s=30,
    )
    sink = OpenObserveSink(
        OpenObserveSettings(
            url=AnyHttpUrl(openobserve.url), user=USER, password=SecretStr(PASSWORD)
        )
    )
    shipper = Shipper(
        sink, NoDeadLetters(), retry_base_s=0.01, retry_max_s=0.1, halted_retry_interval_s=1
    )
    batcher = Batcher(
        shipper, max_records=500, max_bytes=512 * 1024, max_age_s=0.05, max_concurrent=2
    )
    stop = asyncio.Event()
    ager = asyncio.create_task(batcher.run(stop))
    inflight = InflightBytes(8 * 1024 * 1024)
    async with aws.dynamodb() as dynamodb, aws.rds() as rds, aws.s3() as s3:
        bucket = unique_name("raw")
        await s3.create_bucket(Bucket=bucket)
        archive = RawArchive(s3, bucket=bucket, prefix="raw/")
        tracking = TrackingTable(dynamodb, unique_name("tracking"), item_ttl_s=3600)
        await tracking.ensure_table()
        source = RdsSource(rds, caller, full, full_download_threshold_bytes=10**12)

        def make_work(
            archive: RawArchive | None, wrap: Callable[[Source], Source] = lambda s: s
        ) -> FileWork:
            return FileWork(
                tracking=tracking,
                source=wrap(source),
                batcher=batcher,
                parsing=ParsingSettings(),
                streams=StreamNames(),
                inflight=inflight,
                checkpoint_every_bytes=256 * 1024,
                archive=archive,
            )

        yield Pipeline(
            make_work(None), tracking, batcher, openobserve, inflight, archive, make_work
        )
    stop.set()
    await ager
    await batcher.drain()
    await sink.aclose()
    await full.aclose()
    await valkey.aclose()


async def _track(
    pipeline: Pipeline, fleet: Fleet, instance: str, log_file: str, identity: str
) -> TrackedFile:
    """Create the tracking item as discovery would on first sight of the file."""
    kind = KINDS[log_file][0] if log_file in KINDS else "postgresql"
    size = fleet.path(instance, log_file).stat().st_size
    return await pipeline.tracking.create(
        TrackedFile(
            instance,
            identity,
            Observation(
                cluster_id=instance.rsplit("-", 1)[0],
                engine="aurora-mysql" if kind != "postgresql" else "aurora-postgresql",
                engine_version="8.0.mysql_aurora.3.05.2",
                log_file=log_file,
                log_kind=kind,
                seen_size=size,
                first_seen_ms=int(time.time() * 1000),
            ),
        )
    )


def _event(tracked: TrackedFile, size: int) -> LogFileEvent:
    observation = tracked.observation
    return LogFileEvent(
        cluster_id=observation.cluster_id,
        instance_id=tracked.instance_id,
        engine=observation.engine,  # type: ignore[arg-type]
        engine_version=observation.engine_version,
        log_file=observation.log_file,
        log_kind=observation.log_kind,  # type: ignore[arg-type]
        file_identity=tracked.identity,
        size_bytes=size,
        last_written_ms=int(time.time() * 1000),
        observed_at_ms=int(time.time() * 1000),
    )


def _expected_ids(entries: list[TruthEntry], instance: str, identity: str) -> list[str]:
    return sorted(record_id(instance, identity, entry.offset) for entry in entries)


def _spans(rows: list[dict[str, object]]) -> list[tuple[int, int]]:
    return sorted((int(str(row["offset"])), int(str(row["length"]))) for row in rows)


async def test_every_entry_arrives_once_as_the_file_grows(
    pipeline: Pipeline, fleet: Fleet, ident: Callable[[str], str]
) -> None:
    profile = LogProfile.realistic(AURORA_MYSQL_3, bytes_per_min=1_200_000)
    instance = fleet.add_cluster(ident("work"), AURORA_MYSQL_3, instances=1, profile=profile).writer
    fleet.advance(60)
    for log_file, (_kind, stream) in KINDS.items():
        identity = f"{log_file}@1"
        tracked = await _track(pipeline, fleet, instance, log_file, identity)
        content_id = fleet.truth.content_id_of(instance, log_file)
        await pipeline.work.process(_event(tracked, fleet.path(instance, log_file).stat().st_size))
        fleet.advance(20)  # the file grows; the next event reads only what is new
        await pipeline.work.process(_event(tracked, fleet.path(instance, log_file).stat().st_size))
        # A repeated event for a size already read changes nothing.
        await pipeline.work.process(_event(tracked, fleet.path(instance, log_file).stat().st_size))
        rows = [row for row in pipeline.stored(stream) if row["instance"] == instance]
        stored = await pipeline.tracking.get(instance, identity)
        assert stored is not None
        truth = [
            entry
            for entry in fleet.truth.entries(instance=instance, content_id=content_id)
            if entry.end <= stored.checkpoint.offset
        ]
        assert truth, f"no entries written to {log_file}"
        ids = sorted(str(row["record_id"]) for row in rows)
        assert ids == _expected_ids(truth, instance, identity), f"{log_file}: lost or doubled"
        assert _spans(rows) == sorted((entry.offset, entry.length) for entry in truth)
        assert not any(row.get("parse_error") for row in rows)
        assert pipeline.inflight.used == 0


async def test_a_crash_between_checkpoints_resends_only_the_window(
    pipeline: Pipeline, fleet: Fleet, ident: Callable[[str], str]
) -> None:
    profile = LogProfile(rates={"postgresql": Rate(bytes_per_min=3_000_000)})
    cluster = fleet.add_cluster(ident("crash"), AURORA_POSTGRESQL, instances=1, profile=profile)
    instance = cluster.writer
    fleet.advance(40)
    log_file = next(
        name for name in fleet.log_files(instance) if name.startswith("error/postgresql")
    )
    identity = f"{log_file}@1"
    tracked = await _track(pipeline, fleet, instance, log_file, identity)
    size = fleet.path(instance, log_file).stat().st_size
    assert size > 1_000_000

    # Kill the work as soon as its first checkpoint is durable (a crash mid-file).
    task = asyncio.create_task(pipeline.work.process(_event(tracked, size)))
    for _ in range(400):
        current = await pipeline.tracking.get(instance, identity)
        if current is not None and current.checkpoint.version >= 1:
            break
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    crashed_at = await pipeline.tracking.get(instance, identity)
    assert crashed_at is not None
    assert 0 < crashed_at.checkpoint.offset < size

    await pipeline.work.process(_event(tracked, size))  # the restart
    stored = await pipeline.tracking.get(instance, identity)
    assert stored is not None
    rows = [row for row in pipeline.stored("aurora_postgresql") if row["instance"] == instance]
    ids = [str(row["record_id"]) for row in rows]
    content_id = fleet.truth.content_id_of(instance, log_file)
    truth = [
        entry
        for entry in fleet.truth.entries(instance=instance, content_id=content_id)
        if entry.end <= stored.checkpoint.offset
    ]
    assert sorted(set(ids)) == _expected_ids(truth, instance, identity), "an entry was lost"
    # Duplicates only from after the durable checkpoint of the crash, with the same ids.
    doubled = {rid for rid in ids if ids.count(rid) > 1}
    offsets = {int(str(row["offset"])) for row in rows if row["record_id"] in doubled}
    assert all(offset >= crashed_at.checkpoint.offset for offset in offsets)


async def test_a_rotated_file_is_finished_under_its_new_name(
    pipeline: Pipeline, fleet: Fleet, ident: Callable[[str], str]
) -> None:
    profile = LogProfile(rates={"slowquery": Rate(entries_per_s=20)})
    instance = fleet.add_cluster(ident("rot"), AURORA_MYSQL_3, instances=1, profile=profile).writer
    fleet.advance(30)
    log_file, identity = "slowquery/mysql-slowquery.log", "slowquery/mysql-slowquery.log@1"
    tracked = await _track(pipeline, fleet, instance, log_file, identity)
    content_id = fleet.truth.content_id_of(instance, log_file)
    await pipeline.work.process(_event(tracked, fleet.path(instance, log_file).stat().st_size))
    fleet.advance(10)
    fleet.rotate(instance, "slowquery")
    rotated = _name_of(fleet, instance, content_id)
    # Discovery links the generation to its new name and marks it final.
    renamed = await _renamed(pipeline, fleet, tracked, rotated)
    await pipeline.work.process(_event(renamed, renamed.observation.seen_size))
    rows = [row for row in pipeline.stored("aurora_mysql_slow") if row["instance"] == instance]
    truth = fleet.truth.entries(instance=instance, content_id=content_id)
    assert sorted(str(row["record_id"]) for row in rows) == _expected_ids(truth, instance, identity)
    assert {row["log_file"] for row in rows} == {log_file, rotated}
    final = await pipeline.tracking.get(instance, identity)
    assert final is not None
    assert final.checkpoint.offset == fleet.path(instance, rotated).stat().st_size


async def test_a_from_start_event_reads_the_file_again_under_the_same_ids(
    pipeline: Pipeline, fleet: Fleet, ident: Callable[[str], str]
) -> None:
    profile = LogProfile(rates={"slowquery": Rate(entries_per_s=20)})
    instance = fleet.add_cluster(ident("re"), AURORA_MYSQL_3, instances=1, profile=profile).writer
    fleet.advance(30)
    log_file, identity = "slowquery/mysql-slowquery.log", "slowquery/mysql-slowquery.log@1"
    tracked = await _track(pipeline, fleet, instance, log_file, identity)
    size = fleet.path(instance, log_file).stat().st_size
    await pipeline.work.process(_event(tracked, size))
    first = [row for row in pipeline.stored("aurora_mysql_slow") if row["instance"] == instance]
    done = await pipeline.tracking.get(instance, identity)
    assert done is not None
    assert first
    assert done.checkpoint.offset > 0

    # Without the flag the event is already satisfied; with it the whole file comes again.
    await pipeline.work.process(_event(tracked, size))
    again = _event(tracked, size).model_copy(update={"from_start": True})
    await pipeline.work.process(again)
    rows = [row for row in pipeline.stored("aurora_mysql_slow") if row["instance"] == instance]
    ids = sorted(str(row["record_id"]) for row in first)
    assert sorted(str(row["record_id"]) for row in rows) == sorted(ids + ids)
    after = await pipeline.tracking.get(instance, identity)
    assert after is not None
    assert after.checkpoint.offset == done.checkpoint.offset
    assert after.checkpoint.version > done.checkpoint.version


def _metric(name: str, **labels: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _stat(fleet: Fleet, instance: str, name: str) -> tuple[int, int]:
    """(Size, LastWritten) as DescribeDBLogFiles reports them now."""
    answer = fleet.rds.describe_db_log_files(DBInstanceIdentifier=instance, FilenameContains=name)
    entry = next(e for e in answer["DescribeDBLogFiles"] if e["LogFileName"] == name)
    return int(entry["Size"]), int(entry["LastWritten"])


def _name_of(fleet: Fleet, instance: str, content_id: str | None) -> str:
    """The name that holds ``content_id`` now (after a rotation renamed it)."""
    return next(
        name
        for name in fleet.log_files(instance)
        if fleet.truth.content_id_of(instance, name) == content_id
    )


async def _renamed(
    pipeline: Pipeline, fleet: Fleet, tracked: TrackedFile, rotated: str
) -> TrackedFile:
    """Discovery's next look: the generation is final under its new name ``rotated``."""
    current = await pipeline.tracking.get(tracked.instance_id, tracked.identity)
    assert current is not None
    size, last_written = await _stat(fleet, tracked.instance_id, rotated)
    return await pipeline.tracking.observe(
        current,
        replace(
            current.observation,
            log_file=rotated,
            status="rotated",
            seen_size=size,
            seen_last_written_ms=last_written,
            previous_names=(current.observation.log_file,),
        ),
    )


async def _track_audit(
    pipeline: Pipeline, instance: str, identity: str, size: int, last_written: int
) -> TrackedFile:
    """Discovery's first sight of the active server_audit.log at (size, last_written)."""
    return await pipeline.tracking.create(
        TrackedFile(
            instance,
            identity,
            Observation(
                cluster_id=instance.rsplit("-", 1)[0],
                engine="aurora-mysql",
                engine_version="8.0.mysql_aurora.3.05.2",
                log_file="audit/server_audit.log",
                log_kind="audit",
                seen_size=size,
                seen_last_written_ms=last_written,
            ),
        )
    )


@pytest.mark.parametrize("outgrown", [False, True], ids=["smaller", "outgrown"])
async def test_a_reused_name_holding_younger_content_is_not_read_as_the_old(
    pipeline: Pipeline, fleet: Fleet, ident: Callable[[str], str], outgrown: bool
) -> None:
    """server_audit.log rotates between discovery's observation and the processor's read:
    the name now holds the next generation, which must not be shipped as the old one, even
    when that one has already grown past the size discovery saw."""
    options = LogOptions(audit_style="server_audit", server_audit_rotate_bytes=10**9)
    profile = LogProfile(rates={"audit": Rate(entries_per_s=20)}, options=options)
    instance = fleet.add_cluster(
        ident("chain"), AURORA_MYSQL_3, instances=1, profile=profile
    ).writer
    name = "audit/server_audit.log"
    fleet.advance(2 if outgrown else 30)
    content_id = fleet.truth.content_id_of(instance, name)
    size, last_written = await _stat(fleet, instance, name)
    if outgrown:
        fleet.advance(28)  # the observation is older than the generation's end
    tracked = await _track_audit(pipeline, instance, f"{name}@1", size, last_written)
    fleet.rotate(instance, "audit")  # server_audit.log -> .1; a new one begins
    fleet.advance(10 if outgrown else 2)
    assert ((await _stat(fleet, instance, name))[0] > size) == outgrown
    deferred = _metric("aurora_processor_reads_cut_short_total", reason="name_reused")
    await pipeline.work.process(_event(tracked, size))
    assert _metric("aurora_processor_reads_cut_short_total", reason="name_reused") == deferred + 1
    assert [
        row for row in pipeline.stored("aurora_mysql_audit") if row["instance"] == instance
    ] == []
    # Discovery's next poll finds the content under its new name; its event completes it.
    rotated = f"{name}.1"
    assert fleet.truth.content_id_of(instance, rotated) == content_id
    moved = await _renamed(pipeline, fleet, tracked, rotated)
    await pipeline.work.process(_event(moved, moved.observation.seen_size))
    rows = [row for row in pipeline.stored("aurora_mysql_audit") if row["instance"] == instance]
    truth = fleet.truth.entries(instance=instance, content_id=content_id)
    assert sorted(str(row["record_id"]) for row in rows) == _expected_ids(
        truth, instance, moved.identity
    )


@pytest.mark.parametrize("archived", [False, True], ids=["plain", "archived"])
async def test_a_checkpoint_made_on_other_content_is_read_again(
    pipeline: Pipeline, fleet: Fleet, ident: Callable[[str], str], archived: bool
) -> None:
    """A checkpoint whose anchor does not match its own final file (it was made on the bytes
    of another generation): the file is read again from its start, nothing is lost, and the
    raw archive keeps none of the other generation's bytes."""
    profile = LogProfile(rates={"slowquery": Rate(entries_per_s=10)})
    instance = fleet.add_cluster(
        ident("stale"), AURORA_MYSQL_3, instances=1, profile=profile
    ).writer
    fleet.advance(30)
    fleet.rotate(instance, "slowquery")
    content_id = fleet.truth.content_id_of(instance, "slowquery/mysql-slowquery.log")
    rotated = next(
        name
        for name in fleet.log_files(instance)
        if name.startswith("slowquery/mysql-slowquery.log.")
    )
    size, last_written = await _stat(fleet, instance, rotated)
    tracked = await pipeline.tracking.create(
        TrackedFile(
            instance,
            "slowquery/mysql-slowquery.log@1",
            Observation(
                cluster_id=instance.rsplit("-", 1)[0],
                engine="aurora-mysql",
                engine_version="8.0.mysql_aurora.3.05.2",
                log_file=rotated,
                log_kind="slowquery",
                status="rotated",
                seen_size=size,
                seen_last_written_ms=last_written,
            ),
        )
    )
    # A checkpoint at a line end, anchored on bytes this file does not hold there.
    content = fleet.path(instance, rotated).read_bytes()
    middle = content.index(b"\n", len(content) // 2) + 1
    bogus = Checkpoint(offset=middle, anchor_end=middle, anchor_length=4, anchor_digest="0" * 32)
    saved = await pipeline.tracking.save_checkpoint(
        instance, tracked.identity, tracked.checkpoint, bogus
    )
    work = pipeline.work
    if archived:
        work = pipeline.make_work(pipeline.archive)
        # What the read that made the bogus checkpoint archived: other bytes, reaching past
        # this file's end.
        other = b"other generation\n" * ((len(content) - middle) // 17 + 10)
        await pipeline.archive.put(instance, tracked.identity, rotated, middle, other)
    resets = _metric("aurora_processor_checkpoint_resets_total")
    await work.process(_event(replace(tracked, checkpoint=saved), size))
    assert _metric("aurora_processor_checkpoint_resets_total") == resets + 1
    rows = [row for row in pipeline.stored("aurora_mysql_slow") if row["instance"] == instance]
    truth = [
        entry
        for entry in fleet.truth.entries(instance=instance)
        if fleet.truth.content_id_of(instance, rotated) == entry.content_id
    ]
    assert sorted(str(row["record_id"]) for row in rows) == _expected_ids(
        truth, instance, tracked.identity
    )
    assert content_id is not None
    if archived:
        restored = [data async for data in restore(pipeline.archive, instance, tracked.identity)]
        assert b"".join(restored) == content


async def test_a_name_that_moved_on_is_not_read_on_from_a_held_back_checkpoint(
    pipeline: Pipeline, fleet: Fleet, ident: Callable[[str], str]
) -> None:
    """The slow log's parser holds its last entry back, so the checkpoint lies before the end
    of what was read. The name then rotates and its successor outgrows that checkpoint: a read
    going on under the old name must notice, not ship the successor's bytes as the file's."""
    profile = LogProfile(rates={"slowquery": Rate(entries_per_s=20)})
    instance = fleet.add_cluster(ident("held"), AURORA_MYSQL_3, instances=1, profile=profile).writer
    fleet.advance(30)
    log_file, identity = "slowquery/mysql-slowquery.log", "slowquery/mysql-slowquery.log@1"
    tracked = await _track(pipeline, fleet, instance, log_file, identity)
    content_id = fleet.truth.content_id_of(instance, log_file)
    size = fleet.path(instance, log_file).stat().st_size
    await pipeline.work.process(_event(tracked, size))
    first = await pipeline.tracking.get(instance, identity)
    assert first is not None
    assert 0 < first.checkpoint.offset < size, "the last entry should be held back"
    assert first.checkpoint.anchor_end == first.checkpoint.offset
    fleet.rotate(instance, "slowquery")
    fleet.advance(60)
    grown = fleet.path(instance, log_file).stat().st_size
    assert grown > size
    cut = _metric("aurora_processor_reads_cut_short_total", reason="rotated")
    await pipeline.work.process(_event(first, grown))  # before discovery notices the rotation
    assert _metric("aurora_processor_reads_cut_short_total", reason="rotated") == cut + 1
    rotated = _name_of(fleet, instance, content_id)
    renamed = await _renamed(pipeline, fleet, tracked, rotated)
    await pipeline.work.process(_event(renamed, renamed.observation.seen_size))
    rows = [row for row in pipeline.stored("aurora_mysql_slow") if row["instance"] == instance]
    truth = fleet.truth.entries(instance=instance, content_id=content_id)
    assert sorted(str(row["record_id"]) for row in rows) == _expected_ids(truth, instance, identity)
    assert _spans(rows) == sorted((entry.offset, entry.length) for entry in truth)


async def test_the_raw_archive_holds_every_byte_the_checkpoint_passed(
    pipeline: Pipeline, fleet: Fleet, ident: Callable[[str], str]
) -> None:
    """Segments are archived before their checkpoint; joined, they are the file's bytes up to
    the checkpoint, and the whole file once it is final."""
    profile = LogProfile(rates={"slowquery": Rate(bytes_per_min=1_500_000)})
    instance = fleet.add_cluster(ident("raw"), AURORA_MYSQL_3, instances=1, profile=profile).writer
    fleet.advance(100)  # 2.5 MB: pages of up to 1 MB, a checkpoint after each
    log_file, identity = "slowquery/mysql-slowquery.log", "slowquery/mysql-slowquery.log@1"
    tracked = await _track(pipeline, fleet, instance, log_file, identity)
    content_id = fleet.truth.content_id_of(instance, log_file)
    work = pipeline.make_work(pipeline.archive)
    await work.process(_event(tracked, fleet.path(instance, log_file).stat().st_size))
    first = await pipeline.tracking.get(instance, identity)
    assert first is not None
    assert len(await pipeline.archive.segments(instance, identity)) >= 2  # several segments
    restored = b"".join([data async for data in restore(pipeline.archive, instance, identity)])
    assert restored == fleet.path(instance, log_file).read_bytes()[: first.checkpoint.offset]

    fleet.advance(10)
    fleet.rotate(instance, "slowquery")
    rotated = _name_of(fleet, instance, content_id)
    renamed = await _renamed(pipeline, fleet, tracked, rotated)
    await work.process(_event(renamed, renamed.observation.seen_size))
    restored = b"".join([data async for data in restore(pipeline.archive, instance, identity)])
    assert restored == fleet.path(instance, rotated).read_bytes()


async def test_a_young_generation_that_went_quiet_is_read_at_once(
    pipeline: Pipeline, fleet: Fleet, ident: Callable[[str], str]
) -> None:
    """Its predecessor was renamed in the same LastWritten period and is bigger, so by sizes
    and times alone it could be this generation; but the name is exactly as discovery saw
    it, so it is this generation and is read now, not after some later change."""
    options = LogOptions(audit_style="server_audit", server_audit_rotate_bytes=10**9)
    profile = LogProfile(rates={"audit": Rate(entries_per_s=20)}, options=options)
    instance = fleet.add_cluster(
        ident("quiet"), AURORA_MYSQL_3, instances=1, profile=profile
    ).writer
    name = "audit/server_audit.log"
    fleet.advance(30)
    fleet.rotate(instance, "audit")  # the predecessor becomes .1
    fleet.advance(2)
    size, last_written = await _stat(fleet, instance, name)
    before, before_written = await _stat(fleet, instance, f"{name}.1")
    assert before > size  # by sizes and times, the predecessor could be this generation
    assert before_written >= last_written
    content_id = fleet.truth.content_id_of(instance, name)
    tracked = await _track_audit(pipeline, instance, f"{name}@2", size, last_written)
    deferred = _metric("aurora_processor_reads_cut_short_total", reason="name_reused")
    await pipeline.work.process(_event(tracked, size))
    assert _metric("aurora_processor_reads_cut_short_total", reason="name_reused") == deferred
    stored = await pipeline.tracking.get(instance, tracked.identity)
    assert stored is not None
    rows = [row for row in pipeline.stored("aurora_mysql_audit") if row["instance"] == instance]
    truth = [
        entry
        for entry in fleet.truth.entries(instance=instance, content_id=content_id)
        if entry.end <= stored.checkpoint.offset
    ]
    assert truth
    assert sorted(str(row["record_id"]) for row in rows) == _expected_ids(
        truth, instance, tracked.identity
    )


class _RotatesOnFirstRead:
    """A source that rotates the simulated chain just before its first read: the race between
    the processor's check of a name and its first page."""

    def __init__(self, inner: Source, rotate: Callable[[], None]) -> None:
        self.name = inner.name
        self._inner = inner
        self._rotate: Callable[[], None] | None = rotate

    async def listing(self, instance_id: str, contains: str) -> dict[str, FileStat]:
        return await self._inner.listing(instance_id, contains)

    async def read(self, file: FileRef, start: Position, *, size_hint: int) -> AsyncIterator[Chunk]:
        if self._rotate is not None:
            self._rotate()
            self._rotate = None
        async for chunk in self._inner.read(file, start, size_hint=size_hint):
            yield chunk


async def test_a_chain_that_shifts_under_the_first_page_is_not_read_as_the_old(
    pipeline: Pipeline, fleet: Fleet, ident: Callable[[str], str]
) -> None:
    """server_audit.log.1 is checked, then the chain shifts before its first page is read: the
    page holds the next generation, and nothing of it is shipped as this one."""
    options = LogOptions(audit_style="server_audit", server_audit_rotate_bytes=10**9)
    profile = LogProfile(rates={"audit": Rate(entries_per_s=20)}, options=options)
    instance = fleet.add_cluster(
        ident("shift"), AURORA_MYSQL_3, instances=1, profile=profile
    ).writer
    name = "audit/server_audit.log"
    fleet.advance(30)
    fleet.rotate(instance, "audit")
    fleet.advance(20)
    rotated = f"{name}.1"
    content_id = fleet.truth.content_id_of(instance, rotated)
    size, last_written = await _stat(fleet, instance, rotated)
    tracked = await _track_audit(pipeline, instance, f"{name}@1", size, last_written)
    final = await pipeline.tracking.observe(
        tracked, replace(tracked.observation, log_file=rotated, status="rotated")
    )
    work = pipeline.make_work(
        None, lambda source: _RotatesOnFirstRead(source, lambda: fleet.rotate(instance, "audit"))
    )
    deferred = _metric("aurora_processor_reads_cut_short_total", reason="name_reused")
    await work.process(_event(final, size))
    assert _metric("aurora_processor_reads_cut_short_total", reason="name_reused") == deferred + 1
    assert [
        row for row in pipeline.stored("aurora_mysql_audit") if row["instance"] == instance
    ] == []
    # Discovery follows the generation to .2; that event reads all of it.
    moved = await _renamed(pipeline, fleet, final, _name_of(fleet, instance, content_id))
    assert moved.observation.log_file == f"{name}.2"
    await pipeline.work.process(_event(moved, moved.observation.seen_size))
    rows = [row for row in pipeline.stored("aurora_mysql_audit") if row["instance"] == instance]
    truth = fleet.truth.entries(instance=instance, content_id=content_id)
    assert sorted(str(row["record_id"]) for row in rows) == _expected_ids(
        truth, instance, tracked.identity
    )


class _FailsAfter:
    """A source whose first read breaks off with a transient error after ``chunks`` chunks."""

    def __init__(self, inner: Source, chunks: int) -> None:
        self.name = inner.name
        self._inner = inner
        self._chunks: int | None = chunks

    async def listing(self, instance_id: str, contains: str) -> dict[str, FileStat]:
        return await self._inner.listing(instance_id, contains)

    async def read(self, file: FileRef, start: Position, *, size_hint: int) -> AsyncIterator[Chunk]:
        left, self._chunks = self._chunks, None
        async for chunk in self._inner.read(file, start, size_hint=size_hint):
            if left is not None:
                if left == 0:
                    raise ThrottledError("Rate exceeded", reason="throttled")
                left -= 1
            yield chunk


async def test_a_read_broken_off_mid_file_keeps_what_it_shipped(
    pipeline: Pipeline, fleet: Fleet, ident: Callable[[str], str]
) -> None:
    """Throttling beyond the retries in the middle of a file: the records already read are
    delivered and checkpointed before the error goes to the consumer, so the retry goes on
    from there and sends none of them twice."""
    profile = LogProfile(rates={"slowquery": Rate(bytes_per_min=3_000_000)})
    instance = fleet.add_cluster(ident("cut"), AURORA_MYSQL_3, instances=1, profile=profile).writer
    fleet.advance(60)
    log_file, identity = "slowquery/mysql-slowquery.log", "slowquery/mysql-slowquery.log@1"
    size = fleet.path(instance, log_file).stat().st_size
    assert size > 2 * 1024 * 1024  # several 1 MB portions
    tracked = await _track(pipeline, fleet, instance, log_file, identity)
    work = pipeline.make_work(None, lambda source: _FailsAfter(source, chunks=2))
    before = _metric("aurora_processor_reads_cut_short_total", reason="failed")
    with pytest.raises(ThrottledError):
        await work.process(_event(tracked, size))
    assert _metric("aurora_processor_reads_cut_short_total", reason="failed") == before + 1
    first = [row for row in pipeline.stored("aurora_mysql_slow") if row["instance"] == instance]
    kept = await pipeline.tracking.get(instance, identity)
    assert kept is not None
    assert first
    # The checkpoint covers everything shipped: every record lies before it.
    assert max(int(str(row["offset"])) for row in first) < kept.checkpoint.offset < size

    await pipeline.work.process(_event(kept, size))  # the consumer's retry
    rows = [row for row in pipeline.stored("aurora_mysql_slow") if row["instance"] == instance]
    ids = [str(row["record_id"]) for row in rows]
    assert len(ids) == len(set(ids)), "the retry sent records again"
    content_id = fleet.truth.content_id_of(instance, log_file)
    truth = fleet.truth.entries(instance=instance, content_id=content_id)
    assert sorted(ids) == _expected_ids(truth[:-1], instance, identity)
