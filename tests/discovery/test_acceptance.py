"""Issue 5's acceptance, end to end: a simulated fleet, discovery replicas as real processes.

Every replica is ``python -m discovery`` with its own AWS access key id, so the simulator's
request log attributes each RDS call to the replica that made it. The stack is the session's:
Kafka, Valkey, moto with the simulator extension. Checked here:

- 200 instances, 3 replicas: every file present at the end has an event carrying its final
  name and size, and a tracking item that records it as published;
- each instance is polled by one replica at a time: in the request log, an instance's
  DescribeDBLogFiles calls form runs by replica that never interleave, a new owner's first
  call comes after the old owner's last call ended, and no replica gets an instance back;
- killing a replica (SIGKILL, no goodbye) moves its instances within the stated bound, and a
  replica that joins gets its share;
- under the simulator's own throttling budget, the replicas together stay inside the
  configured rate (replayed as a token bucket over the request log) and every growth is
  still published.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from aiokafka import AIOKafkaConsumer, TopicPartition

from common.clients.kafka import ensure_topics
from common.events import LogFileEvent, decode_event
from common.settings import KafkaSettings
from common.tracking import TrackingTable
from discovery.membership import assign
from simulator import (
    AURORA_MYSQL_3,
    AURORA_POSTGRESQL,
    Budget,
    Fleet,
    LogProfile,
    Rate,
    RequestRecord,
    Skew,
    Throttle,
    conforms_to_budget,
)
from tests.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
LEASE_TTL_S = 3.0
RENEW_S = 1.0
MIN_POLL_S = 1.0
MAX_POLL_S = 3.0
BUDGET_RATE = 25.0
BUDGET_BURST = 10
# Lease TTL + one renewal cycle (ownership moves) + one poll interval (the first poll).
HANDOVER_BOUND_S = LEASE_TTL_S + RENEW_S + MAX_POLL_S
# A call reaches the server a little after its token was taken (up to a few hundred ms on a
# loaded 2-core test machine): replayed over arrival times, the bucket needs this many extra
# tokens of slack. A rate above the budget still fails, since the slack never refills.
ARRIVAL_JITTER_TOKENS = round(BUDGET_RATE * 0.5)


@dataclass
class Replica:
    """One ``python -m discovery`` process."""

    name: str
    access_key_id: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        """SIGKILL: no drain, no lease release, no goodbye."""
        self.process.kill()
        self.process.wait(timeout=10)

    def terminate(self) -> None:
        """SIGTERM, once (a second one means "stop now" to the runner)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self) -> int:
        return self.process.wait(timeout=20)

    def events(self) -> list[dict[str, Any]]:
        lines = self.log_path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@dataclass
class Harness:
    """What every replica of one test shares."""

    tmp_path: Path
    env: dict[str, str]
    replicas: list[Replica] = field(default_factory=list)

    def start(self, name: str) -> Replica:
        key = f"AKIADISC{name.upper():0<12}"[:20]
        log_path = self.tmp_path / f"{name}.log"
        env = {
            **self.env,
            "AURORA_DISCOVERY__REPLICA_ID": name,
            "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": "replica-secret",
        }
        with log_path.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "discovery"],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        replica = Replica(name, key, process, log_path)
        self.replicas.append(replica)
        return replica

    def stop(self, replicas: Sequence[Replica]) -> list[int]:
        """SIGTERM them all at once; their exit statuses."""
        for replica in replicas:
            replica.terminate()
        return [replica.wait() for replica in replicas]

    def stop_all(self) -> None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.stop(self.replicas)
        for replica in self.replicas:
            if replica.process.poll() is None:
                replica.kill()


