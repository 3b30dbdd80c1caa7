"""One log-file event's work: read from the durable checkpoint to the end, parse, ship, checkpoint.

    tracking item ─▶ source.read(from checkpoint) ─▶ parser.feed ─▶ batcher ─▶ sink
                                                                       │ tickets settle
    tracking item ◀─ save_checkpoint (in order, per segment) ◀─────────────┘

A file is read in *segments* of about ``checkpoint_every_bytes``. Reading goes on while earlier
segments are still being shipped; each segment's checkpoint is written, in order, only once
every record cut from it is delivered or dead-lettered. The parser's final offset is what is
checkpointed, so an entry held back at a segment's end is read again after a restart; its
carry-over state is checkpointed with it, so a resumed parser produces the same records.

Memory is bounded by :class:`InflightBytes`: a segment's bytes are counted from download until
its checkpoint is written, and downloads wait when the budget is spent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from common.errors import ConflictError, NotFoundError, RejectedError, is_retriable
from common.events import LogFileEvent
from common.lognames import parse_log_name, reused
from common.logs import get_logger
from common.tracking import Checkpoint, TrackedFile, TrackingTable
from processor.archive import RawArchive
from processor.batching import Batcher
from processor.config import StreamNames
from processor.delivery import Document, Ticket
from processor.metrics import (
    BYTES_READ,
    CHECKPOINT_CONFLICTS,
    CHECKPOINT_RESETS,
    FILE_LAG_BYTES,
    FILE_LAG_SECONDS,
    INFLIGHT_BYTES,
    READS_CUT_SHORT,
    RECORDS,
)
from processor.parsing import LogType, ParserCheckpoint, ParsingSettings, detect_type, make_parser
from processor.parsing.records import Parser, Record
from processor.records import FileContext
from processor.sources import (
    MAX_ANCHOR_BYTES,
    Anchor,
    ContentChangedError,
    FileRef,
    Position,
    Source,
    anchor_of,
    read_ahead,
)

__all__ = ["FileWork", "InflightBytes", "log_type_of", "submit_records"]

log = get_logger(__name__)

# Bytes parsed between two turns of the event loop (see FileWork._parse).
FEED_SLICE_BYTES = 64 * 1024

_KIND_TYPES = {
    "slowquery": LogType.MYSQL_SLOW,
    "error": LogType.MYSQL_ERROR,
    "general": LogType.MYSQL_GENERAL,
    "audit": LogType.MYSQL_AUDIT,
    "postgresql": LogType.POSTGRESQL,
}


def log_type_of(event: LogFileEvent, log_file: str) -> LogType:
    """The grammar of a file: from its Aurora name, else from the event's log kind."""
    detected = detect_type(log_file)
    if detected is not None:
        return detected
    if event.engine == "aurora-postgresql":
        return LogType.POSTGRESQL_CSV if log_file.endswith(".csv") else LogType.POSTGRESQL
    return _KIND_TYPES[event.log_kind]


class InflightBytes:
    """A byte semaphore: log bytes between download and their checkpoint."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._changed = asyncio.Condition()

    async def acquire(self, count: int) -> int:
        """Wait until ``count`` bytes fit (a single chunk larger than the limit waits for an
        empty budget); returns the bytes taken."""
        count = min(count, self.limit)
        async with self._changed:
            await self._changed.wait_for(lambda: self.used + count <= self.limit)
            self.used += count
        INFLIGHT_BYTES.set(self.used)
        return count

    async def release(self, count: int) -> None:
        async with self._changed:
            self.used -= count
            self._changed.notify_all()
        INFLIGHT_BYTES.set(self.used)

    @property
    def full(self) -> bool:
        return self.used >= self.limit


class Superseded(Exception):
    """Another processor moved this file's checkpoint: it owns the file now."""


class _NameMovedOn(Exception):
    """A reused name no longer holds the generation discovery saw there."""


class _StaleCheckpoint(Exception):
    """A final file's bytes disagree with its checkpoint's anchor from the very start."""


@dataclass
class _Segment:
    ticket: Ticket
    parser_checkpoint: ParserCheckpoint
    held_bytes: int
    position: Position | None
    anchor: Anchor | None
    # The segment's bytes being stored in the raw archive: done before its checkpoint.
    archived: asyncio.Task[None] | None = None


def _drop(task: asyncio.Task[None] | None) -> None:
    """Cancel an archive upload nobody will wait for, or collect its outcome if it is over."""
    if task is None:
        return
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


