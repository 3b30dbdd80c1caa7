"""``make chaos``: the fault harness. The whole local system under one fault at a time, each
scenario ending with an exact accounting, per log type, against the simulator's ground truth.

One stack (Kafka, Valkey, moto with the simulated RDS log API, the OpenObserve contract
server), two discovery and two processor replicas, and a simulated fleet driven in this
process on a simulated clock (one simulated minute per step, a step every ``step_s`` of real
time). Scenarios run one after the other as phases; each adds its own clusters (named after the
scenario), writes, applies its fault, then every log is rotated out and the harness waits for
the pipeline to drain and accounts for every entry the simulator wrote for those clusters:

- **delivered**: in OpenObserve (matched by instance, log type and the entry's exact bytes, or,
  for an entry the pipeline had to alter (a capped 5 MB line, bytes that are not UTF-8), by its
  file offset and length);
- **duplicated**: stored copies beyond the first of one ``record_id``;
- **dead-lettered**: on the dead-letter topic (the reasons are printed under the table);
- **lost-reported**: files the tracking table marks ``lost`` (status, ``lost_bytes``);
- **lost-actual**: entries neither delivered nor dead-lettered, and the files they were in.

A scenario passes when nothing is lost except in files the simulator deleted before they were
read, and the number of such files equals what the system reported lost; when it has no
duplicates unless a processor crashed in it (README, "guarantees": a crash re-sends at most the
records after the last checkpoint, under the same ids); when no record arrived that the
simulator never wrote; and when every fault it injected demonstrably fired and it wrote
something. The harness prints one table and exits 1 if any scenario failed.

``--short`` compresses the durations (outages of seconds instead of half a minute or a
minute) and is what ``make test`` runs, through ``tests/test_chaos.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from devstack.pipeline import (
    STREAMS,
    Services,
    delivered_rows,
    log_type_of,
    pipeline_env,
    record_key,
    truth_key,
)
from devstack.stack import OPENOBSERVE_PASSWORD, OPENOBSERVE_USER, ROOT, LocalStack
from simulator import (
    AURORA_MYSQL_2,
    AURORA_MYSQL_3,
    AURORA_POSTGRESQL,
    BinaryData,
    Budget,
    DeleteBeforeRead,
    Fleet,
    GarbageBytes,
    HugeLine,
    LogOptions,
    LogProfile,
    Overlap,
    RotateMidRead,
    SimClock,
    Throttle,
    Truncate,
)
from simulator.faults import Fault
from simulator.profiles import Engine
from simulator.truth import TruthEntry

__all__ = ["SCENARIOS", "Durations", "Result", "main", "run_harness", "table"]

EVENTS = "events"  # the pseudo log type of malformed Kafka events
LISTING_TIMEOUT_S = 60.0  # how long a step waits for discovery to list an instance


@dataclass(frozen=True)
class Durations:
    """How long the faults last and how long a scenario may take to drain (seconds)."""

    step_s: float  # real time per simulated minute
    minutes: int  # simulated minutes written around each fault
    kafka_down_s: float
    openobserve_503_s: float
    openobserve_slow_s: float
    drain_timeout_s: float

    @classmethod
    def full(cls) -> Durations:
        return cls(1.5, 3, 30.0, 60.0, 20.0, 300.0)

    @classmethod
    def short(cls) -> Durations:
        return cls(1.0, 1, 8.0, 8.0, 4.0, 150.0)


@dataclass
class Row:
    """The accounting of one log type of one scenario."""

    written: int = 0
    delivered: int = 0
    duplicated: int = 0
    dead_lettered: int = 0
    lost_reported_files: int = 0
    lost_reported_bytes: int = 0
    lost_files: int = 0  # deleted files with entries neither delivered nor dead-lettered
    lost_entries: int = 0  # such entries
    unexplained: int = 0  # missing entries of files that were not deleted
    unexpected: int = 0  # delivered records the simulator never wrote
    lag_s: float | None = None  # from the end of writing until accounted for


@dataclass
class Result:
    scenario: str
    rows: dict[str, Row]
    problems: list[str]
    evidence: dict[str, int]
    reasons: Counter[str]
    lost_why: Counter[str]

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass
class Harness:
    """What every scenario works with: the stack, the replicas, the fleet, the services'
    environment, and the duration settings."""

    stack: LocalStack
    services: Services
    fleet: Fleet
    env: dict[str, str]
    durations: Durations
    openobserve: httpx.Client

    @property
    def kafka(self) -> str:
        return self.env["AURORA_KAFKA__BOOTSTRAP_SERVERS"]

    def start_discovery(self, number: int) -> None:
        self.services.start(
            "discovery",
            f"discovery-{number}",
            AURORA_DISCOVERY__REPLICA_ID=f"discovery-{number}",
            AWS_ACCESS_KEY_ID=f"AKIACHAOSDISCOVERY0{number}",
        )

    def start_processor(self, number: int) -> None:
        self.services.start(
            "processor", f"processor-{number}", AWS_ACCESS_KEY_ID=f"AKIACHAOSPROCESSOR0{number}"
        )

    def openobserve_faults(self, update: dict[str, Any]) -> None:
        answer = self.openobserve.post("/_contract/faults", json=update)
        answer.raise_for_status()

    def openobserve_requests(self) -> list[dict[str, Any]]:
        body = self.openobserve.get("/_contract/requests").json()
        rows = body["requests"] if isinstance(body, dict) else body
        return list(rows)


@dataclass
class Phase:
    """One scenario while it runs: its clusters, the faults it injected and its evidence."""

    harness: Harness
    prefix: str
    crash_window: bool = False
    clusters: list[str] = field(default_factory=list)
    instances: list[str] = field(default_factory=list)
    faults: dict[str, str] = field(default_factory=dict)  # what -> simulator fault id
    evidence: dict[str, int] = field(default_factory=dict)
    malformed_keys: set[bytes | None] = field(default_factory=set)
    dead_letters_expected: bool = False
    steps_us: list[int] = field(default_factory=list)  # the simulated clock after each step

    def cluster(
        self,
        engine: Engine,
        *,
        instances: int = 1,
        bytes_per_min: float = 150_000,
        options: LogOptions | None = None,
    ) -> list[str]:
        name = f"{self.prefix}-{len(self.clusters)}"
        cluster = self.harness.fleet.add_cluster(
            name,
            engine,
            instances=instances,
            profile=LogProfile.realistic(engine, bytes_per_min, options),
        )
        self.clusters.append(name)
        self.instances.extend(cluster.members)
        return list(cluster.members)

    def write(
        self, minutes: int, step_s: float | None = None, *, listed: Sequence[str] = ()
    ) -> None:
        """Write ``minutes`` simulated minutes, one a step, with real time between steps.

        With ``listed``, each step also waits until discovery has listed each of those
        instances after the step was written (a DescribeDBLogFiles answer of the new state),
        however long its polls take on a busy machine."""
        fleet = self.harness.fleet
        for _ in range(minutes):
            since = fleet.requests.last_seq()
            fleet.advance(60)
            written = time.time()
            self.steps_us.append(fleet.clock.now_us())
            self.harness.services.check_alive()
            for instance in listed:
                _wait_for_listing(fleet, instance, since=since, after=written)
            pause = self.harness.durations.step_s if step_s is None else step_s
            time.sleep(max(0.0, pause - (time.time() - written)))

    def write_for(self, seconds: float) -> None:
        """Keep writing (a simulated minute every ``step_s``) for ``seconds`` of real time."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.write(1, min(self.harness.durations.step_s, max(0.0, deadline - time.monotonic())))

    def write_until_fired(
        self,
        minutes: int,
        *,
        most: int = 40,
        step_s: float | None = None,
        listed: Sequence[str] = (),
    ) -> None:
        """Write ``minutes`` simulated minutes, then on until every fault installed has fired
        (the pipeline may need a while to reach the files in scope), ``most`` minutes at most."""
        self.write(minutes, step_s, listed=listed)
        for _ in range(most - minutes):
            if all(self.fired().values()):
                return
            self.write(1, step_s, listed=listed)

    def fault(self, what: str, fault: Fault) -> None:
        self.faults[what] = self.harness.fleet.faults.add(fault)

    def fired(self) -> dict[str, int]:
        return {what: self.harness.fleet.faults.fired(fid) for what, fid in self.faults.items()}

    def clear_faults(self) -> None:
        for what, fid in self.faults.items():
            self.evidence[what] = self.harness.fleet.faults.fired(fid)
            self.harness.fleet.faults.remove(fid)
        self.faults.clear()


