"""``aurora-logs dlq inspect|retry``: read and re-drive the dead-letter topic.

Both read the topic (``AURORA_KAFKA__DEAD_LETTER_TOPIC``) up to its end *as it was when the
command started*, so entries written meanwhile (a record refused again by ``retry``) wait for
the next run. Entries are described in :mod:`processor.deadletter`.

``inspect`` reads from the beginning with no consumer group: it commits nothing and changes
nothing. It prints one line per entry (time dead-lettered, kind, reason, instance/file of an
event or stream/record_id of a record, partition@offset, detail), at most ``--limit``, then a
count by kind and reason of every entry that passes ``--kind``/``--reason``. ``--json`` prints
the entries as NDJSON on stdout and the counts on stderr.

``retry`` consumes in the committed group ``--group`` (default ``aurora-logs-dlq-retry``),
from where its last run stopped:

- an ``event`` entry whose payload is still a valid event is published again to the main topic
  under its original key; the processor then handles it like any event (level-triggered:
  harmless if the file was read since). A payload that is not a valid event is skipped: it
  would only be refused again.
- a ``record`` entry is posted again to its stream through the processor's shipper, under its
  record_id; refused again, it is dead-lettered again (a new entry, with the new reason).
- entries outside ``--kind``/``--reason`` are skipped.

Offsets are committed once the entries read in one fetch are confirmed by Kafka or settled by
the sink, so an entry is retried once per group: skipped entries too are passed over for good
in that group (``--dry-run`` shows what a run would do; a new ``--group`` starts from the
beginning again). Run one ``retry`` at a time per group. Exit status: 0 done, 1 a re-publish
was not confirmed or Kafka trouble (nothing after it committed), 2 bad settings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections import Counter
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from common.clients.kafka import connection_options, make_admin, make_consumer, make_producer
from common.command import run_command
from common.errors import MalformedEventError
from common.events import decode_event, event_key
from common.settings import KafkaSettings
from discovery.identity import birth_name
from discovery.publisher import KafkaEventPublisher, Outgoing
from processor.batching import Batcher
from processor.config import ProcessorSettings
from processor.deadletter import DeadLetters
from processor.delivery import Document, Ticket
from processor.pipeline import delivery

__all__ = ["add_arguments", "run"]

DEFAULT_RETRY_GROUP = "aurora-logs-dlq-retry"
_FETCH_RECORDS = 500


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=("event", "record"), help="only entries of this kind")
    parser.add_argument(
        "--reason", action="append", help="only entries with this reason (repeat for several)"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    inspect = actions.add_parser("inspect", help="list dead letters and count them; commit nothing")
    _add_filters(inspect)
    inspect.add_argument(
        "--limit", type=_positive, default=100, help="entries printed at most (default 100)"
    )
    inspect.add_argument("--json", action="store_true", help="entries as NDJSON")
    retry = actions.add_parser("retry", help="re-publish events, re-post records; committed")
    _add_filters(retry)
    retry.add_argument(
        "--group",
        default=DEFAULT_RETRY_GROUP,
        help=f"consumer group (default {DEFAULT_RETRY_GROUP})",
    )
    retry.add_argument(
        "--dry-run", action="store_true", help="say what would be done; commit nothing"
    )


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


@dataclass(frozen=True)
class DeadLetter:
    """One entry of the dead-letter topic, as read."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    kind: str
    reason: str
    detail: str
    source: dict[str, Any]
    payload: Any

    @classmethod
    def of(cls, message: ConsumerRecord[bytes, bytes]) -> DeadLetter:
        try:
            data = json.loads(message.value or b"")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            data = {"kind": "unreadable", "reason": "unreadable", "payload": message.value}
        source = data.get("source")
        return cls(
            partition=message.partition,
            offset=message.offset,
            timestamp_ms=message.timestamp,
            key=message.key,
            kind=str(data.get("kind", "unreadable")),
            reason=str(data.get("reason", "")),
            detail=str(data.get("detail", "")),
            source=source if isinstance(source, dict) else {},
            payload=data.get("payload"),
        )

    def where(self) -> str:
        """instance/file of an event, stream/record_id of a record, as far as it is known."""
        if self.kind == "record":
            return f"{self.source.get('stream', '-')}/{self.source.get('record_id', '-')}"
        try:
            event = json.loads(self.payload) if isinstance(self.payload, str) else None
        except ValueError:
            event = None
        if isinstance(event, dict) and "instance_id" in event:
            return f"{event['instance_id']}/{event.get('log_file', '-')}"
        return "-"

    def line(self) -> str:
        at = datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)
        detail = " ".join(self.detail.split())[:120]
        return (
            f"{at:%Y-%m-%dT%H:%M:%SZ}  {self.kind:<6}  {self.reason:<24}  {self.where()}  "
            f"p{self.partition}@{self.offset}  {detail}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "offset": self.offset,
            "timestamp_ms": self.timestamp_ms,
            "kind": self.kind,
            "reason": self.reason,
            "detail": self.detail,
            "source": self.source,
            "payload": self.payload if not isinstance(self.payload, bytes) else None,
        }