class _Checkpointer:
    """Writes the segments' checkpoints in order as their tickets settle (one task per file)."""

    def __init__(self, tracking: TrackingTable, tracked: TrackedFile, inflight: InflightBytes):
        self._tracking = tracking
        self._file = tracked
        self._inflight = inflight
        self.saved = tracked.checkpoint
        self._queue: asyncio.Queue[_Segment | None] = asyncio.Queue()
        self.failure: BaseException | None = None
        self._task = asyncio.create_task(self._run(), name=f"checkpoint-{tracked.identity}")

    def add(self, segment: _Segment) -> None:
        self._queue.put_nowait(segment)

    async def _run(self) -> None:
        while (segment := await self._queue.get()) is not None:
            try:
                if self.failure is None:
                    await segment.ticket.wait()
                    if segment.archived is not None:
                        await segment.archived
                    await self._save(segment)
            except Exception as exc:  # reported to the reader through self.failure
                self.failure = exc
            finally:
                _drop(segment.archived)
                await self._inflight.release(segment.held_bytes)

    async def _save(self, segment: _Segment) -> None:
        cp = segment.parser_checkpoint
        saved = self.saved
        marker, marker_offset = saved.marker, saved.marker_offset
        anchor = (saved.anchor_end, saved.anchor_length, saved.anchor_digest)
        position = segment.position
        if position is not None and position.marker is not None:
            marker, marker_offset = position.marker, position.marker_offset
        if segment.anchor is not None:
            anchor = (segment.anchor.end, segment.anchor.length, segment.anchor.digest)
        new = Checkpoint(
            offset=cp.offset,
            marker=marker,
            marker_offset=marker_offset,
            anchor_end=anchor[0],
            anchor_length=anchor[1],
            anchor_digest=anchor[2],
            parser_state=cp.to_json(),
        )
        try:
            self.saved = await self._tracking.save_checkpoint(
                self._file.instance_id, self._file.identity, self.saved, new
            )
        except ConflictError as exc:
            CHECKPOINT_CONFLICTS.inc()
            raise Superseded(str(exc)) from exc

    async def finish(self) -> Checkpoint:
        """Wait for every queued segment; re-raise the first failure."""
        self._queue.put_nowait(None)
        await self._task
        if self.failure is not None:
            raise self.failure
        return self.saved

    async def abandon(self) -> None:
        self._task.cancel()
        # wait() rather than await: our own cancellation must not be mistaken for the task's.
        await asyncio.wait([self._task])
        while not self._queue.empty():
            segment = self._queue.get_nowait()
            if segment is not None:
                _drop(segment.archived)
                await self._inflight.release(segment.held_bytes)


