"""The consumer loop: log-file events in, one unit of acknowledgement each, offsets out in order.

Every event ends in exactly one of three outcomes:

- **delivered**: its file's records up to the end are delivered and checkpointed -> the offset
  may be committed;
- **rejected**: it can never succeed (not JSON, unknown schema, an untracked file, a bug
  triggered by its content) -> it is written to the dead-letter topic with its reason, then
  its offset may be committed;
- **errored**: it may succeed later (throttling, a dependency down) -> it is retried with
  back-off and its offset (and every later one of its partition) stays uncommitted.

Events of one file are processed one at a time; events that arrive for a file while its work
runs are coalesced into the next run (events are level-triggered: one run to the current end
satisfies them all). At most ``max_concurrent_files`` files are processed at once. When the
replica holds ``max_queued_events`` unfinished events or its in-flight byte budget is spent,
the assigned partitions are paused (no sleeping in the loop) and resumed when there is room.

Offsets are committed about every ``commit_interval_s``, and always when partitions are revoked
(after a drain of at most ``drain_timeout_s``) and on stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata

from common.errors import (
    AccessDeniedError,
    MalformedEventError,
    PermanentError,
    RejectedError,
    RetriableError,
    is_retriable,
)
from common.events import LogFileEvent, decode_event
from common.health import Liveness
from common.logs import get_logger
from processor.commits import OffsetTracker
from processor.config import ProcessorConfig
from processor.metrics import EVENTS, PAUSED_PARTITIONS

__all__ = ["EventConsumer", "EventDeadLetters", "EventWork"]

log = get_logger(__name__)


class EventWork(Protocol):
    async def process(self, event: LogFileEvent) -> None: ...


class EventDeadLetters(Protocol):
    async def event(
        self,
        *,
        value: bytes | None,
        key: bytes | None,
        reason: str,
        detail: str,
        source: dict[str, object],
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class _Received:
    tp: TopicPartition
    offset: int
    key: bytes | None
    value: bytes | None
    event: LogFileEvent


@dataclass
class _FileRun:
    """The events of one file: those being processed and those that arrived meanwhile."""

    task: asyncio.Task[None] | None = None
    waiting: list[_Received] = field(default_factory=list)
    partitions: set[TopicPartition] = field(default_factory=set)


class EventConsumer(ConsumerRebalanceListener):  # type: ignore[misc]
    """Runs the loop for one started consumer subscribed with this object as its listener."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        *,
        work: EventWork,
        dead_letters: EventDeadLetters,
        config: ProcessorConfig,
        at_capacity: Callable[[], bool] = lambda: False,
        on_stop: Callable[[], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._consumer = consumer
        self._work = work
        self._dead_letters = dead_letters
        self._config = config
        self._at_capacity = at_capacity
        self._on_stop = on_stop
        self._clock = clock
        self._offsets = OffsetTracker()
        self._files: dict[str, _FileRun] = {}
        self._slots = asyncio.Semaphore(config.max_concurrent_files)
        self._paused = False
        self._last_commit = clock()
        self._stopping = asyncio.Event()

    # ---- the loop -------------------------------------------------------------------------

    async def run(self, stopping: asyncio.Event, liveness: Liveness | None = None) -> None:
        """Consume until ``stopping`` is set, then drain, commit and return.

        Does not stop the Kafka consumer (its owner does, after this returns).
        """
        self._stopping = stopping
        while not stopping.is_set():
            if liveness is not None:
                liveness.beat()
            batches = await self._consumer.getmany(timeout_ms=200, max_records=500)
            for records in batches.values():
                for record in records:
                    await self._receive(record)
            self._apply_backpressure()
            if self._clock() - self._last_commit >= self._config.commit_interval_s:
                await self._commit()
        await self._drain(None)
        await self._commit()

    async def _receive(self, record: ConsumerRecord[bytes, bytes]) -> None:
        tp = TopicPartition(record.topic, record.partition)
        self._offsets.received(tp, record.offset)
        try:
            event = decode_event(record.value)
        except MalformedEventError as exc:
            await self._reject(
                [(tp, record.offset, record.key, record.value)], exc.reason, str(exc)
            )
            return
        received = _Received(tp, record.offset, record.key, record.value, event)
        key = f"{event.instance_id}\x00{event.file_identity}"
        run = self._files.get(key)
        if run is None:
            run = self._files[key] = _FileRun()
        run.waiting.append(received)
        run.partitions.add(tp)
        if run.task is None:
            run.task = asyncio.create_task(self._drive(key, run), name=f"file-{event.log_file}")

    async def _drive(self, key: str, run: _FileRun) -> None:
        """Process the file's events until none is waiting; one run covers all waiting ones."""
        try:
            attempt = 0
            while run.waiting:
                batch, run.waiting = run.waiting, []
                latest = max(batch, key=lambda item: (item.event.size_bytes, item.offset))
                try:
                    async with self._slots:
                        outcome = await self._attempt(latest.event)
                except asyncio.CancelledError:
                    run.waiting = batch + run.waiting  # unfinished: keep them for a restart
                    raise
                if outcome is None:
                    attempt = 0
                    for item in batch:
                        self._offsets.finished(item.tp, item.offset)
                    EVENTS.labels("delivered").inc(len(batch))
                elif isinstance(outcome, RejectedError):
                    attempt = 0
                    await self._reject(
                        [(item.tp, item.offset, item.key, item.value) for item in batch],
                        outcome.reason,
                        str(outcome),
                    )
                else:
                    EVENTS.labels("errored").inc(len(batch))
                    attempt += 1
                    delay = min(
                        self._config.retry_max_s, self._config.retry_base_s * 2 ** min(attempt, 20)
                    ) * random.uniform(0.5, 1.0)
                    log.warning(
                        "event_failed",
                        instance=latest.event.instance_id,
                        log_file=latest.event.log_file,
                        reason=outcome.reason,
                        error=str(outcome)[:300],
                        retry_in_s=round(delay, 2),
                    )
                    run.waiting = batch + run.waiting
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), timeout=delay)
                    if self._stopping.is_set():
                        return  # left unfinished: redelivered to whoever consumes next
        finally:
            run.task = None
            if not run.waiting and self._files.get(key) is run:
                del self._files[key]

    async def _attempt(self, event: LogFileEvent) -> RejectedError | RetriableError | None:
        """Run the work once; returns None (delivered) or the error deciding the outcome."""
        try:
            await self._work.process(event)
        except RejectedError as exc:
            return exc
        except RetriableError as exc:
            return exc
        except AccessDeniedError as exc:
            # IAM or credentials: a human must act; keep the event and retry slowly.
            log.error("access_denied", instance=event.instance_id, error=str(exc)[:300])
            return RetriableError(str(exc), reason=exc.reason)
        except PermanentError as exc:
            return RejectedError(str(exc), reason=exc.reason)
        except Exception as exc:
            if is_retriable(exc):
                return RetriableError(f"{type(exc).__name__}: {exc}", reason="dependency_error")
            log.exception("event_processing_crashed", instance=event.instance_id)
            return RejectedError(f"{type(exc).__name__}: {exc}", reason="unexpected_error")
        return None

    async def _reject(
        self,
        items: list[tuple[TopicPartition, int, bytes | None, bytes | None]],
        reason: str,
        detail: str,
    ) -> None:
        for tp, offset, key, value in items:
            await self._dead_letters.event(
                value=value,
                key=key,
                reason=reason,
                detail=detail,
                source={"topic": tp.topic, "partition": tp.partition, "offset": offset},
            )
            self._offsets.finished(tp, offset)
        EVENTS.labels("rejected").inc(len(items))
        log.warning("event_rejected", reason=reason, events=len(items), detail=detail[:300])

    # ---- flow control and commits ---------------------------------------------------------

    def _apply_backpressure(self) -> None:
        full = self._at_capacity() or self._offsets.unfinished() >= self._config.max_queued_events
        assignment = list(self._consumer.assignment())
        if full and not self._paused:
            self._consumer.pause(*assignment)
            self._paused = True
            PAUSED_PARTITIONS.set(len(assignment))
        elif not full and self._paused:
            self._consumer.resume(*assignment)
            self._paused = False
            PAUSED_PARTITIONS.set(0)

    async def _commit(self) -> None:
        self._last_commit = self._clock()
        positions = self._offsets.to_commit()
        if not positions:
            return
        await self._consumer.commit(
            {tp: OffsetAndMetadata(offset, "") for tp, offset in positions.items()}
        )
        self._offsets.committed(positions)

    async def _drain(self, partitions: Iterable[TopicPartition] | None) -> None:
        """Wait up to ``drain_timeout_s`` for the files touching ``partitions`` (all if None),
        then cancel what is left of them."""
        wanted = None if partitions is None else set(partitions)

        def concerned() -> list[asyncio.Task[None]]:
            return [
                run.task
                for run in self._files.values()
                if run.task is not None and (wanted is None or run.partitions & wanted)
            ]

        tasks = concerned()
        if tasks:
            await asyncio.wait(tasks, timeout=self._config.drain_timeout_s)
        leftover = [task for task in concerned() if not task.done()]
        for task in leftover:
            task.cancel()
        if leftover:
            await asyncio.wait(leftover)
            log.warning("drain_timed_out", files=len(leftover))
        if wanted is not None:
            self._restart_kept(wanted)
        if self._on_stop is not None and partitions is None:
            await self._on_stop()

    def _restart_kept(self, revoked: set[TopicPartition]) -> None:
        """After a revoke: forget the revoked partitions' events, go on with the others."""
        for key, run in list(self._files.items()):
            run.waiting = [item for item in run.waiting if item.tp not in revoked]
            run.partitions -= revoked
            if run.task is None and run.waiting:
                run.task = asyncio.create_task(self._drive(key, run), name=f"file-{key}")
            elif run.task is None:
                del self._files[key]

    # ---- rebalance listener ---------------------------------------------------------------

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        if not revoked:
            return
        await self._drain(revoked)
        await self._commit()
        for tp in revoked:
            self._offsets.forget(tp)
        self._paused = False
        log.info("partitions_revoked", partitions=len(revoked))

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        if self._paused and assigned:
            self._consumer.pause(*assigned)
        log.info("partitions_assigned", partitions=len(assigned))
