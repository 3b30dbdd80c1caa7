"""``aurora-logs replay --from-s3``: ingest log files again from the raw archive.

For each archived generation of ``--instance`` (``raw/<instance>/<identity>/<start>.gz``, see
:mod:`processor.archive`), the segments are joined back into the file's bytes from offset 0
and go through the processor's own stages: the parser of the file's log type, the record
context and id (:func:`processor.work.submit_records`), the batcher, the shipper and the sink
the settings name, with refused records dead-lettered as the service does. The bytes and the
offsets are the original ones, so every record gets the ``record_id`` it got the first time:
records already in OpenObserve come again as duplicates of the same id.

Selection: ``--file`` (glob, or regex after ``re:``, on the generation's birth name, e.g.
``slowquery/*``); ``--since``/``--until`` keep the records whose ``_timestamp`` falls in
``[since, until)``, and generations whose archive was last written before ``--since`` are not
read at all. The cluster, engine and current name come from the tracking item; once DynamoDB's
TTL has removed it, ``--cluster`` and ``--engine`` must be given. No checkpoint is read or
written. ``--dry-run`` parses and counts without shipping.

Exit status: 0 done, 1 nothing matched, a gap in the archive, AWS, Kafka or sink trouble,
2 bad settings or arguments.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from dataclasses import dataclass, field
from typing import TextIO, cast

from common.cli import point_in_time_ms
from common.clients.aws import AwsClients
from common.clients.kafka import make_producer
from common.command import run_command
from common.errors import ConfigurationError
from common.events import Engine, LogFileEvent, LogKind
from common.lognames import parse_log_name
from common.tracking import TrackingTable
from discovery.config import matches_pattern
from discovery.identity import birth_name
from processor.archive import ArchivedSegment, RawArchive, restore
from processor.batching import Batcher
from processor.config import ProcessorSettings
from processor.deadletter import DeadLetters
from processor.delivery import Ticket
from processor.parsing import ParserCheckpoint, make_parser
from processor.parsing.records import Record
from processor.pipeline import delivery
from processor.records import FileContext
from processor.work import log_type_of, submit_records

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--from-s3",
        action="store_true",
        required=True,
        help="read the raw archive (AURORA_S3__BUCKET, AURORA_S3__RAW_PREFIX); the only source",
    )
    parser.add_argument("--instance", required=True, help="the DB instance identifier")
    parser.add_argument(
        "--file",
        action="append",
        metavar="PATTERN",
        help="only generations born under a name matching this glob (re: for a regex); repeat",
    )
    parser.add_argument(
        "--since", type=point_in_time_ms, help="records at or after this (ISO 8601 or 2h, 7d)"
    )
    parser.add_argument(
        "--until", type=point_in_time_ms, help="records before this (ISO 8601 or 2h, 7d)"
    )
    parser.add_argument("--cluster", help="cluster id, when the tracking item has expired")
    parser.add_argument(
        "--engine",
        choices=("aurora-mysql", "aurora-postgresql"),
        help="engine, when the tracking item has expired",
    )
    parser.add_argument("--dry-run", action="store_true", help="parse and count; ship nothing")


@dataclass
class _Counts:
    """Records per stream: parsed (and inside the window), delivered, dead-lettered."""

    parsed: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, Ticket] = field(default_factory=dict)

    def ticket(self, stream: str) -> Ticket:
        if stream not in self.tickets:
            self.tickets[stream] = Ticket(stream)
        return self.tickets[stream]


class _Replay:
    def __init__(
        self,
        settings: ProcessorSettings,
        args: argparse.Namespace,
        *,
        archive: RawArchive,
        tracking: TrackingTable,
        batcher: Batcher | None,
        out: TextIO,
    ) -> None:
        self._settings = settings
        self._args = args
        self._archive = archive
        self._tracking = tracking
        self._batcher = batcher
        self._out = out
        self.counts = _Counts()

    def _selected(self, identity: str, segments: list[ArchivedSegment]) -> bool:
        patterns: list[str] = self._args.file or []
        name = birth_name(identity)
        if patterns and not any(matches_pattern(p, name) for p in patterns):
            return False
        newest = max(segment.written_ms for segment in segments)
        return self._args.since is None or newest >= self._args.since

    async def run(self) -> int:
        instance_id: str = self._args.instance
        generations = await self._archive.generations(instance_id)
        chosen = sorted(i for i, segs in generations.items() if self._selected(i, segs))
        if not chosen:
            print(f"replay: nothing archived for {instance_id} matches", file=self._out)
            return 1
        for identity in chosen:
            await self._generation(instance_id, identity, generations[identity])
        return 0

    async def _event(
        self, instance_id: str, identity: str, segments: list[ArchivedSegment]
    ) -> LogFileEvent:
        """The generation described as an event, for the processor's own context helpers."""
        birth = birth_name(identity)
        tracked = await self._tracking.get(instance_id, identity)
        newest = max(segment.written_ms for segment in segments)
        if tracked is not None:
            seen = tracked.observation
            cluster, engine = seen.cluster_id, seen.engine
            version, log_file, kind = seen.engine_version, seen.log_file, seen.log_kind
            written = seen.seen_last_written_ms or newest
        else:
            if not (self._args.cluster and self._args.engine):
                raise ConfigurationError(
                    f"{instance_id}/{identity} is no longer tracked: "
                    "give --cluster and --engine to replay it"
                )
            parsed = parse_log_name(birth)
            cluster, engine, version, log_file = self._args.cluster, self._args.engine, "", birth
            kind = parsed.kind if parsed is not None else "error"
            written = newest
        return LogFileEvent(
            cluster_id=cluster,
            instance_id=instance_id,
            engine=cast(Engine, engine),
            engine_version=version,
            log_file=log_file,
            log_kind=cast(LogKind, kind),
            file_identity=identity,
            size_bytes=0,
            last_written_ms=written,
            observed_at_ms=newest,
        )

    async def _generation(
        self, instance_id: str, identity: str, segments: list[ArchivedSegment]
    ) -> None:
        event = await self._event(instance_id, identity, segments)
        parser = make_parser(
            log_type_of(event, event.log_file),
            self._settings.parsing,
            checkpoint=ParserCheckpoint(offset=0),
            fallback_timestamp_us=event.last_written_ms * 1000,
        )
        context = FileContext.of(event)
        read = records = 0
        # The archive ends at a checkpoint, where the parser had returned every entry before
        # it: flushing at the end gives back the last of them, nothing more.
        async for data in restore(self._archive, instance_id, identity):
            read += len(data)
            records += await self._ship(parser.feed(data), context)
        records += await self._ship(parser.flush(), context)
        print(f"  {identity}  {read} bytes, {records} records  ({event.log_file})", file=self._out)

    async def _ship(self, records: list[Record], context: FileContext) -> int:
        since, until = self._args.since, self._args.until
        if since is not None or until is not None:
            low = (since or 0) * 1000
            high = until * 1000 if until is not None else None
            records = [
                r
                for r in records
                if int(r["_timestamp"]) >= low and (high is None or int(r["_timestamp"]) < high)
            ]
        if not records:
            return 0
        streams = self._settings.processor.streams
        for record in records:
            stream = streams.for_log_type(str(record["log_type"]))
            self.counts.parsed[stream] = self.counts.parsed.get(stream, 0) + 1
        if self._batcher is not None:  # else a dry run: counted, never shipped
            await submit_records(self._batcher, streams, records, context, self.counts.ticket)
        return len(records)

    def report(self) -> None:
        shipped = self._batcher is not None
        for stream in sorted(self.counts.parsed):
            line = f"  {stream}: {self.counts.parsed[stream]} records"
            ticket = self.counts.tickets.get(stream)
            if shipped and ticket is not None:
                line += f" ({ticket.delivered} delivered, {ticket.rejected} dead-lettered)"
            print(line, file=self._out)
        total = sum(self.counts.parsed.values())
        verb = "would ship" if not shipped else "shipped"
        print(f"replay {self._args.instance}: {verb} {total} records", file=self._out)