class FileWork:
    """Processes log-file events. One instance per replica; :meth:`process` may run
    concurrently for different files (never for the same file: the consumer serialises)."""

    def __init__(
        self,
        *,
        tracking: TrackingTable,
        source: Source,
        batcher: Batcher,
        parsing: ParsingSettings,
        streams: StreamNames,
        inflight: InflightBytes,
        checkpoint_every_bytes: int,
        archive: RawArchive | None = None,
    ) -> None:
        self._tracking = tracking
        self._source = source
        self._batcher = batcher
        self._parsing = parsing
        self._streams = streams
        self._inflight = inflight
        self._segment_bytes = checkpoint_every_bytes
        self._archive = archive

    async def process(self, event: LogFileEvent) -> None:
        """Deliver the file's records from its checkpoint to its current end.

        Returns when everything read is delivered and checkpointed (or when there was nothing
        to do). Raises :class:`~common.errors.RejectedError` for an event that can never be
        processed, :class:`~common.errors.RetriableError` subclasses for transient trouble
        (the consumer retries the event later).
        """
        tracked = await self._tracking.get(event.instance_id, event.file_identity)
        if tracked is None:
            raise RejectedError(
                f"no tracking item for {event.instance_id}/{event.file_identity}",
                reason="untracked_file",
            )
        observation = tracked.observation
        if observation.status in {"deleted", "lost"}:
            return  # nothing left to read; discovery has accounted for any loss
        if event.from_start and tracked.checkpoint.offset > 0:
            rewound = await self._rewind(tracked)
            if rewound is None:
                return
            tracked = rewound
        size_hint = max(event.size_bytes, observation.seen_size)
        if tracked.checkpoint.offset >= size_hint:
            return  # level-triggered: this observation is already satisfied
        FILE_LAG_BYTES.observe(size_hint - tracked.checkpoint.offset)
        log_file = observation.log_file or event.log_file
        ref = FileRef(event.instance_id, log_file, event.file_identity)
        # A reused name read from its start has no anchor to check the content against: once
        # the first page is in hand, and before its records go out, the name must still hold
        # the generation discovery saw; else discovery's next event says where it went.
        # Later pages are checked against the page before them.
        holds = (lambda: self._holds(ref, tracked)) if reused(log_file) else None
        try:
            saved = await self._deliver(event, tracked, ref, size_hint, holds)
        except _NameMovedOn:
            self._deferred(ref)
            return
        except _StaleCheckpoint as stale:
            # The checkpoint was made on other bytes than this file's own (its name was read
            # while it held the next generation). Read the file again from its start: a record
            # sent twice, under the same id, is better than a record never sent.
            if not await self._holds(ref, tracked):
                self._deferred(ref)  # discovery will follow the content to its new name
                return
            CHECKPOINT_RESETS.inc()
            log.warning(
                "checkpoint_reset", instance=ref.instance_id, log_file=log_file, detail=str(stale)
            )
            try:
                fresh = await self._tracking.save_checkpoint(
                    ref.instance_id, ref.identity, tracked.checkpoint, Checkpoint()
                )
                if self._archive is not None:  # its segments hold the other bytes too
                    await self._archive.discard(ref.instance_id, ref.identity)
                saved = await self._deliver(
                    event, replace(tracked, checkpoint=fresh), ref, size_hint, holds
                )
            except ConflictError:
                CHECKPOINT_CONFLICTS.inc()
                return
            except _NameMovedOn:
                self._deferred(ref)
                return
        if saved is None:
            return
        FILE_LAG_SECONDS.observe(max(0.0, time.time() - event.observed_at_ms / 1000))
        log.debug(
            "file_delivered",
            instance=event.instance_id,
            log_file=log_file,
            offset=saved.offset,
            size=size_hint,
        )

    async def _rewind(self, tracked: TrackedFile) -> TrackedFile | None:
        """Move the checkpoint back to byte 0 (an operator's ``backfill --from-start``); None
        when another processor moved it meanwhile (it owns the file now). The raw archive is
        kept: the same bytes read again overwrite its segments with themselves."""
        try:
            fresh = await self._tracking.save_checkpoint(
                tracked.instance_id, tracked.identity, tracked.checkpoint, Checkpoint()
            )
        except ConflictError:
            CHECKPOINT_CONFLICTS.inc()
            return None
        log.info(
            "checkpoint_moved_to_start",
            instance=tracked.instance_id,
            identity=tracked.identity,
            from_offset=tracked.checkpoint.offset,
        )
        return replace(tracked, checkpoint=fresh)

    @staticmethod
    def _deferred(ref: FileRef) -> None:
        READS_CUT_SHORT.labels("name_reused").inc()
        log.info("read_deferred", instance=ref.instance_id, log_file=ref.log_file)

    async def _holds(self, ref: FileRef, tracked: TrackedFile) -> bool:
        """Whether ``ref``'s name still holds the generation discovery observed there."""
        parsed = parse_log_name(ref.log_file)
        family = await self._source.listing(
            ref.instance_id, parsed.family if parsed is not None else ref.log_file
        )
        stat = family.get(ref.log_file)
        if stat is None:
            return False
        seen = tracked.observation
        # Final content keeps its size and LastWritten through renames. A name unchanged since
        # discovery looked holds what it saw (a successor grown to exactly the same size in
        # the same LastWritten period is not worth waiting for).
        unchanged = (stat.size, stat.last_written_ms) == (seen.seen_size, seen.seen_last_written_ms)
        if seen.status == "rotated" or unchanged:
            return unchanged
        if stat.size < seen.seen_size or stat.last_written_ms < seen.seen_last_written_ms:
            return False
        # The next generation starts small under the active name but may outgrow what was
        # seen before this read. The seen generation has then moved to another name of its
        # family, holding at least what was seen, written no earlier. LastWritten is coarse
        # (minutes), so a predecessor that ended in the same period looks the same: wait for
        # discovery's next look (it follows renames) rather than guess.
        return not any(
            other.size >= seen.seen_size and other.last_written_ms >= seen.seen_last_written_ms
            for name, other in family.items()
            if name != ref.log_file
        )

    async def _deliver(
        self,
        event: LogFileEvent,
        tracked: TrackedFile,
        ref: FileRef,
        size_hint: int,
        holds: Callable[[], Awaitable[bool]] | None,
    ) -> Checkpoint | None:
        """Read, parse and ship from the checkpoint; None when the work stopped early for a
        reason that needs nothing more (another processor took the file, the file is gone)."""
        observation = tracked.observation
        log_type = log_type_of(event, ref.log_file)
        parser = make_parser(
            log_type,
            self._parsing,
            checkpoint=_parser_checkpoint(tracked),
            fallback_timestamp_us=max(event.last_written_ms, observation.seen_last_written_ms)
            * 1000,
        )
        context = FileContext.of(event.model_copy(update={"log_file": ref.log_file}))
        saved = tracked.checkpoint
        anchor = (
            Anchor(saved.anchor_end, saved.anchor_length, saved.anchor_digest)
            if saved.anchor_length
            else None
        )
        start = Position(saved.offset, saved.marker, saved.marker_offset, anchor)
        final = observation.status == "rotated"
        checkpointer = _Checkpointer(self._tracking, tracked, self._inflight)
        try:
            verify = holds if start.offset == 0 else None
            return await self._read(
                ref, start, size_hint, final, parser, context, log_type, checkpointer, verify
            )
        except Superseded:
            log.info("file_superseded", instance=ref.instance_id, log_file=ref.log_file)
            return None
        except NotFoundError:
            await checkpointer.abandon()
            log.info("file_vanished", instance=ref.instance_id, log_file=ref.log_file)
            return None
        except BaseException:
            await checkpointer.abandon()
            raise

    async def _read(
        self,
        ref: FileRef,
        start: Position,
        size_hint: int,
        final: bool,
        parser: Parser,
        context: FileContext,
        log_type: LogType,
        checkpointer: _Checkpointer,
        verify_first: Callable[[], Awaitable[bool]] | None,
    ) -> Checkpoint:
        ticket = Ticket(ref.identity)
        held = 0
        read_any = False
        last_position: Position | None = None
        positions: deque[Position] = deque()
        recent = _RecentBytes(keep_from=start.offset if self._archive is not None else None)
        archived_to = start.offset

        def archive(upto: int) -> asyncio.Task[None] | None:
            nonlocal archived_to
            if self._archive is None or upto <= archived_to:
                return None
            data = recent.between(archived_to, upto)
            task = asyncio.create_task(
                self._archive.put(ref.instance_id, ref.identity, ref.log_file, archived_to, data)
            )
            archived_to = upto
            recent.keep_from = upto
            return task

        interrupted: Exception | None = None
        chunks = read_ahead(self._source.read(ref, start, size_hint=size_hint))
        try:
            async with contextlib.aclosing(chunks):
                async for chunk in chunks:
                    if verify_first is not None:
                        if not await verify_first():
                            raise _NameMovedOn(ref.log_file)
                        verify_first = None
                    read_any = True
                    if checkpointer.failure is not None:
                        raise checkpointer.failure
                    held += await self._inflight.acquire(len(chunk.data))
                    BYTES_READ.labels(log_type.record_type).inc(len(chunk.data))
                    recent.add(chunk.offset, chunk.data)
                    await self._parse(chunk.data, parser, context, ticket)
                    positions.append(chunk.end)
                    if held >= self._segment_bytes:
                        cp = parser.checkpoint()
                        last_position = _position_before(positions, cp.offset) or last_position
                        ticket.seal()
                        anchor = recent.anchor_before(cp.offset)
                        checkpointer.add(
                            _Segment(ticket, cp, held, last_position, anchor, archive(cp.offset))
                        )
                        ticket, held = Ticket(ref.identity), 0
        except ContentChangedError as changed:
            if final and not read_any:
                raise _StaleCheckpoint(str(changed)) from changed
            # The name holds other content now (it rotated while we read): what was read is
            # good and is checkpointed; the rest of the content is read under its new name.
            READS_CUT_SHORT.labels("rotated").inc()
            log.info(
                "read_cut_short", instance=ref.instance_id, log_file=ref.log_file, reason="rotated"
            )
            final = False
        except Exception as exc:
            if not read_any or checkpointer.failure is not None or not is_retriable(exc):
                raise
            # Transient trouble in the middle of the file (the RDS budget's store, throttling
            # beyond the retries, the network): what was read is parsed and being shipped, so
            # see it delivered and checkpoint it before the event is retried. Otherwise the
            # retry would start from the last checkpoint and send those records again.
            READS_CUT_SHORT.labels("failed").inc()
            log.info(
                "read_cut_short", instance=ref.instance_id, log_file=ref.log_file, reason="failed"
            )
            interrupted, final = exc, False
        if final:
            await self._submit(parser.flush(), context, ticket)
        cp = parser.checkpoint()
        last_position = _position_before(positions, cp.offset) or last_position
        ticket.seal()
        anchor = recent.anchor_before(cp.offset)
        checkpointer.add(_Segment(ticket, cp, held, last_position, anchor, archive(cp.offset)))
        await self._batcher.flush()
        saved = await checkpointer.finish()
        if interrupted is not None:
            raise interrupted
        return saved

    async def _parse(
        self, data: bytes, parser: Parser, context: FileContext, ticket: Ticket
    ) -> None:
        """Parse a chunk a slice at a time, letting the event loop run between slices.

        Parsing is the longest stretch of CPU the loop sees (a 1 MB page is some 10 ms); done
        in one piece, the download fetched ahead and the batches being shipped would not move
        until it ended, and their round trips would add to it instead of overlapping it."""
        for start in range(0, len(data), FEED_SLICE_BYTES):
            await self._submit(parser.feed(data[start : start + FEED_SLICE_BYTES]), context, ticket)
            await asyncio.sleep(0)

    async def _submit(self, records: list[Record], context: FileContext, ticket: Ticket) -> None:
        await submit_records(self._batcher, self._streams, records, context, lambda _s: ticket)


