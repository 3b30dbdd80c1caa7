"""Throughput of one processor replica, beside the parser alone on the same input.

    python -m bench.pipeline [--size-mb 30] [--engine mysql|postgresql] [--rds-latency-ms 0]

Starts the local stack (Kafka, Valkey, moto with the simulator, the OpenObserve contract
server) in a temporary folder, has the simulator write one large log file on a clock near
now, and then, in the same run, on the same bytes:

* **parser only**: the file parsed in 1 MiB pages, every record given its context and id and
  serialised to JSON (what the processor does between download and batching);
* **pipeline**: the processor (in this process, so its stages can be timed) consumes the
  file's event from Kafka, downloads the file from the simulator through the RDS API, parses,
  batches, gzips and ships every record to the contract server with ``_bulk``, and writes its
  checkpoints to DynamoDB. The clock runs from the event's publication to the checkpoint that
  covers the file.

``--rds-latency-ms`` has the simulator answer every download that much later, as a real
region does (moto on the same machine answers in a few milliseconds); the processor fetches
the next portion while it parses the current one, which this shows.

The processor first joins its consumer group and finishes an empty event, so the clock measures
steady-state throughput, not start-up. It prints records/s and MB/s for both, their ratio (the
target is at least 0.7), the CPU time
of this process split between the pipeline's stages (timed around the synchronous functions
that do each stage's work), and the CPU of the helper processes (moto, OpenObserve) for context.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from aiokafka import TopicPartition

from common.clients.aws import AwsClients
from common.clients.kafka import ensure_topics, make_consumer, make_producer
from common.events import LogFileEvent, LogKind, encode_event, event_key
from common.health import Liveness, Readiness
from common.runner import Lifecycle
from common.settings import load_settings
from common.tracking import Observation, TrackedFile, TrackingTable
from devstack.stack import LocalStack
from processor.config import ProcessorSettings
from processor.parsing import LogType, ParsingSettings, make_parser
from processor.parsing.records import Parser
from processor.records import FileContext
from processor.sinks.openobserve import OpenObserveSink
from processor.work import log_type_of
from simulator import (
    AURORA_MYSQL_3,
    AURORA_POSTGRESQL,
    Fleet,
    Latency,
    LogProfile,
    Rate,
    SimClock,
)

PAGE = 1024 * 1024


class StageClock:
    """CPU seconds spent inside wrapped synchronous functions, per stage."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def wrap(self, owner: Any, attribute: str, stage: str) -> Iterator[None]:
        original = getattr(owner, attribute)
        static = isinstance(owner.__dict__.get(attribute), staticmethod)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[stage] += time.thread_time() - started

        setattr(owner, attribute, staticmethod(timed) if static else timed)
        try:
            yield
        finally:
            setattr(owner, attribute, original)


def _process_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _write_file(fleet: Fleet, engine: str, size_mb: int) -> tuple[str, str, int]:
    if engine == "postgresql":
        profile = LogProfile(rates={"postgresql": Rate(bytes_per_min=size_mb * 1_000_000 / 40)})
        cluster = fleet.add_cluster(
            f"bench-{uuid.uuid4().hex[:8]}",
            AURORA_POSTGRESQL,
            instances=1,
            profile=profile.with_options(postgresql_rotation_bytes=10**12),
        )
    else:
        profile = LogProfile(rates={"slowquery": Rate(bytes_per_min=size_mb * 1_000_000 / 40)})
        cluster = fleet.add_cluster(
            f"bench-{uuid.uuid4().hex[:8]}", AURORA_MYSQL_3, instances=1, profile=profile
        )
    instance = cluster.writer
    for _ in range(40):
        fleet.advance(60)
    assert instance is not None
    name = max(fleet.log_files(instance), key=lambda n: fleet.path(instance, n).stat().st_size)
    return instance, name, fleet.path(instance, name).stat().st_size


def parser_only(path: Path, event: LogFileEvent, log_file: str) -> tuple[float, int, int]:
    """(CPU seconds, records, bytes up to the parser's final offset) for the whole file."""
    data = path.read_bytes()
    context = FileContext.of(event)
    started = time.process_time()
    parser: Parser = make_parser(log_type_of(event, log_file), ParsingSettings())
    records = 0
    for start in range(0, len(data), PAGE):
        for record in parser.feed(data[start : start + PAGE]):
            context.finish(record)
            records += 1
    return time.process_time() - started, records, parser.checkpoint().offset