def _wait_for_listing(fleet: Fleet, instance: str, *, since: int, after: float) -> None:
    """Wait until a DescribeDBLogFiles call for ``instance`` that arrived at ``after`` or later
    (wall clock; ``since``: the request log's seq before then) was answered: it listed what
    was on disk at ``after``."""
    deadline = time.monotonic() + LISTING_TIMEOUT_S
    while True:
        records = fleet.requests.records(
            since=since, instance=instance, action="DescribeDBLogFiles"
        )
        if any(r.outcome == "ok" and r.marker is None and r.wall_time >= after for r in records):
            return
        if time.monotonic() >= deadline:
            raise RuntimeError(f"discovery did not list {instance} in {LISTING_TIMEOUT_S:g} s")
        time.sleep(0.2)


def _unlistable(phase: Phase, reason: str) -> list[str]:
    """Files deleted (for ``reason``) in the step that created them: no listing between two
    steps ever showed them, so nobody could report them (the scenario must not make any)."""
    return sorted(
        f.content_id
        for f in phase.harness.fleet.truth.files()
        if f.instance_id in phase.instances
        and f.delete_reason == reason
        and f.deleted_us is not None
        and not any(f.created_us <= at < f.deleted_us for at in phase.steps_us)
    )


# Scenarios. Each gets a Phase with no clusters yet; it adds some, writes and injects faults.
# The harness then rotates every log out, drains and accounts.