async def submit_records(
    batcher: Batcher,
    streams: StreamNames,
    records: list[Record],
    context: FileContext,
    ticket_for: Callable[[str], Ticket],
) -> None:
    """Give parsed records their context and id and hand them to the batcher, each with the
    ticket ``ticket_for(stream)`` counts it in. May wait for a shipping slot."""
    if not records:
        return
    targets: dict[str, tuple[str, Ticket]] = {}
    counts: dict[str, int] = {}
    documents = []
    for record in records:
        log_type = record["log_type"]
        target = targets.get(log_type)
        if target is None:
            stream = streams.for_log_type(str(log_type))
            target = targets[log_type] = (stream, ticket_for(stream))
        rid, body = context.finish(record)
        documents.append(Document(target[0], rid, body, target[1]))
        counts[log_type] = counts.get(log_type, 0) + 1
    for log_type, count in counts.items():
        targets[log_type][1].add(count)  # before the batcher can settle any of them
    await batcher.submit_all(documents)
    RECORDS.labels(str(records[0]["log_type"]), "parsed").inc(len(records))


class _RecentBytes:
    """The bytes read lately, kept so that a checkpoint's anchor describes the very bytes
    before its offset. The parser's offset can lie before every chunk end (it holds back an
    entry that may go on), so an anchor taken at a chunk end would leave a checkpoint without
    one, and a resumed read could not tell a renamed file's successor from the file itself."""

    def __init__(self, *, keep_from: int | None = None) -> None:
        self._chunks: deque[tuple[int, bytes]] = deque()
        # With the raw archive: the first byte not archived yet, kept whatever the anchor needs.
        self.keep_from = keep_from

    def add(self, offset: int, data: bytes) -> None:
        self._chunks.append((offset, data))

    def anchor_before(self, offset: int) -> Anchor | None:
        """The anchor ending at ``offset``, or None if no byte before it was read here.
        Chunks wholly before the anchor's reach are dropped (later offsets only grow)."""
        reach = offset - MAX_ANCHOR_BYTES
        keep = reach if self.keep_from is None else min(reach, self.keep_from)
        while self._chunks and self._chunks[0][0] + len(self._chunks[0][1]) <= keep:
            self._chunks.popleft()
        data = self.between(reach, offset)
        return anchor_of(data, offset) if data else None

    def between(self, begin: int, end: int) -> bytes:
        """The bytes read in ``[begin, end)`` (those still kept)."""
        parts = []
        for start, data in self._chunks:
            if start >= end:
                break
            if start + len(data) > begin:
                parts.append(data[max(0, begin - start) : end - start])
        return b"".join(parts)


def _position_before(positions: deque[Position], offset: int) -> Position | None:
    """The latest chunk end at or before ``offset`` (its marker and anchor, if any); drops
    older ones."""
    best = None
    while positions and positions[0].marker_offset <= offset:
        best = positions.popleft()
    return best


def _parser_checkpoint(tracked: TrackedFile) -> ParserCheckpoint:
    state = tracked.checkpoint.parser_state
    if state:
        try:
            restored = ParserCheckpoint.from_json(state)
        except ValueError:
            log.warning("parser_state_discarded", instance=tracked.instance_id)
        else:
            if restored.offset == tracked.checkpoint.offset:
                return restored
    return ParserCheckpoint(offset=tracked.checkpoint.offset)
