"""Where the pipeline stands: per file and instance from the tracking table, per partition from
Kafka. One reader for every operator's view (``aurora-logs status``, ``make run``'s display).

For each tracked file generation: the size discovery saw, how far it published events, how far
the processor durably delivered (the checkpoint offset), and the lag in between. For the event
topic: each partition's end offset against the processor group's committed offset.

Lag in seconds is how long a file's unread bytes have been waiting for the processor: the time
since its checkpoint last moved (since discovery first saw the file, if it never moved), and 0
when nothing is unread. It grows steadily while the processor is stalled or behind, and drops
to 0 when it catches up.

:class:`StatusReader` holds one DynamoDB client and two Kafka clients for its life, so a
display refreshing every second reuses connections. Every method may block on the network and
raises :mod:`common.errors` types (``NotFoundError`` for a missing table) or aiokafka's errors.
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiokafka import AIOKafkaConsumer, TopicPartition

from common.clients.aws import AwsClients
from common.clients.kafka import connection_options, make_admin
from common.settings import CommonSettings
from common.tracking import TrackedFile, TrackingTable

__all__ = [
    "FileProgress",
    "InstanceProgress",
    "PartitionLag",
    "StatusReader",
    "by_instance",
    "file_progress",
]


@dataclass(frozen=True)
class FileProgress:
    """One tracked file generation, as an operator wants to see it."""

    instance_id: str
    cluster_id: str
    engine: str
    log_file: str
    log_kind: str
    status: str
    seen_bytes: int
    # Bytes covered by published events; -1 while no event was confirmed.
    published_bytes: int
    ingested_bytes: int
    lag_bytes: int
    lag_s: float
    lost_bytes: int
    last_seen_ms: int


@dataclass(frozen=True)
class InstanceProgress:
    """The files of one instance, summed (deleted files count only for what was lost)."""

    instance_id: str
    cluster_id: str
    engine: str
    files: int
    seen_bytes: int
    ingested_bytes: int
    lag_bytes: int
    lag_s: float
    lost_bytes: int


@dataclass(frozen=True)
class PartitionLag:
    """One partition of the event topic: end offset vs the consumer group's committed one."""

    topic: str
    partition: int
    end_offset: int
    # None while the group has committed nothing for the partition.
    committed_offset: int | None

    @property
    def lag(self) -> int:
        """Events not yet committed by the group (all of them when it never committed)."""
        return max(0, self.end_offset - (self.committed_offset or 0))


def file_progress(file: TrackedFile, now_ms: int) -> FileProgress:
    """The operator's view of one tracking item at wall-clock time ``now_ms``."""
    observation, checkpoint = file.observation, file.checkpoint
    lag_bytes = file.unread_bytes
    lag_s = 0.0
    if lag_bytes > 0:
        since = checkpoint.updated_at_ms or observation.first_seen_ms
        lag_s = max(0.0, (now_ms - since) / 1000) if since else 0.0
    return FileProgress(
        instance_id=file.instance_id,
        cluster_id=observation.cluster_id,
        engine=observation.engine,
        log_file=observation.log_file,
        log_kind=observation.log_kind,
        status=observation.status,
        seen_bytes=observation.seen_size,
        published_bytes=observation.published_size,
        ingested_bytes=checkpoint.offset,
        lag_bytes=lag_bytes,
        lag_s=lag_s,
        lost_bytes=observation.lost_bytes,
        last_seen_ms=observation.last_seen_ms,
    )


def by_instance(files: Iterable[FileProgress]) -> list[InstanceProgress]:
    """Per-instance sums of ``files``, sorted by instance id."""
    grouped: dict[str, list[FileProgress]] = defaultdict(list)
    for file in files:
        grouped[file.instance_id].append(file)
    summaries = []
    for instance_id, members in sorted(grouped.items()):
        live = [file for file in members if file.status != "deleted"]
        summaries.append(
            InstanceProgress(
                instance_id=instance_id,
                cluster_id=members[0].cluster_id,
                engine=members[0].engine,
                files=len(live),
                seen_bytes=sum(file.seen_bytes for file in live),
                ingested_bytes=sum(file.ingested_bytes for file in live),
                lag_bytes=sum(file.lag_bytes for file in live),
                lag_s=max((file.lag_s for file in live), default=0.0),
                lost_bytes=sum(file.lost_bytes for file in members),
            )
        )
    return summaries


class StatusReader:
    """Reads the tracking table and the event topic's group offsets; ``async with`` it."""

    def __init__(self, settings: CommonSettings, *, aws: AwsClients | None = None) -> None:
        self.settings = settings
        self._aws = aws or AwsClients(settings.aws)
        self._stack = contextlib.AsyncExitStack()
        self._table: TrackingTable | None = None
        self._admin: Any = None
        self._consumer: AIOKafkaConsumer | None = None

    async def __aenter__(self) -> Self:
        try:
            dynamodb = await self._stack.enter_async_context(self._aws.dynamodb())
            self._table = TrackingTable(
                dynamodb, self.settings.dynamodb.table, item_ttl_s=self.settings.dynamodb.item_ttl_s
            )
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def files(
        self, *, instances: Iterable[str] = (), now_ms: int | None = None
    ) -> list[FileProgress]:
        """Every tracked file (of ``instances`` only, when given), by instance then file name."""
        if self._table is None:
            raise RuntimeError("StatusReader used outside `async with`")
        wanted = list(instances)
        if wanted:
            tracked = [file for instance in wanted for file in await self._table.files_of(instance)]
        else:
            tracked = await self._table.all_files()
        now = int(time.time() * 1000) if now_ms is None else now_ms
        rows = [file_progress(file, now) for file in tracked]
        return sorted(rows, key=lambda row: (row.instance_id, row.log_file, row.last_seen_ms))

    async def _kafka(self) -> tuple[Any, AIOKafkaConsumer]:
        # Connected on first use: a view of the table alone must not need Kafka.
        if self._admin is None or self._consumer is None:
            kafka = self.settings.kafka
            admin = make_admin(kafka)
            await admin.start()
            self._stack.push_async_callback(admin.close)
            # No group: this consumer only asks for end offsets, it never joins or commits.
            consumer = AIOKafkaConsumer(
                **connection_options(kafka), enable_auto_commit=False, group_id=None
            )
            await consumer.start()
            self._stack.push_async_callback(consumer.stop)
            self._admin, self._consumer = admin, consumer
        return self._admin, self._consumer

    async def partitions(self, topic: str | None = None) -> list[PartitionLag]:
        """Each partition of the event topic with its end and committed offsets.

        Empty when the topic does not exist yet.
        """
        kafka = self.settings.kafka
        name = topic or kafka.topic
        admin, consumer = await self._kafka()
        # Every topic's metadata, filtered here: naming the topic in the request could make a
        # broker with auto-creation on create it.
        described = await admin.describe_topics()
        numbers = [
            int(partition["partition"])
            for topic_info in described
            if topic_info.get("topic") == name and not topic_info.get("error_code")
            for partition in topic_info.get("partitions", [])
        ]
        if not numbers:
            return []
        assigned = [TopicPartition(name, number) for number in sorted(numbers)]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(assigned)
        committed = await admin.list_consumer_group_offsets(
            kafka.consumer_group, partitions=assigned
        )
        lags = []
        for partition in assigned:
            offset = committed.get(partition)
            value = offset.offset if offset is not None and offset.offset >= 0 else None
            lags.append(PartitionLag(name, partition.partition, ends.get(partition, 0), value))
        return lags
