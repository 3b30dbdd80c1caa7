"""The consumer loop on the real Kafka: three outcomes, in-order commits, coalescing, pausing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest
from aiokafka import TopicPartition

from common.clients.kafka import ensure_topics, make_consumer, make_producer
from common.errors import RejectedError, ThrottledError
from common.events import LogFileEvent, encode_event, event_key
from common.settings import KafkaSettings
from processor.config import ProcessorConfig
from processor.consume import EventConsumer
from tests.waiting import eventually

pytestmark = pytest.mark.integration


def _event(
    instance: str, size: int, log_file: str = "error/mysql-error-running.log"
) -> LogFileEvent:
    return LogFileEvent(
        cluster_id="c1",
        instance_id=instance,
        engine="aurora-mysql",
        log_file=log_file,
        log_kind="error",
        file_identity=f"{log_file}@1",
        size_bytes=size,
        last_written_ms=1,
        observed_at_ms=1,
    )


class ScriptedWork:
    """Processes events as a script says; remembers every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail_first: dict[str, int] = {}
        self.reject: set[str] = set()
        self.gate: asyncio.Event | None = None

    async def process(self, event: LogFileEvent) -> None:
        self.calls.append((event.instance_id, event.size_bytes))
        if self.gate is not None:
            await self.gate.wait()
        if event.instance_id in self.reject:
            raise RejectedError("cannot", reason="untracked_file")
        if self.fail_first.get(event.instance_id, 0) > 0:
            self.fail_first[event.instance_id] -= 1
            raise ThrottledError("slow down")


class RecordingDeadLetters:
    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, object]]] = []

    async def event(
        self,
        *,
        value: bytes | None,
        key: bytes | None,
        reason: str,
        detail: str,
        source: dict[str, object],
    ) -> None:
        self.events.append((reason, source))


class Harness:
    def __init__(self, bootstrap: str, topic: str, group: str) -> None:
        self.settings = KafkaSettings(bootstrap_servers=bootstrap, topic=topic, topic_partitions=2)
        self.topic = topic
        self.group = group

    async def publish(self, *values: tuple[bytes, bytes]) -> None:
        producer = make_producer(self.settings)
        await producer.start()
        try:
            for key, value in values:
                await producer.send_and_wait(self.topic, value, key=key, partition=0)
        finally:
            await producer.stop()

    async def committed(self) -> int | None:
        consumer = make_consumer(self.settings, group_id=self.group)
        await consumer.start()
        try:
            result: int | None = await consumer.committed(TopicPartition(self.topic, 0))
            return result
        finally:
            await consumer.stop()

    async def run_until(
        self,
        work: ScriptedWork,
        dead: RecordingDeadLetters,
        done: Callable[[], bool],
        *,
        config: ProcessorConfig | None = None,
        at_capacity: Callable[[], bool] = lambda: False,
        on_start: Callable[[EventConsumer], None] = lambda _loop: None,
        timeout_s: float = 30,
    ) -> EventConsumer:
        consumer = make_consumer(self.settings, group_id=self.group)
        loop = EventConsumer(
            consumer,
            work=work,
            dead_letters=dead,
            config=config
            or ProcessorConfig(retry_base_s=0.01, retry_max_s=0.05, commit_interval_s=0.1),
            at_capacity=at_capacity,
        )
        consumer.subscribe([self.topic], listener=loop)
        await consumer.start()
        on_start(loop)
        stopping = asyncio.Event()
        task = asyncio.create_task(loop.run(stopping))
        try:
            await eventually(
                done, timeout_s=timeout_s, message=lambda: f"work calls so far: {work.calls}"
            )
        finally:
            stopping.set()
            await task
            await consumer.stop()
        return loop


@pytest.fixture
async def harness(kafka_bootstrap: str, unique_name: Callable[[str], str]) -> Harness:
    harness = Harness(kafka_bootstrap, unique_name("events"), unique_name("group"))
    await ensure_topics(harness.settings, [harness.topic])
    return harness


def _message(event: LogFileEvent) -> tuple[bytes, bytes]:
    return event_key(event.instance_id, event.log_file), encode_event(event)


async def test_outcomes_and_in_order_commits(harness: Harness) -> None:
    await harness.publish(
        _message(_event("db-1", 10)),
        (b"bad", b"{not json"),
        _message(_event("db-2", 20)),
        (b"old", json.dumps({"schema_version": 99}).encode()),
        _message(_event("db-3", 30)),
    )
    work = ScriptedWork()
    work.fail_first["db-2"] = 2  # errored twice, then delivered
    work.reject.add("db-3")
    dead = RecordingDeadLetters()
    await harness.run_until(work, dead, lambda: len(dead.events) == 3 and len(work.calls) >= 5)
    assert [reason for reason, _ in dead.events] == [
        "invalid_json",
        "unknown_schema_version",
        "untracked_file",
    ]
    assert work.calls.count(("db-2", 20)) == 3
    assert await harness.committed() == 5


async def test_an_errored_event_holds_back_the_commit(harness: Harness) -> None:
    await harness.publish(_message(_event("db-1", 10)), _message(_event("db-2", 10)))
    work = ScriptedWork()
    work.fail_first["db-1"] = 10**6  # never succeeds during this run
    dead = RecordingDeadLetters()
    await harness.run_until(work, dead, lambda: ("db-2", 10) in work.calls and len(work.calls) > 3)
    assert await harness.committed() is None, "nothing may be committed past an unfinished event"


async def test_events_of_one_file_are_coalesced(harness: Harness) -> None:
    await harness.publish(_message(_event("db-1", 100)))
    work = ScriptedWork()
    work.gate = asyncio.Event()
    dead = RecordingDeadLetters()

    async def publish_while_held() -> None:
        await eventually(lambda: bool(work.calls), timeout_s=30)
        # The first run is held at the gate; these arrive meanwhile and must wait for it.
        await harness.publish(*[_message(_event("db-1", size)) for size in range(101, 106)])
        await asyncio.sleep(0.5)
        assert work.gate is not None
        work.gate.set()

    publisher = asyncio.create_task(publish_while_held())
    await harness.run_until(work, dead, lambda: publisher.done() and len(work.calls) >= 2)
    await publisher
    assert work.calls == [("db-1", 100), ("db-1", 105)], "one more run covers every waiting event"
    assert await harness.committed() == 6


async def test_partitions_pause_at_capacity(harness: Harness) -> None:
    await harness.publish(_message(_event("db-1", 1)))
    full = [True]
    work = ScriptedWork()
    dead = RecordingDeadLetters()
    loops: list[EventConsumer] = []
    paused: list[int] = []

    def observe() -> bool:
        if loops:
            paused.append(len(loops[0]._consumer.paused()))
        if len(paused) > 20:
            full[0] = False  # room again: the partitions resume and the event is processed
        return bool(work.calls)

    await harness.run_until(work, dead, observe, at_capacity=lambda: full[0], on_start=loops.append)
    assert max(paused) >= 1, "the partitions were never paused"
    assert paused[-1] == 0 or work.calls
    assert work.calls == [("db-1", 1)]
