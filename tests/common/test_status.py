"""``aurora-logs status`` against a real tracking table in moto and real group offsets in Kafka."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import replace

import pytest
from aiokafka import TopicPartition

from common import status_cli
from common.clients.aws import AwsClients
from common.clients.kafka import ensure_topics, make_consumer, make_producer
from common.settings import CommonSettings, load_settings
from common.status import StatusReader, by_instance
from common.tracking import Checkpoint, Observation, TrackedFile, TrackingTable
from devstack.processes import free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def environ(
    aws_environ: dict[str, str],
    moto_url: str,
    kafka_bootstrap: str,
    unique_name: Callable[[str], str],
) -> dict[str, str]:
    return {
        **aws_environ,
        "AURORA_AWS__ENDPOINT_URL": moto_url,
        "AURORA_DYNAMODB__TABLE": unique_name("status"),
        "AURORA_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AURORA_KAFKA__TOPIC": unique_name("status-events"),
        "AURORA_KAFKA__CONSUMER_GROUP": unique_name("status-group"),
        "AURORA_KAFKA__TOPIC_PARTITIONS": "2",
    }


def _file(instance: str, name: str, kind: str, size: int, status: str = "active") -> TrackedFile:
    return TrackedFile(
        instance_id=instance,
        identity=f"{name}@1",
        observation=Observation(
            cluster_id="orders",
            engine="aurora-mysql",
            engine_version="8.0.mysql_aurora.3.05.2",
            log_file=name,
            log_kind=kind,
            status=status,  # type: ignore[arg-type]
            first_seen_ms=1_000,
            last_seen_ms=2_000,
            seen_size=size,
            published_size=size,
            fence=1,
        ),
    )


@pytest.fixture
async def tracked(environ: dict[str, str]) -> CommonSettings:
    """Two instances: orders-1 with a half-read slow log and a caught-up error log, orders-2
    with a deleted file; 5 events on partition 0 (3 committed) and 2 on partition 1 (none)."""
    settings = load_settings(CommonSettings, environ)
    async with AwsClients(settings.aws).dynamodb() as dynamodb:
        table = TrackingTable(dynamodb, settings.dynamodb.table, item_ttl_s=3600)
        await table.ensure_table()
        slow = await table.create(
            _file("orders-1", "slowquery/mysql-slowquery.log", "slowquery", 1000)
        )
        await table.save_checkpoint(
            "orders-1", slow.identity, slow.checkpoint, Checkpoint(offset=400)
        )
        error = await table.create(_file("orders-1", "error/mysql-error-running.log", "error", 300))
        await table.save_checkpoint(
            "orders-1", error.identity, error.checkpoint, Checkpoint(offset=300)
        )
        gone = await table.create(_file("orders-2", "audit/audit.log.0", "audit", 50))
        await table.observe(gone, replace(gone.observation, status="deleted", lost_bytes=20))

    kafka = settings.kafka
    await ensure_topics(kafka, [kafka.topic])
    producer = make_producer(kafka)
    await producer.start()
    try:
        for partition, count in ((0, 5), (1, 2)):
            for index in range(count):
                await producer.send_and_wait(kafka.topic, b"event %d" % index, partition=partition)
    finally:
        await producer.stop()
    consumer = make_consumer(kafka)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(kafka.topic, 0)])
        await consumer.commit({TopicPartition(kafka.topic, 0): 3})
    finally:
        await consumer.stop()
    return settings


async def test_files_instances_and_partitions(tracked: CommonSettings) -> None:
    async with StatusReader(tracked) as reader:
        files = await reader.files(now_ms=10_000_000_000_000)
        partitions = await reader.partitions()
        only_two = await reader.files(instances=["orders-2"])

    assert [(f.instance_id, f.log_file, f.status) for f in files] == [
        ("orders-1", "error/mysql-error-running.log", "active"),
        ("orders-1", "slowquery/mysql-slowquery.log", "active"),
        ("orders-2", "audit/audit.log.0", "deleted"),
    ]
    error, slow, _gone = files
    assert (slow.seen_bytes, slow.published_bytes, slow.ingested_bytes) == (1000, 1000, 400)
    assert slow.lag_bytes == 600
    assert slow.lag_s > 1_000_000  # waiting since its checkpoint moved, long before "now"
    assert (error.lag_bytes, error.lag_s) == (0, 0.0)
    assert [f.instance_id for f in only_two] == ["orders-2"]

    one, two = by_instance(files)
    assert (one.instance_id, one.files, one.seen_bytes, one.ingested_bytes) == (
        "orders-1",
        2,
        1300,
        700,
    )
    assert one.lag_bytes == 600
    assert (two.files, two.lost_bytes) == (0, 20)

    assert [(p.partition, p.end_offset, p.committed_offset, p.lag) for p in partitions] == [
        (0, 5, 3, 2),
        (1, 2, None, 2),
    ]


async def test_partitions_of_a_topic_that_does_not_exist(tracked: CommonSettings) -> None:
    async with StatusReader(tracked) as reader:
        assert await reader.partitions(topic=tracked.kafka.topic + "-absent") == []


def _status_command(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> argparse.ArgumentParser:
    """``aurora-logs status``'s argument parser, with ``environ`` as the process environment."""
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    parser = argparse.ArgumentParser()
    status_cli.add_arguments(parser)
    return parser


def test_the_command_prints_json_and_text(
    tracked: CommonSettings,
    environ: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = _status_command(environ, monkeypatch)

    assert status_cli.run(parser.parse_args(["--json", "--instance", "orders-1"])) == 0
    document = json.loads(capsys.readouterr().out)
    assert [item["instance_id"] for item in document["instances"]] == ["orders-1"]
    assert sum(file["lag_bytes"] for file in document["files"]) == 600
    assert document["consumer_group"] == tracked.kafka.consumer_group
    assert [p["lag"] for p in document["partitions"]] == [2, 2]

    # Text: deleted files only with --all; the group's total lag on its own line.
    assert status_cli.run(parser.parse_args(["--no-kafka"])) == 0
    text = capsys.readouterr().out
    assert "slowquery/mysql-slowquery.log" in text
    assert "audit/audit.log.0" not in text
    assert "consumer group" not in text
    assert status_cli.run(parser.parse_args(["--all"])) == 0
    text = capsys.readouterr().out
    assert "audit/audit.log.0" in text
    assert f"consumer group {tracked.kafka.consumer_group}: 4 events behind" in text


def test_a_missing_table_is_a_clear_error(
    environ: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = _status_command(environ, monkeypatch)
    assert status_cli.run(parser.parse_args(["--no-kafka"])) == 1
    assert environ["AURORA_DYNAMODB__TABLE"] in capsys.readouterr().err


def test_an_unreachable_kafka_is_a_clear_error(
    tracked: CommonSettings,
    environ: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The operator runs status when things are wrong: a broker that does not answer gives a
    one-line reason and exit 1, not a traceback (and --no-kafka still works)."""
    closed = free_port()
    parser = _status_command(
        {**environ, "AURORA_KAFKA__BOOTSTRAP_SERVERS": f"127.0.0.1:{closed}"}, monkeypatch
    )
    assert status_cli.run(parser.parse_args([])) == 1
    err = capsys.readouterr().err
    assert "aurora-logs status: Kafka:" in err
    assert "Traceback" not in err
    assert status_cli.run(parser.parse_args(["--no-kafka"])) == 0
