"""Publishing log-file events to the real Kafka: confirmation, keys, the wire format."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from common.clients.kafka import ensure_topics, make_consumer, make_producer
from common.events import LogFileEvent, decode_event, event_key
from common.settings import KafkaSettings
from discovery.publisher import KafkaEventPublisher, Outgoing

pytestmark = pytest.mark.integration


def _event(size: int) -> LogFileEvent:
    return LogFileEvent(
        cluster_id="orders",
        instance_id="orders-1",
        engine="aurora-mysql",
        engine_version="8.0",
        log_file="slowquery/mysql-slowquery.log.2026-01-01.0",
        log_kind="slowquery",
        file_identity="slowquery/mysql-slowquery.log@3",
        size_bytes=size,
        last_written_ms=1,
        status="rotated",
        observed_at_ms=2,
    )


async def test_confirmed_events_are_on_the_topic_keyed_by_file(
    kafka_bootstrap: str, unique_name: Callable[[str], str]
) -> None:
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_partitions=3)
    topic = unique_name("events")
    await ensure_topics(settings, [topic])
    producer = make_producer(settings)
    await producer.start()
    key = event_key("orders-1", "slowquery/mysql-slowquery.log")
    try:
        publisher = KafkaEventPublisher(producer, topic, timeout_s=10)
        confirmed = await publisher.publish([Outgoing(key, _event(size)) for size in (10, 20, 30)])
    finally:
        await producer.stop()
    assert confirmed == [True, True, True]
    consumer = make_consumer(settings, topic, group_id=unique_name("group"))
    await consumer.start()
    try:
        records = []
        while len(records) < 3:
            batches = await consumer.getmany(timeout_ms=10_000)
            assert batches, "no record arrived within 10 s"
            records.extend(r for batch in batches.values() for r in batch)
    finally:
        await consumer.stop()
    assert {record.key for record in records} == {key}
    assert len({record.partition for record in records}) == 1, "one file, one partition"
    assert [decode_event(record.value).size_bytes for record in records] == [10, 20, 30]


async def test_unreachable_broker_confirms_nothing(unique_name: Callable[[str], str]) -> None:
    class Refusing:
        async def send(self, *_args: object, **_kwargs: object) -> None:
            raise ConnectionError("broker down")

    publisher = KafkaEventPublisher(Refusing(), unique_name("events"), timeout_s=1)
    assert await publisher.publish([Outgoing(b"k", _event(1))]) == [False]