def _matches(letter: DeadLetter, args: argparse.Namespace) -> bool:
    if args.kind is not None and letter.kind != args.kind:
        return False
    return not args.reason or letter.reason in args.reason


async def _partitions(kafka: KafkaSettings, topic: str) -> list[int]:
    """The partitions of ``topic``; none when it does not exist (it is not created here)."""
    admin = make_admin(kafka)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            return []
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return sorted(
        int(partition["partition"])
        for entry in described
        if entry.get("topic") == topic
        for partition in entry.get("partitions", [])
    )


async def _batches(
    consumer: AIOKafkaConsumer, kafka: KafkaSettings
) -> AsyncGenerator[list[ConsumerRecord[bytes, bytes]], None]:
    """Assign every partition of the dead-letter topic and yield fetched messages until each
    partition's position reaches the end offset it had when this started. Nothing when the
    topic does not exist."""
    topic = kafka.dead_letter_topic
    tps = [TopicPartition(topic, p) for p in await _partitions(kafka, topic)]
    if not tps:
        return
    consumer.assign(tps)
    ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    while True:
        open_tps = [tp for tp in tps if await consumer.position(tp) < ends[tp]]
        if not open_tps:
            return
        fetched = await consumer.getmany(*open_tps, timeout_ms=1000, max_records=_FETCH_RECORDS)
        batch = [m for tp, ms in fetched.items() for m in ms if m.offset < ends[tp]]
        if batch:
            yield batch
        # Messages past a snapshot's end were fetched too: go back to the end, or the next
        # run of the group would never see them.
        for tp, messages in fetched.items():
            if messages and messages[-1].offset >= ends[tp]:
                consumer.seek(tp, ends[tp])