async def _replay(settings: ProcessorSettings, args: argparse.Namespace) -> int:
    aws = AwsClients(settings.aws)
    async with contextlib.AsyncExitStack() as stack:
        s3 = await stack.enter_async_context(aws.s3())
        dynamodb = await stack.enter_async_context(aws.dynamodb())
        archive = RawArchive(s3, bucket=settings.s3.bucket, prefix=settings.s3.raw_prefix)
        tracking = TrackingTable(
            dynamodb, settings.dynamodb.table, item_ttl_s=settings.dynamodb.item_ttl_s
        )
        batcher = None
        if not args.dry_run:
            producer = make_producer(settings.kafka)
            await producer.start()
            stack.push_async_callback(producer.stop)
            dead_letters = DeadLetters(producer, settings.kafka.dead_letter_topic)
            _shipper, batcher = await delivery(settings, dead_letters, stack)
        replay = _Replay(
            settings, args, archive=archive, tracking=tracking, batcher=batcher, out=sys.stdout
        )
        try:
            status = await replay.run()
        finally:
            if batcher is not None:
                await batcher.drain()
        replay.report()
        return status


def run(args: argparse.Namespace) -> int:
    if args.since is not None and args.until is not None and args.since >= args.until:
        print("aurora-logs replay: --since must be before --until", file=sys.stderr)
        return 2
    return run_command("replay", ProcessorSettings, lambda settings: _replay(settings, args))