@pytest.fixture
def harness(
    tmp_path: Path,
    kafka_bootstrap: str,
    valkey_url: str,
    moto_url: str,
    aws_environ: dict[str, str],
    unique_name: Callable[[str], str],
    key_prefix: str,
) -> Iterator[Harness]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AURORA_", "AWS_"))
    }
    env = {
        **inherited,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AURORA_AWS__ENDPOINT_URL": moto_url,
        "AURORA_AWS__MAX_ATTEMPTS": "1",
        "AURORA_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AURORA_KAFKA__TOPIC": unique_name("events"),
        "AURORA_KAFKA__TOPIC_PARTITIONS": "6",
        "AURORA_VALKEY__URL": valkey_url,
        "AURORA_VALKEY__KEY_PREFIX": key_prefix,
        "AURORA_DYNAMODB__TABLE": unique_name("tracking"),
        "AURORA_DYNAMODB__CREATE_TABLE_IF_MISSING": "true",
        "AURORA_RDS__BUDGET_RATE_PER_S": str(BUDGET_RATE),
        "AURORA_RDS__BUDGET_BURST": str(BUDGET_BURST),
        "AURORA_DISCOVERY__BUDGET_SHARE": "1.0",
        "AURORA_DISCOVERY__MIN_POLL_INTERVAL_S": str(MIN_POLL_S),
        "AURORA_DISCOVERY__MAX_POLL_INTERVAL_S": str(MAX_POLL_S),
        "AURORA_DISCOVERY__FULL_LISTING_INTERVAL_S": "20",
        "AURORA_DISCOVERY__INVENTORY_INTERVAL_S": "5",
        "AURORA_DISCOVERY__LEASE_TTL_S": str(LEASE_TTL_S),
        "AURORA_DISCOVERY__LEASE_RENEW_INTERVAL_S": str(RENEW_S),
        "AURORA_DISCOVERY__MEMBER_TTL_S": str(LEASE_TTL_S),
        "AURORA_DISCOVERY__POLL_CONCURRENCY": "4",
        "AURORA_HTTP__HOST": "127.0.0.1",
        "AURORA_HTTP__PORT": "0",
        "AURORA_LOGGING__FORMAT": "json",
        "AURORA_SERVICE__SHUTDOWN_DEADLINE_S": "5",
        "AURORA_SERVICE__TERMINATION_GRACE_PERIOD_S": "10",
    }
    harness = Harness(tmp_path, env)
    yield harness
    harness.stop_all()


def _add_fleet(fleet: Fleet, prefix: str, clusters: int) -> list[str]:
    """``clusters`` two-instance clusters, a fifth PostgreSQL; most instances nearly idle."""
    instances: list[str] = []
    skew = Skew(hot_fraction=0.05, hot_factor=3, idle_fraction=0.8)
    factors = skew.factors(clusters * 2, random.Random(5))
    for number in range(clusters):
        engine = AURORA_POSTGRESQL if number % 5 == 0 else AURORA_MYSQL_3
        cluster = fleet.add_cluster(f"{prefix}-{number:03d}", engine, instances=0)
        for member in range(2):
            factor = factors[number * 2 + member]
            profile = (
                LogProfile.uniform(engine, Rate(bytes_per_min=300 * factor))
                if factor
                else LogProfile.idle(engine)
            )
            instances.append(fleet.add_instance(cluster.id, profile=profile).id)
    return instances


class CallLog:
    """The simulator's request log, fetched incrementally (the log only grows)."""

    def __init__(self, fleet: Fleet) -> None:
        self._fleet = fleet
        self.start = fleet.requests.last_seq()
        self._seen = self.start
        self.records: list[RequestRecord] = []

    def refresh(self) -> list[RequestRecord]:
        new = self._fleet.requests.records(since=self._seen)
        if new:
            self._seen = new[-1].seq
            self.records.extend(new)
        return self.records

    def mark(self) -> int:
        """A position in the log: pass it to :meth:`polls` to see only later calls."""
        self.refresh()
        return self._seen

    def polls(self, since: int = 0) -> dict[str, list[RequestRecord]]:
        """DescribeDBLogFiles calls per instance, in arrival order."""
        by_instance: dict[str, list[RequestRecord]] = defaultdict(list)
        for record in self.refresh():
            if (
                record.seq > since
                and record.action == "DescribeDBLogFiles"
                and record.instance is not None
            ):
                by_instance[record.instance].append(record)
        return by_instance


