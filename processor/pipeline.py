"""The processor assembled, on one screen, built backwards from where records end up:

    sink ◀─ shipper ◀─ batcher ◀─ file work (source → parser) ◀─ event consumer ◀─ Kafka
      └─ dead letters (Kafka)            └─ checkpoints (DynamoDB)   └─ commits (Kafka)

:func:`run_processor` owns every client for the life of the service and releases them in
reverse order on the way out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from common.clients.aws import AwsClients
from common.clients.kafka import ensure_topics, make_consumer, make_producer
from common.clients.valkey import make_valkey
from common.logs import get_logger
from common.ratelimit import RdsBudget, RdsCaller
from common.readiness import dynamodb_table_check, kafka_check, valkey_check
from common.runner import Lifecycle
from common.tracking import TrackingTable
from processor.archive import RawArchive
from processor.batching import Batcher
from processor.config import ProcessorSettings
from processor.consume import EventConsumer
from processor.deadletter import DeadLetters
from processor.shipping import DeadLetterWriter, Shipper
from processor.sinks import Sink
from processor.sinks.file import FileSink
from processor.sinks.openobserve import OpenObserveSink
from processor.sources import Source
from processor.sources.rds import FullDownload, RdsSource
from processor.sources.s3 import S3Source
from processor.work import FileWork, InflightBytes

if TYPE_CHECKING:
    import redis.asyncio as redis

__all__ = ["delivery", "run_processor"]

log = get_logger(__name__)


def _sink(settings: ProcessorSettings) -> Sink:
    if settings.processor.sink == "file":
        return FileSink(
            Path(settings.processor.file_sink_dir),
            max_file_bytes=settings.processor.file_sink_max_file_bytes,
            keep_files=settings.processor.file_sink_keep_files,
        )
    return OpenObserveSink(settings.openobserve)


async def delivery(
    settings: ProcessorSettings, dead_letters: DeadLetterWriter, stack: contextlib.AsyncExitStack
) -> tuple[Shipper, Batcher]:
    """The sink, its shipper and the batcher in front of it, as the settings describe them; the
    sink is closed by ``stack``. Shared with the operator commands that ship records (replay,
    dlq retry), so they deliver exactly as the service does."""
    config = settings.processor
    sink = _sink(settings)
    stack.push_async_callback(sink.aclose)
    shipper = Shipper(
        sink,
        dead_letters,
        retry_base_s=config.retry_base_s,
        retry_max_s=config.retry_max_s,
        halted_retry_interval_s=config.halted_retry_interval_s,
    )
    batcher = Batcher(
        shipper,
        max_records=config.max_batch_records,
        max_bytes=config.max_batch_bytes,
        max_age_s=config.max_batch_age_s,
        max_concurrent=config.max_concurrent_requests,
    )
    return shipper, batcher


@contextlib.asynccontextmanager
async def _source(
    settings: ProcessorSettings, aws: AwsClients, valkey: redis.Redis
) -> AsyncIterator[Source]:
    config = settings.processor
    if config.source == "s3":
        async with aws.s3() as s3:
            yield S3Source(
                s3,
                bucket=settings.s3.bucket,
                prefix=settings.s3.staged_prefix,
                chunk_bytes=config.read_chunk_bytes,
            )
        return
    caller = RdsCaller(
        RdsBudget(valkey, settings.rds, key=f"{settings.valkey.key_prefix}rds-budget")
    )
    full = FullDownload(
        aws.session,
        caller,
        region=settings.aws.region,
        endpoint_url=settings.aws.endpoint_for("rds"),
        path_template=settings.rds.download_path_template,
        chunk_bytes=config.read_chunk_bytes,
        timeout_s=settings.aws.read_timeout_s,
    )
    try:
        async with aws.rds() as rds:
            yield RdsSource(
                rds,
                caller,
                full,
                full_download_threshold_bytes=config.full_download_threshold_bytes,
            )
    finally:
        await full.aclose()


async def run_processor(settings: ProcessorSettings, lifecycle: Lifecycle) -> None:
    """Consume and process events until ``lifecycle.stopping`` is set, then drain and stop."""
    config = settings.processor
    kafka = settings.kafka
    aws = AwsClients(settings.aws)
    valkey = make_valkey(settings.valkey)
    lifecycle.readiness.add("kafka", kafka_check(kafka))
    lifecycle.readiness.add("valkey", valkey_check(valkey))
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(valkey.aclose)
        dynamodb = await stack.enter_async_context(aws.dynamodb())
        tracking = TrackingTable(
            dynamodb, settings.dynamodb.table, item_ttl_s=settings.dynamodb.item_ttl_s
        )
        lifecycle.readiness.add("dynamodb", dynamodb_table_check(dynamodb, tracking.table))
        if settings.dynamodb.create_table_if_missing:
            await tracking.ensure_table()
        if kafka.create_topics:
            await ensure_topics(kafka, [kafka.topic, kafka.dead_letter_topic])

        producer = make_producer(kafka)
        await producer.start()
        stack.push_async_callback(producer.stop)
        dead_letters = DeadLetters(producer, kafka.dead_letter_topic)
        shipper, batcher = await delivery(settings, dead_letters, stack)

        async def sink_check() -> None:
            if shipper.halted_reason is not None:
                raise RuntimeError(f"sink halted: {shipper.halted_reason}")

        lifecycle.readiness.add("sink", sink_check)
        inflight = InflightBytes(config.max_inflight_bytes)
        source = await stack.enter_async_context(_source(settings, aws, valkey))
        archive = None
        if config.archive_raw:
            s3 = await stack.enter_async_context(aws.s3())
            archive = RawArchive(s3, bucket=settings.s3.bucket, prefix=settings.s3.raw_prefix)
        work = FileWork(
            tracking=tracking,
            source=source,
            batcher=batcher,
            parsing=settings.parsing,
            streams=config.streams,
            inflight=inflight,
            checkpoint_every_bytes=config.checkpoint_every_bytes,
            archive=archive,
        )

        consumer = make_consumer(kafka)
        events = EventConsumer(
            consumer,
            work=work,
            dead_letters=dead_letters,
            config=config,
            at_capacity=lambda: inflight.full,
        )
        consumer.subscribe([kafka.topic], listener=events)
        await consumer.start()
        stack.push_async_callback(consumer.stop)
        stack.push_async_callback(batcher.cancel)

        batching_done = asyncio.Event()
        batching = asyncio.create_task(batcher.run(batching_done), name="batcher")
        log.info(
            "processor_started", source=config.source, sink=shipper.sink.name, topic=kafka.topic
        )
        try:
            await events.run(lifecycle.stopping, lifecycle.liveness)
        finally:
            batching_done.set()
            await batching