def processor_killed(phase: Phase) -> None:
    h = phase.harness
    phase.crash_window = True
    phase.cluster(AURORA_MYSQL_3, instances=2, bytes_per_min=600_000)
    phase.cluster(AURORA_POSTGRESQL, bytes_per_min=600_000)
    phase.write(h.durations.minutes)
    h.services.kill("processor-1")
    phase.evidence["processor SIGKILL"] = 1
    phase.write(h.durations.minutes)
    h.start_processor(1)
    phase.write(h.durations.minutes)


def processors_rebalanced(phase: Phase) -> None:
    h = phase.harness
    phase.cluster(AURORA_MYSQL_3, instances=2, bytes_per_min=400_000)
    phase.cluster(AURORA_POSTGRESQL, bytes_per_min=400_000)
    phase.write(h.durations.minutes)
    h.start_processor(3)
    phase.evidence["processor added"] = 1
    phase.write(h.durations.minutes + 1)
    h.services.stop_one("processor-3")
    phase.evidence["processor removed"] = 1
    phase.write(h.durations.minutes)


def discovery_killed(phase: Phase) -> None:
    h = phase.harness
    phase.cluster(AURORA_MYSQL_3, instances=2)
    phase.cluster(AURORA_POSTGRESQL, instances=2)
    phase.write(h.durations.minutes)
    h.services.kill("discovery-1")
    phase.evidence["discovery SIGKILL"] = 1
    phase.write(h.durations.minutes + 1)
    h.start_discovery(1)
    phase.write(h.durations.minutes)


def valkey_restarted(phase: Phase) -> None:
    h = phase.harness
    phase.cluster(AURORA_MYSQL_3, instances=2)
    phase.cluster(AURORA_POSTGRESQL)
    phase.write(h.durations.minutes)
    h.stack.stop_service("valkey")
    phase.write(1)
    h.stack.restart_service("valkey")
    phase.evidence["valkey restarted (empty)"] = 1
    phase.write(h.durations.minutes + 1)


def kafka_stopped(phase: Phase) -> None:
    h = phase.harness
    phase.cluster(AURORA_MYSQL_3)
    phase.cluster(AURORA_POSTGRESQL)
    phase.write(h.durations.minutes)
    h.stack.stop_service("kafka")
    phase.evidence[f"kafka down {h.durations.kafka_down_s:g} s"] = 1
    phase.write_for(h.durations.kafka_down_s)
    h.stack.restart_service("kafka")
    phase.write(h.durations.minutes + 1)


def openobserve_faults(phase: Phase) -> None:
    h = phase.harness
    phase.cluster(AURORA_MYSQL_3)
    phase.cluster(AURORA_POSTGRESQL)
    phase.write(1)
    first = _last_seq(h)
    h.openobserve_faults({"fail_next": {"count": 1_000_000, "status": 503}})
    phase.write_for(h.durations.openobserve_503_s)
    slow = _last_seq(h)
    h.openobserve_faults({"fail_next": None, "latency": {"seconds": 1.5}})
    phase.write_for(h.durations.openobserve_slow_s)
    failing = _last_seq(h)
    h.openobserve_faults({"latency": None, "record_failure": {"every_kth": 7}})
    phase.write(h.durations.minutes + 1)
    h.openobserve_faults({"record_failure": None})
    answers = [r for r in h.openobserve_requests() if int(r.get("seq", 0)) > first]
    phase.evidence["503 answers"] = sum(1 for r in answers if r.get("status") == 503)
    phase.evidence["answers delayed 1.5 s"] = sum(
        1 for r in answers if slow < int(r["seq"]) <= failing and r.get("status") == 200
    )
    phase.dead_letters_expected = True


def _last_seq(harness: Harness) -> int:
    return max((int(r.get("seq", 0)) for r in harness.openobserve_requests()), default=0)


def rds_throttling(phase: Phase) -> None:
    h = phase.harness
    phase.cluster(AURORA_MYSQL_3, instances=2)
    phase.cluster(AURORA_POSTGRESQL)
    phase.fault("throttled at random", Throttle(probability=0.4))
    phase.fault("over budget", Budget(burst=20, rate_per_s=2.0))
    phase.write_until_fired(2 * h.durations.minutes + 1)
    phase.clear_faults()
    phase.write(1)