def _assert_exclusive(polls: dict[str, list[RequestRecord]]) -> int:
    """No instance polled by two replicas at once; returns the number of hand-overs."""
    handovers = 0
    for instance, records in polls.items():
        owners: list[str | None] = []
        previous: RequestRecord | None = None
        for record in records:
            if previous is not None and record.access_key_id != previous.access_key_id:
                ended = previous.wall_time + previous.duration_ms / 1000
                assert record.wall_time >= ended, (
                    f"{instance}: {record.access_key_id} polled at {record.wall_time:.3f} while "
                    f"{previous.access_key_id}'s call was still running (until {ended:.3f})"
                )
                handovers += 1
            if not owners or owners[-1] != record.access_key_id:
                assert record.access_key_id not in owners, (
                    f"{instance} went back to {record.access_key_id}: {owners}"
                )
                owners.append(record.access_key_id)
            previous = record
    return handovers


def _worst_gap_s(polls: dict[str, list[RequestRecord]], *, after: float) -> float:
    """The longest time between two successive polls of one instance, among polls that
    started after ``after`` (epoch s) and the poll before each."""
    worst = 0.0
    for records in polls.values():
        for previous, record in itertools.pairwise(records):
            if record.wall_time >= after:
                worst = max(worst, record.wall_time - previous.wall_time)
    return worst


def _busiest_window(records: Sequence[RequestRecord], seconds: float) -> int:
    """The most calls that reached the API (not throttled) within any ``seconds``."""
    times = sorted(r.wall_time for r in records if r.outcome != "throttled")
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] > seconds:
            start += 1
        best = max(best, end - start + 1)
    return best


def _windows(records: Sequence[RequestRecord]) -> dict[float, int]:
    """Calls in the busiest window of each length (seconds)."""
    return {seconds: _busiest_window(records, seconds) for seconds in (1.0, 2.0, 5.0, 10.0, 30.0)}


def _busiest_second(records: Sequence[RequestRecord]) -> int:
    return _busiest_window(records, 1.0)