async def pipeline(
    stack: LocalStack,
    event: LogFileEvent,
    tracked: TrackedFile,
    final_offset: int,
    profiler: cProfile.Profile | None,
    clock: StageClock | None,
) -> tuple[float, float]:
    env = {**stack.env(), "AURORA_HTTP__PORT": "0", "AURORA_LOGGING__LEVEL": "WARNING"}
    env.update(
        {
            "AURORA_KAFKA__TOPIC": f"bench-{uuid.uuid4().hex[:6]}",
            "AURORA_KAFKA__CONSUMER_GROUP": f"bench-{uuid.uuid4().hex[:6]}",
            "AURORA_DYNAMODB__TABLE": f"bench-{uuid.uuid4().hex[:6]}",
            "AURORA_RDS__BUDGET_RATE_PER_S": "50",
            "AURORA_PROCESSOR__MAX_BATCH_AGE_S": "0.5",
        }
    )
    settings = load_settings(ProcessorSettings, env)
    await ensure_topics(settings.kafka, [settings.kafka.topic, settings.kafka.dead_letter_topic])
    async with AwsClients(settings.aws).dynamodb() as dynamodb:
        table = TrackingTable(dynamodb, settings.dynamodb.table, item_ttl_s=3600)
        await table.ensure_table()
        await table.create(tracked)
        lifecycle = Lifecycle(liveness=Liveness(600), readiness=Readiness(2))
        with _instrumented(clock):
            task = asyncio.create_task(run(settings, lifecycle))
            await _warm_up(settings, table, tracked)
            producer = make_producer(settings.kafka)
            await producer.start()
            if profiler is not None:
                profiler.enable()
            cpu_started, wall_started = time.process_time(), time.perf_counter()
            await producer.send_and_wait(
                settings.kafka.topic,
                encode_event(event),
                key=event_key(event.instance_id, event.log_file),
            )
            await producer.stop()
            while True:
                item = await table.get(tracked.instance_id, tracked.identity)
                if item is not None and item.checkpoint.offset >= final_offset:
                    break
                if task.done():
                    task.result()
                await asyncio.sleep(0.05)
            wall = time.perf_counter() - wall_started
            cpu = time.process_time() - cpu_started
            if profiler is not None:
                profiler.disable()
            lifecycle.stopping.set()
            await task
    return wall, cpu


@contextmanager
def _instrumented(clock: StageClock | None) -> Iterator[None]:
    """Time the stages into ``clock``; nothing when it is None (the timers cost two clock
    reads per record, so the throughput runs go without them)."""
    if clock is None:
        yield
        return
    with (
        _patch_parsers(clock),
        clock.wrap(FileContext, "finish", "enrich + JSON"),
        clock.wrap(OpenObserveSink, "encode", "bulk body + gzip"),
    ):
        yield


async def _warm_up(settings: ProcessorSettings, table: TrackingTable, tracked: TrackedFile) -> None:
    """Have the processor join its group and finish one empty event before the clock starts,
    so the figure is steady-state throughput, not start-up."""
    empty = replace(
        tracked, identity="warm-up", observation=replace(tracked.observation, seen_size=0)
    )
    await table.create(empty)
    observation = empty.observation
    event = LogFileEvent(
        cluster_id=observation.cluster_id,
        instance_id=empty.instance_id,
        engine="aurora-mysql" if observation.engine == "aurora-mysql" else "aurora-postgresql",
        log_file=observation.log_file,
        log_kind="slowquery" if observation.log_kind == "slowquery" else "postgresql",
        file_identity=empty.identity,
        size_bytes=0,
        last_written_ms=0,
        observed_at_ms=0,
    )
    producer = make_producer(settings.kafka)
    await producer.start()
    try:
        sent = await producer.send_and_wait(
            settings.kafka.topic, encode_event(event), key=b"warm-up"
        )
    finally:
        await producer.stop()
    checker = make_consumer(settings.kafka, group_id=settings.kafka.consumer_group)
    await checker.start()
    try:
        partition = TopicPartition(settings.kafka.topic, sent.partition)
        for _ in range(1200):  # at most a minute
            if (await checker.committed(partition) or 0) > sent.offset:
                return
            await asyncio.sleep(0.05)
        raise RuntimeError("the processor did not finish the warm-up event within a minute")
    finally:
        await checker.stop()


async def run(settings: ProcessorSettings, lifecycle: Lifecycle) -> None:
    from processor.pipeline import run_processor

    await run_processor(settings, lifecycle)


@contextmanager
def _patch_parsers(clock: StageClock) -> Iterator[None]:
    """Time ``feed`` of every concrete parser class (each overrides the abstract one)."""
    classes = {type(make_parser(log_type, ParsingSettings())) for log_type in LogType}
    with _all(clock.wrap(cls, "feed", "parse") for cls in classes):
        yield


