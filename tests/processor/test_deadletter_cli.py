"""``aurora-logs dlq inspect|retry`` against Kafka and the OpenObserve contract server: entries
written by the processor's own dead-letter writer are listed, counted and re-driven once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator

import orjson
import pytest

from common.cli import main
from common.clients.kafka import ensure_topics, make_producer
from common.events import LogFileEvent, encode_event
from common.settings import KafkaSettings
from processor.deadletter import DeadLetters
from processor.delivery import Document, Rejection, Ticket
from tests.contract.openobserve_server import OpenObserveContractServer
from tests.processor.conftest import PASSWORD, USER
from tests.waiting import events_on

pytestmark = pytest.mark.integration

STREAM = "aurora_mysql_slow"
KEY = b"db-1/slowquery/mysql-slowquery.log"


@pytest.fixture(scope="module")
def openobserve() -> Iterator[OpenObserveContractServer]:
    """OpenObserve's default window: a record from 2024 is refused as too old."""
    with OpenObserveContractServer(root_email=USER, root_password=PASSWORD) as server:
        yield server


def _event() -> LogFileEvent:
    return LogFileEvent(
        cluster_id="db",
        instance_id="db-1",
        engine="aurora-mysql",
        log_file="slowquery/mysql-slowquery.log",
        log_kind="slowquery",
        file_identity="slowquery/mysql-slowquery.log@1",
        size_bytes=2048,
        last_written_ms=1_795_766_400_000,
        observed_at_ms=1_795_766_400_000,
    )


def _document(rid: str, timestamp_us: int) -> Document:
    body = {"_timestamp": timestamp_us, "record_id": rid, "log_type": "mysql_slow", "query": "x"}
    return Document(STREAM, rid, orjson.dumps(body), Ticket())


async def _dead_letter(kafka: KafkaSettings) -> None:
    """Four entries, as the processor writes them: an event that can be retried, one that is
    not an event at all, and two records (one OpenObserve will take, one it refuses again)."""
    await ensure_topics(kafka, [kafka.topic, kafka.dead_letter_topic])
    producer = make_producer(kafka)
    await producer.start()
    try:
        letters = DeadLetters(producer, kafka.dead_letter_topic)
        source = {"topic": kafka.topic, "partition": 0, "offset": 7}
        await letters.event(
            value=encode_event(_event()),
            key=KEY,
            reason="untracked_file",
            detail="no tracking item",
            source=source,
        )
        await letters.event(
            value=b"{not json", key=None, reason="invalid_json", detail="bad", source=source
        )
        now_us = int(time.time() * 1_000_000)
        await letters.documents(
            STREAM,
            [
                (_document("aaaa-10", now_us), Rejection("item_rejected", "a transient mapping")),
                (_document("aaaa-20", 1_704_359_820_000_000), Rejection("too_old", "2024")),
            ],
        )
    finally:
        await producer.stop()


def _dlq(*args: str) -> int:
    return main(["dlq", *args])


async def test_inspect_lists_and_retry_redrives_each_entry_once(
    kafka_bootstrap: str,
    unique_name: Callable[[str], str],
    openobserve: OpenObserveContractServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    kafka = KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        topic=unique_name("events"),
        dead_letter_topic=unique_name("dlq"),
        topic_partitions=2,
    )
    for name, value in {
        "AURORA_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AURORA_KAFKA__TOPIC": kafka.topic,
        "AURORA_KAFKA__DEAD_LETTER_TOPIC": kafka.dead_letter_topic,
        "AURORA_OPENOBSERVE__URL": openobserve.url,
        "AURORA_OPENOBSERVE__USER": USER,
        "AURORA_OPENOBSERVE__PASSWORD": PASSWORD,
        "AURORA_PROCESSOR__RETRY_BASE_S": "0.01",
    }.items():
        monkeypatch.setenv(name, value)
    await _dead_letter(kafka)

    assert await asyncio.to_thread(_dlq, "inspect") == 0
    out = capsys.readouterr().out
    assert f"{kafka.dead_letter_topic}: 4 dead letters (4 shown)" in out
    assert "  event   untracked_file            db-1/slowquery/mysql-slowquery.log  p" in out
    assert f"  record  too_old                   {STREAM}/aaaa-20  p" in out
    for kind, reason in [
        ("event", "invalid_json"),
        ("event", "untracked_file"),
        ("record", "item_rejected"),
        ("record", "too_old"),
    ]:
        assert f"  {kind:<6}  {reason:<24}  1\n" in out

    assert await asyncio.to_thread(_dlq, "inspect", "--kind", "record", "--limit", "1") == 0
    assert ": 2 dead letters (1 shown)" in capsys.readouterr().out
    assert await asyncio.to_thread(_dlq, "inspect", "--reason", "too_old", "--json") == 0
    captured = capsys.readouterr()
    entries = [json.loads(line) for line in captured.out.splitlines()]
    assert [(e["kind"], e["source"]["record_id"]) for e in entries] == [("record", "aaaa-20")]
    assert ": 1 dead letters (1 shown)" in captured.err

    group = unique_name("retry")
    assert await asyncio.to_thread(_dlq, "retry", "--group", group, "--dry-run") == 0
    out = capsys.readouterr().out
    assert "would re-drive 1 events" in out
    assert "and 2 records\n" in out
    assert "    not_an_event:invalid_json: 1" in out

    # For real: the event goes back to the main topic under its key, one record is delivered,
    # the other is refused again and dead-lettered again.
    assert await asyncio.to_thread(_dlq, "retry", "--group", group) == 0
    out = capsys.readouterr().out
    assert "re-drove 1 events" in out
    assert "2 records (1 delivered, 1 dead-lettered again)" in out
    assert "  skipped: 1" in out
    assert await events_on(kafka_bootstrap, kafka.topic, at_least=1) == [(KEY, _event())]
    assert [row["record_id"] for row in openobserve.records("default", STREAM)] == ["aaaa-10"]

    # The group remembers: only the entry written by the last run is new to it.
    assert await asyncio.to_thread(_dlq, "retry", "--group", group, "--kind", "record") == 0
    out = capsys.readouterr().out
    assert "re-drove 0 events" in out
    assert "1 records (0 delivered, 1 dead-lettered again)" in out
    assert "  skipped: 0" in out
    assert await asyncio.to_thread(_dlq, "inspect", "--reason", "too_old") == 0
    assert ": 3 dead letters (3 shown)" in capsys.readouterr().out


def test_bad_arguments_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _dlq("inspect", "--limit", "0")
    assert exit_info.value.code == 2
    assert "expected a positive whole number" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _dlq("retry", "--kind", "file")
    assert "invalid choice: 'file'" in capsys.readouterr().err