def rds_pages(phase: Phase) -> None:
    h = phase.harness
    truncated, overlapping, binary = (
        phase.cluster(AURORA_MYSQL_3, bytes_per_min=400_000)[0] for _ in range(3)
    )
    # Rotation mid-read on a log that rotates to a new name whenever it rotates (PostgreSQL at
    # log_rotation_size). MySQL's error, slow and general logs rotate only at the hour, so a
    # forced rotation inside the hour would make the simulator reuse that hour's name at the
    # next one: content replaced under a name, which RDS never does.
    (rotated,) = phase.cluster(AURORA_POSTGRESQL, bytes_per_min=400_000)
    # Pages capped at 64 KiB, so a minute of a busy log takes several pages.
    h.fleet.api.set(page_cap_bytes=65_536)
    phase.fault("truncated pages", Truncate(instance=truncated, count=5))
    phase.fault("overlapping pages", Overlap(instance=overlapping, lines=4, count=10))
    phase.fault("binary-data errors", BinaryData(instance=binary, file="general", count=10))
    phase.fault("rotations mid-read", RotateMidRead(instance=rotated, count=3))
    try:
        phase.write_until_fired(2 * h.durations.minutes + 1)
    finally:
        h.fleet.api.set(page_cap_bytes=1_048_576)

    phase.clear_faults()
    phase.write(1)


def deleted_before_read(phase: Phase) -> None:
    """PostgreSQL files (a new name each, rotating every two simulated minutes) deleted the
    moment they rotate out, while no processor runs: readers that are too slow."""
    options = LogOptions(postgresql_rotation_age_s=120)
    (pg,) = phase.cluster(AURORA_POSTGRESQL, bytes_per_min=300_000, options=options)
    phase.cluster(AURORA_MYSQL_3)  # untouched: must come through whole
    _too_slow_to_read(phase, "files deleted", DeleteBeforeRead(instance=pg))


def deleted_before_read_chain(phase: Phase) -> None:
    """The same for a MySQL 2 ``server_audit.log`` chain rotating every 60 kB: each file that
    rotates out to ``.1`` goes at once, while older ones stay (and shift on).

    A step writes about 25 kB of audit log, well under the 60 kB a file takes: a file is never
    created and deleted within one step, so each is on disk at some step's end (at 75 kB a step
    every fifth or so was not: no listing could show it, nobody could report it)."""
    options = LogOptions(audit_style="server_audit", server_audit_rotate_bytes=60_000)
    (mysql,) = phase.cluster(AURORA_MYSQL_2, bytes_per_min=100_000, options=options)
    _too_slow_to_read(
        phase,
        "files deleted",
        DeleteBeforeRead(instance=mysql, file="audit"),
        minutes=3 * phase.harness.durations.minutes + 3,
    )


def _too_slow_to_read(
    phase: Phase, what: str, fault: DeleteBeforeRead, *, minutes: int | None = None
) -> None:
    h = phase.harness
    listed = [fault.instance] if fault.instance else phase.instances
    # The first step too: a new instance is only polled once discovery's inventory has it,
    # and a file deleted before that was never listed either.
    phase.write(1, listed=listed)
    h.services.stop_one("processor-1")
    h.services.stop_one("processor-2")
    phase.fault(what, fault)
    # Each step waits until discovery has listed the instance after it: every file that is on
    # disk at a step's end is listed at least once before it goes (a file nobody ever saw
    # cannot be reported, here or on AWS). The scenarios' rates see to it that every file is.
    phase.write_until_fired(
        2 * h.durations.minutes + 2 if minutes is None else minutes,
        step_s=4.0,
        most=12,
        listed=listed,
    )
    time.sleep(4)  # discovery notices the deletions while nothing reads
    phase.clear_faults()
    h.start_processor(1)
    h.start_processor(2)
    phase.write(1)
    unseen = _unlistable(phase, "deleted_before_read")
    if unseen:
        raise RuntimeError(
            f"{len(unseen)} files created and deleted within one step, never listable: {unseen}"
        )


def malformed_input(phase: Phase) -> None:
    h = phase.harness
    (mysql,) = phase.cluster(AURORA_MYSQL_3)
    (pg,) = phase.cluster(AURORA_POSTGRESQL)
    phase.write(1)
    phase.fault("garbage bytes (mysql)", GarbageBytes(instance=mysql, byte_count=200, count=6))
    phase.fault("garbage bytes (pg)", GarbageBytes(instance=pg, byte_count=200, count=3))
    phase.fault(
        "5 MB lines (general)", HugeLine(instance=mysql, file="general", line_bytes=5 << 20)
    )
    phase.fault("5 MB lines (pg)", HugeLine(instance=pg, line_bytes=5 << 20))
    bad = [
        b"\x00\xff\xfe garbage \x80\x81",
        b"not json at all",
        b"{}",
        b'{"instance_id": 7}',
        json.dumps({"schema_version": 999, "instance_id": mysql}).encode(),
        b"[" * 10_000,
    ]
    keys = [f"{phase.prefix}-bad-{n}".encode() for n in range(len(bad))]
    asyncio.run(_produce(h.kafka, h.env["AURORA_KAFKA__TOPIC"], list(zip(keys, bad, strict=True))))
    phase.malformed_keys = set(keys)
    phase.evidence["malformed events produced"] = len(bad)
    phase.write_until_fired(h.durations.minutes + 2)
    phase.clear_faults()