async def _inspect(kafka: KafkaSettings, args: argparse.Namespace, out: TextIO) -> int:
    consumer = AIOKafkaConsumer(
        **connection_options(kafka),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    counts: Counter[tuple[str, str]] = Counter()
    shown = 0
    try:
        async for batch in _batches(consumer, kafka):
            for message in batch:
                letter = DeadLetter.of(message)
                if not _matches(letter, args):
                    continue
                counts[(letter.kind, letter.reason)] += 1
                if shown < args.limit:
                    shown += 1
                    text = json.dumps(letter.to_json()) if args.json else letter.line()
                    print(text, file=out)
    finally:
        await consumer.stop()
    summary = sys.stderr if args.json else out
    total = sum(counts.values())
    print(f"{kafka.dead_letter_topic}: {total} dead letters ({shown} shown)", file=summary)
    for (kind, reason), count in sorted(counts.items()):
        print(f"  {kind:<6}  {reason:<24}  {count}", file=summary)
    return 0


@dataclass
class _Tally:
    events: int = 0
    records: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def skip(self, why: str) -> None:
        self.skipped[why] += 1


class _Retry:
    def __init__(
        self,
        settings: ProcessorSettings,
        args: argparse.Namespace,
        *,
        publisher: KafkaEventPublisher | None,
        batcher: Batcher | None,
        out: TextIO,
    ) -> None:
        self._settings = settings
        self._args = args
        self._publisher = publisher
        self._batcher = batcher
        self._out = out
        self.tally = _Tally()
        self.tickets: dict[str, Ticket] = {}

    async def batch(self, messages: Sequence[ConsumerRecord[bytes, bytes]]) -> bool:
        """Re-drive one fetch; True once every re-drive is confirmed or settled."""
        outgoing: list[Outgoing] = []
        for message in messages:
            letter = DeadLetter.of(message)
            if not _matches(letter, self._args):
                self.tally.skip("filtered")
            elif letter.kind == "event":
                item = self._event(letter)
                if item is not None:
                    outgoing.append(item)
                    self._said("event", letter)
            elif letter.kind == "record":
                await self._record(letter)
                self._said("record", letter)
            else:
                self.tally.skip("unreadable")
        confirmed = True
        if outgoing and self._publisher is not None:
            answers = await self._publisher.publish(outgoing)
            confirmed = all(answers)
            self.tally.events += sum(answers)
        elif outgoing:
            self.tally.events += len(outgoing)
        if self._batcher is not None:
            await self._batcher.drain()
        return confirmed

    def _said(self, kind: str, letter: DeadLetter) -> None:
        verb = "would retry" if self._args.dry_run else "retried"
        print(f"  {verb} {kind:<6}  {letter.reason:<24}  {letter.where()}", file=self._out)

    def _event(self, letter: DeadLetter) -> Outgoing | None:
        raw = letter.payload.encode() if isinstance(letter.payload, str) else None
        try:
            event = decode_event(raw)
        except MalformedEventError as exc:
            self.tally.skip(f"not_an_event:{exc.reason}")
            return None
        key = letter.key or event_key(event.instance_id, birth_name(event.file_identity))
        return Outgoing(key, event)

    async def _record(self, letter: DeadLetter) -> None:
        stream = str(letter.source.get("stream", ""))
        rid = str(letter.source.get("record_id", ""))
        if not stream or not rid:
            self.tally.skip("record_without_stream")
            return
        self.tally.records += 1
        if self._batcher is None:
            return
        payload = letter.payload
        body = payload.encode() if isinstance(payload, str) else orjson.dumps(payload)
        ticket = self.tickets.setdefault(stream, Ticket(stream))
        ticket.add()
        await self._batcher.submit(Document(stream, rid, body, ticket))

    def report(self, group: str) -> None:
        tally = self.tally
        delivered = sum(t.delivered for t in self.tickets.values())
        rejected = sum(t.rejected for t in self.tickets.values())
        verb = "would re-drive" if self._args.dry_run else "re-drove"
        records = f"{tally.records} records"
        if not self._args.dry_run:
            records += f" ({delivered} delivered, {rejected} dead-lettered again)"
        print(
            f"dlq retry (group {group}): {verb} {tally.events} events to "
            f"{self._settings.kafka.topic} and {records}",
            file=self._out,
        )
        print(f"  skipped: {sum(tally.skipped.values())}", file=self._out)
        for why, count in sorted(tally.skipped.items()):
            print(f"    {why}: {count}", file=self._out)


async def _retry(settings: ProcessorSettings, args: argparse.Namespace, out: TextIO) -> int:
    kafka = settings.kafka
    async with contextlib.AsyncExitStack() as stack:
        publisher = batcher = None
        if not args.dry_run:
            producer = make_producer(kafka)
            await producer.start()
            stack.push_async_callback(producer.stop)
            publisher = KafkaEventPublisher(
                producer, kafka.topic, timeout_s=kafka.request_timeout_s
            )
            dead_letters = DeadLetters(producer, kafka.dead_letter_topic)
            _shipper, batcher = await delivery(settings, dead_letters, stack)
            stack.push_async_callback(batcher.cancel)
        consumer = make_consumer(kafka, group_id=args.group)
        await consumer.start()
        stack.push_async_callback(consumer.stop)
        retry = _Retry(settings, args, publisher=publisher, batcher=batcher, out=out)
        status = 0
        async with contextlib.aclosing(_batches(consumer, kafka)) as batches:
            async for batch in batches:
                if not await retry.batch(batch):
                    print(
                        "aurora-logs dlq retry: Kafka did not confirm a re-published event; "
                        "stopped before committing it",
                        file=sys.stderr,
                    )
                    status = 1
                    break
                if not args.dry_run:
                    await consumer.commit(_next_offsets(batch))
        retry.report(args.group)
        return status


def _next_offsets(batch: Sequence[ConsumerRecord[bytes, bytes]]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for message in batch:
        tp = TopicPartition(message.topic, message.partition)
        offsets[tp] = max(offsets.get(tp, 0), message.offset + 1)
    return offsets


def run(args: argparse.Namespace) -> int:
    async def work(settings: ProcessorSettings) -> int:
        if args.action == "inspect":
            return await _inspect(settings.kafka, args, sys.stdout)
        return await _retry(settings, args, sys.stdout)

    return run_command("dlq", ProcessorSettings, work)
