"""Recording a poll's plan in the tracking table and publishing the events it calls for.

For one instance and one plan (:mod:`discovery.identity`), in this order:

1. New generations are created (a conditional put: the identity must be new); renames,
   superseded series files and gone files are written at once, each before any new
   generation takes the name they held. A gone file is read
   back first for the processor's latest checkpoint: bytes seen but never made durable are
   *lost*, counted in ``aurora_discovery_bytes_lost_total`` and named in a ``file_lost`` log
   event; a file fully ingested is *deleted*. Either way the item gets its TTL.
2. Every live generation with bytes, a name or a status the processor has not been told of is
   published as one event, keyed by instance and the generation's birth name.
3. Growth is written together with the publication mark, in one write per file, only after
   Kafka confirmed; a growth Kafka did not confirm is written without the mark and published
   again on the next poll.

Every write is conditional on the version read and on this replica's fence: a
:class:`~common.errors.ConflictError` means another writer (or a newer lease holder) was there
first, and the caller must reload the instance before trusting its copy again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from common.events import Engine, LogFileEvent, LogKind, event_key
from common.logs import get_logger
from common.tracking import Observation, TrackedFile, TrackingTable
from discovery import metrics
from discovery.identity import NameRules, Plan, birth_name
from discovery.instance_files import Create, InstanceFiles, Retire, Update, is_due
from discovery.inventory import AuroraInstance
from discovery.publisher import EventPublisher, Outgoing

__all__ = ["Recorded", "Tracker", "outgoing_event"]

log = get_logger(__name__)

_EVENTS_PER_BATCH = 500


@dataclass(frozen=True)
class Recorded:
    """What recording one plan did."""

    changes: int
    events: int
    unconfirmed: int
    lost_bytes: int

    @property
    def changed(self) -> bool:
        """Whether the instance had news (the scheduler then polls it sooner)."""
        return self.changes > 0


class Tracker:
    """Applies plans to the tracking table and publishes the resulting events."""

    def __init__(
        self,
        table: TrackingTable,
        publisher: EventPublisher,
        *,
        rules: NameRules,
        item_ttl_s: int,
        clock_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._table = table
        self._publisher = publisher
        self._rules = rules
        self._item_ttl_s = item_ttl_s
        self._clock_ms = clock_ms

    async def load(self, instance: AuroraInstance, fence: int) -> InstanceFiles:
        """Read everything tracked for ``instance`` (consistent Query)."""
        files = await self._table.files_of(instance.instance_id)
        return InstanceFiles(
            instance, files, fence=fence, rules=self._rules, item_ttl_s=self._item_ttl_s
        )

    async def record(self, files: InstanceFiles, plan: Plan) -> Recorded:
        """Write ``plan`` and publish the events now due. Raises ConflictError (reload and
        poll again), and the translated DynamoDB errors; ``files`` holds what was written."""
        now_ms = self._clock_ms()
        growth: dict[str, tuple[TrackedFile, Observation]] = {}
        lost_bytes = 0
        for write in files.writes_for(plan, now_ms):
            if isinstance(write, Create):
                stored = await self._table.create(write.file)
                files.store(stored)
                metrics.FILES_DISCOVERED.labels(stored.observation.log_kind).inc()
                log.debug(
                    "file_discovered",
                    instance=stored.instance_id,
                    identity=stored.identity,
                    size=stored.observation.seen_size,
                    status=stored.observation.status,
                )
            elif isinstance(write, Update) and write.kind == "grew":
                growth[write.file.identity] = (write.file, write.observation)
            elif isinstance(write, Update):
                stored = await self._table.observe(write.file, write.observation)
                files.store(stored)
                self._count_rotation(write, stored)
            elif isinstance(write, Retire):
                lost_bytes += await self._retire(files, write, now_ms)
        events, unconfirmed = await self._publish(files, growth, now_ms)
        return Recorded(len(plan.changes), events, unconfirmed, lost_bytes)

    async def _retire(self, files: InstanceFiles, write: Retire, now_ms: int) -> int:
        fresh = await self._table.get(write.file.instance_id, write.file.identity)
        if fresh is None:
            # Expired or removed by an operator: nothing left to account for.
            files.forget(write.file.identity)
            return 0
        observation = files.retired(fresh, now_ms)
        stored = await self._table.observe(fresh, observation)
        files.store(stored)
        if write.reason != "deleted":
            metrics.ROTATIONS.labels(write.reason).inc()
        metrics.FILES_GONE.labels(stored.observation.status).inc()
        if stored.observation.status == "lost":
            metrics.BYTES_LOST.inc(stored.observation.lost_bytes)
            log.warning(
                "file_lost",
                instance=stored.instance_id,
                cluster=stored.observation.cluster_id,
                log_file=stored.observation.log_file,
                identity=stored.identity,
                reason=write.reason,
                lost_bytes=stored.observation.lost_bytes,
                seen_size=stored.observation.seen_size,
                durable_offset=fresh.checkpoint.offset,
            )
            return stored.observation.lost_bytes
        log.info(
            "file_deleted",
            instance=stored.instance_id,
            identity=stored.identity,
            reason=write.reason,
        )
        return 0

    async def _publish(
        self,
        files: InstanceFiles,
        growth: dict[str, tuple[TrackedFile, Observation]],
        now_ms: int,
    ) -> tuple[int, int]:
        """Publish what is due, then write growth and publication marks. Returns (confirmed
        events, unconfirmed events)."""
        current: dict[str, tuple[TrackedFile, Observation]] = {
            file.identity: (file, file.observation) for file in files.live()
        }
        current.update(growth)
        due = [(file, observation) for file, observation in current.values() if is_due(observation)]
        confirmed_ids: set[str] = set()
        unconfirmed = 0
        for start in range(0, len(due), _EVENTS_PER_BATCH):
            batch = due[start : start + _EVENTS_PER_BATCH]
            outgoing = [outgoing_event(file, observation, now_ms) for file, observation in batch]
            answers = await self._publisher.publish(outgoing)
            for (file, observation), ok in zip(batch, answers, strict=True):
                if ok:
                    confirmed_ids.add(file.identity)
                    metrics.EVENTS_PUBLISHED.labels(observation.status).inc()
                else:
                    unconfirmed += 1
                    metrics.EVENT_PUBLISH_FAILURES.inc()
        for identity in sorted(confirmed_ids | growth.keys()):
            file, observation = current[identity]
            if identity in confirmed_ids:
                observation = files.published(observation, now_ms)
            files.store(await self._table.observe(file, observation))
        return len(confirmed_ids), unconfirmed

    @staticmethod
    def _count_rotation(write: Update, stored: TrackedFile) -> None:
        if write.kind == "moved":
            metrics.ROTATIONS.labels("renamed").inc()
            log.info(
                "file_rotated",
                instance=stored.instance_id,
                identity=stored.identity,
                previous_name=write.file.observation.log_file,
                log_file=stored.observation.log_file,
                size=stored.observation.seen_size,
            )
        elif write.kind == "superseded":
            metrics.ROTATIONS.labels("superseded").inc()


def outgoing_event(
    file: TrackedFile, observation: Observation, now_ms: int, *, from_start: bool = False
) -> Outgoing:
    """The event telling the processor about ``file`` as ``observation`` describes it, keyed by
    instance and birth name (every generation of one name stays on one partition)."""
    event = LogFileEvent(
        cluster_id=observation.cluster_id,
        instance_id=file.instance_id,
        engine=cast(Engine, observation.engine),
        engine_version=observation.engine_version,
        log_file=observation.log_file,
        log_kind=cast(LogKind, observation.log_kind),
        file_identity=file.identity,
        size_bytes=observation.seen_size,
        last_written_ms=max(0, observation.seen_last_written_ms),
        status="active" if observation.status == "active" else "rotated",
        observed_at_ms=now_ms,
        from_start=from_start,
    )
    return Outgoing(event_key(file.instance_id, birth_name(file.identity)), event)