async def _events(bootstrap: str, topic: str) -> list[LogFileEvent]:
    """Every event on the topic so far (no consumer group: every partition from the start)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
        events = []
        while True:
            batches = await consumer.getmany(timeout_ms=1500)
            if not batches:
                return events
            for records in batches.values():
                events.extend(decode_event(record.value) for record in records)
    finally:
        await consumer.stop()


async def _assert_everything_published(
    fleet: Fleet, instances: Sequence[str], bootstrap: str, topic: str, table: TrackingTable
) -> int:
    """Every non-empty file on disk is tracked under one identity whose last event carries
    its name and final size, and the item records that event as published. Returns the
    number of files checked."""
    expected = {
        (instance, name): fleet.path(instance, name).stat().st_size
        for instance in instances
        for name in fleet.log_files(instance)
    }
    expected = {key: size for key, size in expected.items() if size > 0}
    identities: dict[tuple[str, str], str] = {}
    for instance in instances:
        for file in await table.files_of(instance):
            if file.observation.status in {"active", "rotated"}:
                key = (instance, file.observation.log_file)
                assert key not in identities, f"two live identities for {key}"
                identities[key] = file.identity

    async def unpublished() -> dict[tuple[str, str], str]:
        # One identity's events share a partition (key = instance + birth name): the last
        # one read is the last one sent.
        last: dict[tuple[str, str], LogFileEvent] = {}
        for event in await _events(bootstrap, topic):
            last[(event.instance_id, event.file_identity)] = event
        problems = {}
        for (instance, name), size in expected.items():
            identity = identities.get((instance, name))
            event = last.get((instance, identity or ""))
            if identity is None:
                problems[(instance, name)] = "not tracked"
            elif event is None or (event.log_file, event.size_bytes) != (name, size):
                problems[(instance, name)] = f"{identity}: last event {event}, size {size}"
        return problems

    problems: dict[tuple[str, str], str] = {}
    for _attempt in range(20):
        problems = await unpublished()
        if not problems:
            break
        await asyncio.sleep(1.0)
        for instance in {key[0] for key in problems}:  # the owner may have moved on since
            for file in await table.files_of(instance):
                if file.observation.status in {"active", "rotated"}:
                    identities[(instance, file.observation.log_file)] = file.identity
    assert not problems, f"{len(problems)} files not published: {list(problems.items())[:3]}"
    for instance in instances:
        for file in await table.files_of(instance):
            observation = file.observation
            size = expected.get((instance, observation.log_file))
            if size is not None and observation.status in {"active", "rotated"}:
                assert (observation.published_size, observation.published_file) == (
                    size,
                    observation.log_file,
                )
    return len(expected)


@pytest.fixture
async def tracking(harness: Harness, aws_clients: Any) -> AsyncIterator[TrackingTable]:
    async with aws_clients.dynamodb() as dynamodb:
        yield TrackingTable(dynamodb, harness.env["AURORA_DYNAMODB__TABLE"], item_ttl_s=3600)


async def _until_every_instance_polled(
    calls: CallLog, instances: Sequence[str], timeout_s: float
) -> None:
    def done() -> bool:
        return set(instances) <= set(calls.polls())

    await eventually(done, timeout_s=timeout_s, interval_s=1.0)


async def test_two_hundred_instances_three_replicas_kill_and_join(
    fleet: Fleet,
    harness: Harness,
    tracking: TrackingTable,
    ident: Callable[[str], str],
    kafka_bootstrap: str,
    valkey: redis.Redis,
    key_prefix: str,
) -> None:
    prefix = ident("acc")
    harness.env["AURORA_DISCOVERY__INCLUDE_CLUSTERS"] = json.dumps([f"{prefix}-*"])
    topic = harness.env["AURORA_KAFKA__TOPIC"]
    await ensure_topics(
        KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_partitions=6), [topic]
    )
    instances = _add_fleet(fleet, prefix, clusters=100)
    assert len(instances) == 200
    fleet.advance(600)
    calls = CallLog(fleet)
    a, b, c = (harness.start(name) for name in ("a", "b", "c"))
    await _until_every_instance_polled(calls, instances, timeout_s=60)

    # Growth, and the top of an hour (rotations), while the three share the fleet.
    for _ in range(6):
        fleet.advance(330)
        await asyncio.sleep(1.0)
    polls = calls.polls()
    owners = {records[-1].access_key_id for records in polls.values()}
    assert owners == {a.access_key_id, b.access_key_id, c.access_key_id}
    steady = _worst_gap_s(polls, after=time.time() - 6)

    # Kill one: its instances move within the bound.
    theirs = {i for i, records in polls.items() if records[-1].access_key_id == c.access_key_id}
    assert 40 <= len(theirs) <= 100
    killed_at_seq = calls.mark()
    c.kill()
    killed_at = time.time()
    fleet.advance(60)

    # Ownership moves: every one of its leases is held by a survivor within the bound.
    async def leases_moved() -> bool:
        holders = await valkey.mget([f"{key_prefix}discovery:lease:{i}" for i in theirs])
        return all(h is not None and not h.startswith(b"c/") for h in holders)

    await eventually(leases_moved, timeout_s=30, interval_s=0.1)
    leases_moved_s = time.time() - killed_at
    lease_bound_s = LEASE_TTL_S + RENEW_S + 1  # member TTL = lease TTL here; 1 s of slack
    assert leases_moved_s <= lease_bound_s, f"leases moved after {leases_moved_s:.1f} s"

    # And they are polled: at once, as fast as the budget (and moto, one Python process
    # serving everything here) allows.
    def taken_over() -> dict[str, float]:
        after = calls.polls(killed_at_seq)
        return {
            i: min(r.wall_time for r in after[i] if r.access_key_id != c.access_key_id)
            for i in theirs
            if any(r.access_key_id != c.access_key_id for r in after.get(i, []))
        }

    await eventually(lambda: len(taken_over()) == len(theirs), timeout_s=30, interval_s=0.5)
    takeover_s = max(taken_over().values()) - killed_at
    bound_s = HANDOVER_BOUND_S + 2 * len(theirs) / BUDGET_RATE + 3
    assert takeover_s <= bound_s, f"instances polled after {takeover_s:.1f} s (> {bound_s:.1f})"

    # One joins: it gets its rendezvous share, and the others stop polling that share.
    joined_at_seq = calls.mark()
    d = harness.start("d")
    share = assign(instances, ["a", "b", "d"], "d")
    assert 40 <= len(share) <= 100

    def polled_by_d() -> set[str]:
        recent = calls.polls(joined_at_seq)
        return {
            i for i in share if recent.get(i) and recent[i][-1].access_key_id == d.access_key_id
        }

    for _ in range(40):
        fleet.advance(60)
        await asyncio.sleep(1.0)
        if polled_by_d() == share:
            break
    assert polled_by_d() == share, f"the new replica polls {len(polled_by_d())} of {len(share)}"

    # Quiet: let the last growth be published, then check everything.
    fleet.advance(60)
    checked = await _assert_everything_published(fleet, instances, kafka_bootstrap, topic, tracking)
    assert checked > 400
    handovers = _assert_exclusive(calls.polls())
    assert handovers >= len(theirs) + len(share)
    ours = {replica.access_key_id for replica in harness.replicas}
    made = [r for r in calls.refresh() if r.access_key_id in ours]
    ok, first_over = conforms_to_budget(
        made, burst=BUDGET_BURST + ARRIVAL_JITTER_TOKENS, rate_per_s=BUDGET_RATE
    )
    assert ok, f"over the budget at {first_over}; busiest windows {_windows(made)}"
    print(  # the figures quoted in docs/discovery.md; shown with pytest -s
        f"\nacceptance: 200 instances, 3 replicas, budget {BUDGET_RATE:g}/s burst {BUDGET_BURST}:"
        f" leases moved {leases_moved_s:.1f} s after kill -9 (bound {lease_bound_s:.1f} s),"
        f" all polled again after {takeover_s:.1f} s (bound {bound_s:.1f} s);"
        f" busiest second {_busiest_second(made)} calls, busiest 10 s "
        f"{_busiest_window(made, 10.0) / 10:.1f} calls/s; longest gap between two polls of an "
        f"instance in steady state {steady:.1f} s"
    )
    assert harness.stop([a, b, d]) == [0, 0, 0]
    for replica in (a, b, d):
        assert any(e.get("event") == "leases_released" for e in replica.events())


async def test_throttling_is_absorbed_within_the_budget_and_nothing_is_lost(
    fleet: Fleet,
    harness: Harness,
    tracking: TrackingTable,
    ident: Callable[[str], str],
    kafka_bootstrap: str,
) -> None:
    prefix = ident("thr")
    harness.env["AURORA_DISCOVERY__INCLUDE_CLUSTERS"] = json.dumps([f"{prefix}-*"])
    topic = harness.env["AURORA_KAFKA__TOPIC"]
    await ensure_topics(
        KafkaSettings(bootstrap_servers=kafka_bootstrap, topic_partitions=6), [topic]
    )
    instances = _add_fleet(fleet, prefix, clusters=10)
    fleet.advance(600)
    calls = CallLog(fleet)
    replicas = [harness.start(name) for name in ("a", "b", "c")]
    await _until_every_instance_polled(calls, instances, timeout_s=60)
    # From now on the account's own bucket is tighter than ours (other tools use it too), and
    # a burst of calls is throttled at random besides.
    fleet.faults.add(Budget(burst=5, rate_per_s=BUDGET_RATE * 0.8))
    fleet.faults.add(Throttle(probability=0.5, count=12))
    for _ in range(6):
        fleet.advance(300)
        await asyncio.sleep(1.0)
    fleet.advance(60)
    await _assert_everything_published(fleet, instances, kafka_bootstrap, topic, tracking)

    ours = {replica.access_key_id for replica in replicas}
    made = [record for record in calls.refresh() if record.access_key_id in ours]
    throttled = sum(record.outcome == "throttled" for record in made)
    assert throttled >= 5, "the test must actually have been throttled"
    ok, first_over = conforms_to_budget(
        made, burst=BUDGET_BURST + ARRIVAL_JITTER_TOKENS, rate_per_s=BUDGET_RATE
    )
    assert ok, f"over the budget at {first_over}; busiest windows {_windows(made)}"
    _assert_exclusive(calls.polls())
    assert harness.stop(replicas) == [0, 0, 0]
    backed_off = sum(
        event.get("event") == "rds_call_throttled"
        for replica in replicas
        for event in replica.events()
    )
    assert backed_off > 0, "the replicas must have seen the throttling and backed off"