@contextmanager
def _all(managers: Iterator[Any]) -> Iterator[None]:
    entered = []
    try:
        for manager in managers:
            manager.__enter__()
            entered.append(manager)
        yield
    finally:
        for manager in reversed(entered):
            manager.__exit__(None, None, None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline", description=__doc__)
    parser.add_argument("--size-mb", type=int, default=30)
    parser.add_argument("--engine", choices=("mysql", "postgresql"), default="mysql")
    parser.add_argument(
        "--profile", type=int, metavar="N", default=0, help="print the N costliest functions"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="throughput runs; the best of each figure counts"
    )
    parser.add_argument(
        "--rds-latency-ms",
        type=int,
        default=0,
        help="delay every download answer by this much (a region's round trip)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="aurora-bench-") as workdir:
        stack = LocalStack(Path(workdir))
        try:
            print("starting the local stack (Kafka, Valkey, moto + simulator, OpenObserve)...")
            stack.start(["kafka", "valkey", "moto", "openobserve"])
            os.environ.update({k: v for k, v in stack.env().items() if k.startswith("AWS_")})
            moto_url = f"http://{stack.running['moto'].address}"
            fleet = Fleet(moto_url, clock=SimClock(time.time() - 45 * 60), seed="bench")
            print(f"writing a {args.size_mb} MB {args.engine} log with the simulator...")
            instance, log_file, size = _write_file(fleet, args.engine, args.size_mb)
            sim = fleet.instance(instance)
            kind: LogKind = "postgresql" if args.engine == "postgresql" else "slowquery"
            identity = f"{log_file}@bench"
            now_ms = int(time.time() * 1000)
            event = LogFileEvent(
                cluster_id=sim.cluster_id,
                instance_id=instance,
                engine="aurora-postgresql" if args.engine == "postgresql" else "aurora-mysql",
                engine_version=sim.engine.version,
                log_file=log_file,
                log_kind=kind,
                file_identity=identity,
                size_bytes=size,
                last_written_ms=now_ms,
                observed_at_ms=now_ms,
            )
            tracked = TrackedFile(
                instance,
                identity,
                Observation(
                    cluster_id=sim.cluster_id,
                    engine=sim.engine.name,
                    engine_version=sim.engine.version,
                    log_file=log_file,
                    log_kind=kind,
                    seen_size=size,
                ),
            )
            path = fleet.path(instance, log_file)
            if args.rds_latency_ms > 0:
                for action in ("DownloadDBLogFilePortion", "DownloadCompleteDBLogFile"):
                    late = Latency(action=action, seconds=args.rds_latency_ms / 1000)
                    fleet.faults.add(late.model_copy(update={"instance": instance}))
            runs = [parser_only(path, event, log_file) for _ in range(max(1, args.repeat))]
            only_cpu = min(cpu for cpu, _records, _offset in runs)
            _cpu, records, final_offset = runs[0]
            helpers = {
                name: stack.running[name].process.pid for name in ("moto", "openobserve", "kafka")
            }
            wall = cpu = float("inf")
            helper_cpu: dict[str, float] = {}
            for _ in range(max(1, args.repeat)):
                before = {name: _process_cpu_s(pid) for name, pid in helpers.items()}
                run_wall, run_cpu = asyncio.run(
                    pipeline(stack, event, tracked, final_offset, None, None)
                )
                if run_wall < wall:
                    helper_cpu = {
                        name: _process_cpu_s(pid) - before[name] for name, pid in helpers.items()
                    }
                wall, cpu = min(wall, run_wall), min(cpu, run_cpu)
            # One more run with the stage timers (and the profiler, if asked), for the split.
            clock = StageClock()
            profiler = cProfile.Profile() if args.profile else None
            _wall, timed_cpu = asyncio.run(
                pipeline(stack, event, tracked, final_offset, profiler, clock)
            )
            if profiler is not None:
                pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
            fleet.close()
        finally:
            stack.stop()

    mb = final_offset / 1e6
    latency = f", downloads answered {args.rds_latency_ms} ms late" if args.rds_latency_ms else ""
    print(f"\ninput: {mb:.1f} MB, {records:,} records ({args.engine}, {log_file}){latency}\n")
    print(f"{'':34}{'seconds':>9}{'records/s':>12}{'MB/s':>8}")
    print(f"{'parser only (CPU)':34}{only_cpu:9.2f}{records / only_cpu:12,.0f}{mb / only_cpu:8.1f}")
    label = "pipeline, event to checkpoint (wall)"
    print(f"{label:34}{wall:9.2f}{records / wall:12,.0f}{mb / wall:8.1f}")
    print(f"{'pipeline, this process (CPU)':34}{cpu:9.2f}{records / cpu:12,.0f}{mb / cpu:8.1f}")
    print(
        f"\npipeline / parser only: {only_cpu / wall:.2f} by wall clock (target >= 0.70), "
        f"{only_cpu / cpu:.2f} by this process's CPU\n"
    )
    print(f"(best of {args.repeat} runs each)\n")
    print("CPU of this process by stage (a separate run with stage timers, which cost some):")
    accounted = 0.0
    for stage, seconds in sorted(clock.seconds.items(), key=lambda item: -item[1]):
        accounted += seconds
        print(f"  {stage:30}{seconds:8.2f} s {100 * seconds / timed_cpu:5.1f}%")
    rest = max(0.0, timed_cpu - accounted)
    label = "download, Kafka, DynamoDB, HTTP, loop"
    print(f"  {label:30}{rest:8.2f} s {100 * rest / timed_cpu:5.1f}%")
    print("CPU of the helper processes during the fastest pipeline run:")
    for name, seconds in helper_cpu.items():
        print(f"  {name:30}{seconds:8.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
