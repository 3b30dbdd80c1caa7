"""The real Kafka 4 broker through aiokafka, with the project's client factories."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from aiokafka import TopicPartition

from common.clients.kafka import ensure_topics, make_consumer, make_producer
from common.settings import KafkaSettings

pytestmark = pytest.mark.integration


async def _consume(settings: KafkaSettings, topic: str, group: str, count: int) -> list[bytes]:
    """Read ``count`` records as group ``group``, commit what was read, stop the consumer."""
    consumer = make_consumer(settings, topic, group_id=group)
    await consumer.start()
    try:
        values: list[bytes] = []
        while len(values) < count:
            batches = await consumer.getmany(timeout_ms=10_000, max_records=count - len(values))
            assert batches, "no record arrived within 10 s"
            for records in batches.values():
                values.extend(record.value or b"" for record in records)
        await consumer.commit()
        return values
    finally:
        await consumer.stop()


async def test_round_trip_resumes_from_the_committed_offset(
    kafka_bootstrap: str, unique_name: Callable[[str], str]
) -> None:
    topic = unique_name("roundtrip")
    group = unique_name("group")
    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_partitions=1)
    assert await ensure_topics(settings, [topic]) == [topic]
    assert await ensure_topics(settings, [topic]) == [], "a second call must create nothing"

    producer = make_producer(settings)
    await producer.start()
    try:
        for index in range(10):
            metadata = await producer.send_and_wait(topic, f"event-{index}".encode(), key=b"k")
            assert metadata.offset == index
    finally:
        await producer.stop()

    first = await _consume(settings, topic, group, 4)
    assert first == [f"event-{index}".encode() for index in range(4)]

    # A new consumer in the same group starts exactly after the commit.
    rest = await _consume(settings, topic, group, 6)
    assert rest == [f"event-{index}".encode() for index in range(4, 10)]

    # The group's committed position is the end of the topic.
    consumer = make_consumer(settings, group_id=group)
    await consumer.start()
    try:
        committed = await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()
    assert committed == 10


async def test_producer_is_idempotent_with_acks_all(kafka_bootstrap: str) -> None:
    # aiokafka exposes neither setting publicly. What proves idempotence is that the broker
    # granted a producer id (InitProducerId), which only an idempotent producer asks for.
    producer = make_producer(KafkaSettings(bootstrap_servers=kafka_bootstrap))
    await producer.start()
    try:
        assert producer._txn_manager is not None
        assert producer._txn_manager.producer_id >= 0
        assert producer._sender._acks == -1  # acks=all
    finally:
        await producer.stop()