SCENARIOS: dict[str, Callable[[Phase], None]] = {
    "processor-sigkill": processor_killed,
    "processor-rebalance": processors_rebalanced,
    "discovery-sigkill": discovery_killed,
    "valkey-restart": valkey_restarted,
    "kafka-stopped": kafka_stopped,
    "openobserve-503-slow-failed": openobserve_faults,
    "rds-throttling": rds_throttling,
    "rds-pages": rds_pages,
    "deleted-before-read": deleted_before_read,
    "deleted-before-read-chain": deleted_before_read_chain,
    "malformed-input": malformed_input,
}


# Kafka helpers (the harness's own clients, not the services').


async def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_request_size=2 << 20)
    await producer.start()
    try:
        for key, value in messages:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def _wait_for_topic(bootstrap: str, topic: str, timeout_s: float) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        while topic not in await consumer.topics():
            if time.monotonic() >= deadline:
                raise RuntimeError(f"topic {topic} never appeared")
            await asyncio.sleep(0.5)
    finally:
        await consumer.stop()


async def _read_all(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    """Every message of ``topic`` up to its current end (empty if it does not exist)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_bytes=16 << 20
    )
    await consumer.start()
    try:
        if topic not in await consumer.topics():
            return []
        # The consumer's topics() does not fill its own metadata; a producer's lookup does.
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            numbers = await producer.partitions_for(topic)
        finally:
            await producer.stop()
        assigned = [TopicPartition(topic, n) for n in sorted(numbers)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        found: list[tuple[bytes | None, bytes]] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in assigned]
            if all(at >= ends[tp] for at, tp in zip(positions, assigned, strict=True)):
                break
            batches = await consumer.getmany(timeout_ms=1000)
            for messages in batches.values():
                found.extend((m.key, m.value or b"") for m in messages)
        return found
    finally:
        await consumer.stop()


# Accounting.


@dataclass
class Ledger:
    """What the system did with one phase's entries, as seen at one moment."""

    rows: dict[str, Row]
    reasons: Counter[str]
    missing: list[TruthEntry]
    lost_why: Counter[str] = field(default_factory=Counter)  # lost files by deletion reason
    unexpected: list[tuple[str, str]] = field(default_factory=list)  # (log type, record)


Alt = tuple[str, str, int, int]  # (instance, log type, offset, length)


def _alt_key(record: dict[str, Any], log_type: str) -> Alt:
    return (str(record["instance"]), log_type, int(record["offset"]), int(record["length"]))


class _Pool:
    """Records to match entries against: by exact bytes, then the rest by position."""

    def __init__(self, records: list[tuple[tuple[str, str, str], Alt]]) -> None:
        self.records = records
        self.keys: Counter[tuple[str, str, str]] = Counter(key for key, _alt in records)
        self.alt: Counter[Alt] = Counter()

    def take_key(self, key: tuple[str, str, str]) -> bool:
        if self.keys[key] <= 0:
            return False
        self.keys[key] -= 1
        return True

    def by_position(self) -> None:
        """Index the records no entry matched by bytes, by their position."""
        left = Counter(self.keys)
        for key, alt in self.records:
            if left[key] > 0:
                left[key] -= 1
                self.alt[alt] += 1

    def take_alt(self, alt: Alt) -> bool:
        if self.alt[alt] <= 0:
            return False
        self.alt[alt] -= 1
        return True


def _tracked(harness: Harness, prefix: str) -> list[dict[str, Any]]:
    """The tracking table's items of the phase's instances, as plain values."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=harness.env["AURORA_AWS__ENDPOINT_URL"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    items: list[dict[str, Any]] = []
    paginator = client.get_paginator("scan")
    for page in paginator.paginate(TableName=harness.env["AURORA_DYNAMODB__TABLE"]):
        items.extend(
            {name: next(iter(value.values())) for name, value in item.items()}
            for item in page.get("Items", [])
            if item["pk"]["S"].startswith(prefix)
        )
    return items


def _lost_reported(harness: Harness, prefix: str) -> dict[str, tuple[int, int]]:
    found: dict[str, tuple[int, int]] = defaultdict(lambda: (0, 0))
    for item in _tracked(harness, prefix):
        if item.get("status") != "lost":
            continue
        log_type = log_type_of(str(item.get("log_kind", "?")))
        files, lost = found[log_type]
        found[log_type] = (files + 1, lost + int(item.get("lost_bytes", 0)))
    return dict(found)


def _write_details(harness: Harness, phase: Phase, ledger: Ledger, path: Path) -> None:
    """What a failed scenario's reader needs: truth files, tracking items, odd records."""
    files = [
        {
            "content_id": f.content_id,
            "instance": f.instance_id,
            "kind": f.kind,
            "names": f.names,
            "deleted": f.delete_reason,
            "size": f.size,
            "entries": f.entries,
        }
        for f in harness.fleet.truth.files()
        if f.instance_id.startswith(phase.prefix)
    ]
    missing = [
        {"content_id": e.content_id, "name": e.name, "offset": e.offset, "length": e.length}
        for e in ledger.missing[:200]
    ]
    details = {
        "truth_files": files,
        "tracking": _tracked(harness, phase.prefix),
        "missing_entries": missing,
        "unexpected_records": [text for _kind, text in ledger.unexpected[:200]],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(details, indent=1, default=str))


def account(harness: Harness, phase: Phase) -> Ledger:
    fleet = harness.fleet
    entries = [e for e in fleet.truth.entries() if e.instance_id.startswith(phase.prefix)]
    deleted = {f.content_id: str(f.delete_reason) for f in fleet.truth.files() if f.deleted}
    rows: dict[str, Row] = defaultdict(Row)
    for entry in entries:
        rows[log_type_of(entry.kind)].written += 1

    delivered = delivered_rows(harness.openobserve, phase.prefix)
    shipped: list[tuple[tuple[str, str, str], Alt]] = []
    described: dict[Alt, str] = {}
    for log_type, found in delivered.items():
        ids = Counter(str(row["record_id"]) for row in found)
        rows[log_type].duplicated = sum(n - 1 for n in ids.values())
        seen: set[str] = set()
        for row in found:
            if str(row["record_id"]) in seen:
                continue
            seen.add(str(row["record_id"]))
            shipped.append((record_key(row, log_type), _alt_key(row, log_type)))
            described[_alt_key(row, log_type)] = (
                f"{row.get('log_file')}@{row.get('offset')}+{row.get('length')}"
                f" {str(row.get('message'))[:60]!r}"
            )

    letters: list[tuple[tuple[str, str, str], Alt]] = []
    reasons: Counter[str] = Counter()
    events_dead = 0
    dlq = harness.env["AURORA_KAFKA__DEAD_LETTER_TOPIC"]
    for key, value in asyncio.run(_read_all(harness.kafka, dlq)):
        letter = json.loads(value)
        if letter.get("kind") == "event":
            if key in phase.malformed_keys:
                events_dead += 1
                reasons[f"event:{letter.get('reason')}"] += 1
            continue
        record = letter.get("payload")
        if not isinstance(record, dict) or not str(record.get("instance", "")).startswith(
            phase.prefix
        ):
            continue
        stream = str(letter.get("source", {}).get("stream", ""))
        log_type = next((t for t, s in STREAMS.items() if s == stream), stream)
        reasons[f"record:{letter.get('reason')}"] += 1
        letters.append((record_key(record, log_type), _alt_key(record, log_type)))
    if phase.malformed_keys:
        rows[EVENTS].written = len(phase.malformed_keys)
        rows[EVENTS].dead_lettered = events_dead

    # Exact bytes first; then what is left, by position (entries the pipeline had to alter).
    pools = [_Pool(shipped), _Pool(letters)]
    unmatched: list[TruthEntry] = []
    for entry in entries:
        found_in = next(
            (n for n, pool in enumerate(pools) if pool.take_key(truth_key(entry))), None
        )
        tally = rows[log_type_of(entry.kind)]
        if found_in == 0:
            tally.delivered += 1
        elif found_in == 1:
            tally.dead_lettered += 1
        else:
            unmatched.append(entry)
    for pool in pools:
        pool.by_position()
    missing: list[TruthEntry] = []
    for entry in unmatched:
        log_type = log_type_of(entry.kind)
        alt = (entry.instance_id, log_type, entry.offset, entry.length)
        tally = rows[log_type]
        if pools[0].take_alt(alt):
            tally.delivered += 1
        elif pools[1].take_alt(alt):
            tally.dead_lettered += 1
        else:
            missing.append(entry)
    unexpected = [(alt[1], described[alt]) for alt, n in pools[0].alt.items() if n > 0]
    for (_instance, log_type, _offset, _length), n in pools[0].alt.items():
        rows[log_type].unexpected += n
    lost_files: dict[str, set[str]] = defaultdict(set)
    for entry in missing:
        tally = rows[log_type_of(entry.kind)]
        if entry.content_id in deleted:
            tally.lost_entries += 1
            lost_files[log_type_of(entry.kind)].add(entry.content_id)
        else:
            tally.unexplained += 1
    lost_why: Counter[str] = Counter()
    for log_type, contents in lost_files.items():
        rows[log_type].lost_files = len(contents)
        lost_why.update(deleted[content] for content in contents)
    for log_type, (files, lost_bytes) in _lost_reported(harness, phase.prefix).items():
        rows[log_type].lost_reported_files = files
        rows[log_type].lost_reported_bytes = lost_bytes
    shown = {t: r for t, r in rows.items() if r.written or r.delivered or r.unexpected}
    return Ledger(shown, reasons, missing, lost_why, sorted(unexpected))


def _settled(row: Row) -> bool:
    return (
        row.unexplained == 0
        and row.unexpected == 0
        and row.lost_files == row.lost_reported_files
        and (row.written == row.delivered + row.dead_lettered + row.lost_entries)
    )


def run_scenario(harness: Harness, name: str, scenario: Callable[[Phase], None]) -> Result:
    prefix = f"x{uuid.uuid4().hex[:5]}-{name[:12].strip('-')}"
    phase = Phase(harness, prefix)
    started = time.monotonic()
    print(f"== {name} ({prefix})", flush=True)
    problems: list[str] = []
    try:
        scenario(phase)
    except Exception as exc:  # the scenario failed: report it and go on
        problems.append(f"scenario raised {type(exc).__name__}: {str(exc).splitlines()[0]}")
        phase.clear_faults()
    # Rotate everything out, so no entry waits for a successor to end it.
    for instance in phase.instances:
        for kind in harness.fleet.instance(instance).profile.rates:
            harness.fleet.rotate(instance, kind)
    written_at = time.monotonic()
    deadline = written_at + harness.durations.drain_timeout_s
    ledger = account(harness, phase)
    lags: dict[str, float] = {}
    while True:
        for log_type, row in ledger.rows.items():
            if log_type not in lags and _settled(row):
                lags[log_type] = time.monotonic() - written_at
        if len(lags) == len(ledger.rows) or time.monotonic() >= deadline:
            break
        try:
            harness.services.check_alive()
        except AssertionError as exc:
            problems.append(str(exc).splitlines()[0])
            break
        time.sleep(2)
        ledger = account(harness, phase)
    for log_type, row in ledger.rows.items():
        row.lag_s = lags.get(log_type)
    problems.extend(_verdict(phase, ledger))
    if problems:
        details = harness.services.logs.parent / "failures" / f"{name}.json"
        _write_details(harness, phase, ledger, details)
        problems.append(f"details: {details}")
    # The phase's clusters go: their files no longer count, and they stop writing.
    for cluster in phase.clusters:
        harness.fleet.remove_cluster(cluster)
    print(f"   {time.monotonic() - started:.0f} s, {problems or 'ok'}", flush=True)
    return Result(
        name, ledger.rows, problems, dict(phase.evidence), ledger.reasons, ledger.lost_why
    )


def _verdict(phase: Phase, ledger: Ledger) -> list[str]:
    problems = []
    written = sum(row.written for row in ledger.rows.values())
    if written == 0:
        problems.append("nothing written")
    for what, times in phase.evidence.items():
        if times <= 0:
            problems.append(f"fault never fired: {what}")
    if phase.dead_letters_expected and not any(
        reason.startswith("record:") for reason in ledger.reasons
    ):
        problems.append("no record was dead-lettered")
    for log_type, row in sorted(ledger.rows.items()):
        if row.unexplained:
            examples = sorted(
                f"{e.name}@{e.offset}" for e in ledger.missing if log_type_of(e.kind) == log_type
            )[:3]
            problems.append(
                f"{log_type}: {row.unexplained} entries lost unexplained, e.g. {examples}"
            )
        if row.lost_files != row.lost_reported_files:
            problems.append(
                f"{log_type}: {row.lost_files} files lost, {row.lost_reported_files} reported"
            )
        if row.unexpected:
            examples = [text for kind, text in ledger.unexpected if kind == log_type][:3]
            problems.append(
                f"{log_type}: {row.unexpected} records the simulator never wrote, e.g. {examples}"
            )
        if row.duplicated and not phase.crash_window:
            problems.append(f"{log_type}: {row.duplicated} duplicates without a crash")
        if log_type == EVENTS and row.dead_lettered != row.written:
            problems.append(f"{row.written - row.dead_lettered} malformed events not dead-lettered")
    return problems


def table(results: Sequence[Result]) -> str:
    header = (
        "scenario",
        "log type",
        "written",
        "delivered",
        "duplicated",
        "dead-lettered",
        "lost-reported",
        "lost-actual",
        "max lag",
        "verdict",
    )
    lines: list[tuple[str, ...]] = [header]
    for result in results:
        for log_type, row in sorted(result.rows.items()):
            lost_reported = (
                f"{row.lost_reported_files} files/{row.lost_reported_bytes} B"
                if row.lost_reported_files
                else "0"
            )
            lost_actual = f"{row.lost_files} files/{row.lost_entries + row.unexplained} entries"
            if not row.lost_files and not row.unexplained:
                lost_actual = "0"
            lines.append(
                (
                    result.scenario,
                    log_type,
                    str(row.written),
                    str(row.delivered),
                    str(row.duplicated),
                    str(row.dead_lettered),
                    lost_reported,
                    lost_actual,
                    "-" if row.lag_s is None else f"{row.lag_s:.0f} s",
                    "ok" if result.passed else "FAIL",
                )
            )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for number, line in enumerate(lines):
        out.append(
            "| "
            + " | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
            + " |"
        )
        if number == 0:
            out.append("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    notes = []
    for result in results:
        fired = ", ".join(f"{what} x{times}" for what, times in result.evidence.items())
        reasons = ", ".join(f"{r} x{n}" for r, n in sorted(result.reasons.items()))
        why = ", ".join(f"{r} x{n}" for r, n in sorted(result.lost_why.items()))
        notes.append(
            f"- {result.scenario}: faults fired: {fired or '-'}; dead letters: {reasons or '-'}"
            f"; files lost, by why the simulator deleted them: {why or '-'}"
        )
        notes.extend(f"  - FAIL: {problem}" for problem in result.problems)
    return "\n".join([*out, "", *notes])


def run_harness(workdir: Path, durations: Durations, names: Sequence[str]) -> list[Result]:
    """Start the stack and the replicas, run the named scenarios, stop everything."""
    shutil.rmtree(workdir, ignore_errors=True)
    logs = workdir / "logs"
    logs.mkdir(parents=True)
    stack = LocalStack(workdir / "stack")
    results: list[Result] = []
    try:
        print("starting Kafka, Valkey, moto + simulator and the OpenObserve contract server...")
        stack.start(["kafka", "valkey", "moto", "openobserve"])
        stack_env = stack.env()
        env = pipeline_env(
            f"chaos-{uuid.uuid4().hex[:6]}",
            kafka_bootstrap=stack_env["AURORA_KAFKA__BOOTSTRAP_SERVERS"],
            valkey_url=stack_env["AURORA_VALKEY__URL"],
            moto_url=stack_env["AURORA_AWS__ENDPOINT_URL"],
            openobserve_url=stack_env["AURORA_OPENOBSERVE__URL"],
            openobserve_credentials=(OPENOBSERVE_USER, OPENOBSERVE_PASSWORD),
        )
        env["AURORA_DISCOVERY__INCLUDE_CLUSTERS"] = json.dumps(["x*"])
        hour_us = 3_600_000_000
        now_us = int(time.time() * 1e6)
        # Three hours back: the run stays within OpenObserve's five-hour ingestion window.
        start_us = now_us - now_us % hour_us - 3 * hour_us
        fleet = Fleet(env["AURORA_AWS__ENDPOINT_URL"], clock=SimClock(start_us / 1e6), seed="chaos")
        services = Services(env, logs)
        with httpx.Client(base_url=env["AURORA_OPENOBSERVE__URL"], timeout=60) as client:
            harness = Harness(stack, services, fleet, env, durations, client)
            try:
                for number in (1, 2):
                    harness.start_discovery(number)
                    harness.start_processor(number)
                topic = env["AURORA_KAFKA__TOPIC"]
                asyncio.run(_wait_for_topic(harness.kafka, topic, timeout_s=60))
                for name in names:
                    results.append(run_scenario(harness, name, SCENARIOS[name]))
                    _restore(harness)
            finally:
                leftovers = services.stop()
                fleet.close()
                if leftovers:
                    print(f"replicas left behind: {leftovers}", file=sys.stderr)
        print(f"service logs: {logs}")
    finally:
        stack.stop()
    return results


def _restore(harness: Harness) -> None:
    """Bring the standard replicas back if a scenario left one down."""
    for number in (1, 2):
        if f"discovery-{number}" not in harness.services.running:
            harness.start_discovery(number)
        if f"processor-{number}" not in harness.services.running:
            harness.start_processor(number)
    for name in ("processor-3",):
        if name in harness.services.running:
            harness.services.stop_one(name)
    harness.openobserve.delete("/_contract/faults")
    harness.fleet.faults.clear()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="compressed durations (make test)")
    parser.add_argument(
        "--only", default="", help=f"comma-separated scenarios; from {', '.join(SCENARIOS)}"
    )
    parser.add_argument("--workdir", type=Path, default=ROOT / ".stack" / "chaos")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenarios: {unknown}")
    durations = Durations.short() if args.short else Durations.full()
    started = time.monotonic()
    results = run_harness(args.workdir, durations, names)
    print()
    print(table(results))
    failed = [r.scenario for r in results if not r.passed]
    elapsed = time.monotonic() - started
    print(f"\n{len(results) - len(failed)}/{len(results)} scenarios passed in {elapsed:.0f} s")
    return 1 if failed or len(results) != len(names) else 0


if __name__ == "__main__":
    sys.exit(main())
