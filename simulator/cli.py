"""``aurora-logs simulate``: run an Aurora fleet in real time against a running moto.

Creates ``--clusters`` clusters of ``--instances-per-cluster`` instances (engines cycled from
``--engines``), each writing ``--rate`` in the realistic mix of its engine (``--skew`` makes a
few hot and many idle), then writes in real time until ``--duration`` has passed or SIGINT /
SIGTERM. It prints a line per rotation and deletion and a summary every ``--summary-every``
seconds; the ground truth goes to ``<data_dir>/_truth/<prefix>-<time>.jsonl`` (see
:mod:`simulator.truth`). At the end the clusters and their files are removed (``--keep``
leaves them). Exit status 0, or 2 for bad arguments or a moto without the simulator.

Example (``make stack-up`` first)::

    aurora-logs simulate --moto http://127.0.0.1:PORT --clusters 5 --instances-per-cluster 2 \\
        --rate 1MB/min --engines mysql3,postgresql --skew 0.1:10:0.5 --duration 600
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import signal
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from common.logs import configure_logging, get_logger
from common.settings import LoggingSettings
from simulator.client import SimulatorControl, SimulatorUnavailableError
from simulator.clock import Clock, SimClock, WallClock
from simulator.faults import Budget
from simulator.fleet import Fleet
from simulator.profiles import ENGINES, LogOptions, LogProfile, Rate, Skew
from simulator.truth import Truth

__all__ = ["add_arguments", "run"]

_log = get_logger("simulator.cli")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--moto",
        default=os.environ.get("AURORA_AWS__ENDPOINT_URL"),
        help="moto server URL (default: $AURORA_AWS__ENDPOINT_URL)",
    )
    parser.add_argument("--clusters", type=int, default=2)
    parser.add_argument("--instances-per-cluster", type=int, default=2)
    parser.add_argument(
        "--engines",
        default="mysql3,mysql2,postgresql",
        help=f"engines cycled over the clusters, from {', '.join(ENGINES)}",
    )
    parser.add_argument(
        "--rate",
        type=Rate.parse,
        default=Rate.parse("1MB/min"),
        help="per instance: 1MB/min, 250KB/min, 50/s (entries)",
    )
    parser.add_argument(
        "--skew",
        type=Skew.parse,
        default=Skew(),
        help="HOT_FRACTION:HOT_FACTOR[:IDLE_FRACTION], e.g. 0.1:10:0.5",
    )
    parser.add_argument("--duration", type=float, default=None, help="seconds (default: forever)")
    parser.add_argument("--tick", type=float, default=1.0, help="seconds between writes")
    parser.add_argument("--summary-every", type=float, default=10.0, help="seconds")
    parser.add_argument("--prefix", default="sim", help="cluster identifiers start with this")
    parser.add_argument("--seed", default="0")
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=None,
        help="simulated start time (ISO, UTC), moving at wall speed; default: the wall clock",
    )
    parser.add_argument("--csvlog", action="store_true", help="PostgreSQL csvlog twins")
    parser.add_argument("--log-slow-extra", action="store_true", help="Aurora 3 slow-log extras")
    parser.add_argument(
        "--budget",
        default=None,
        metavar="BURST:RATE",
        help="throttle every caller beyond a shared token bucket, e.g. 300:12",
    )
    parser.add_argument("--no-truth", action="store_true", help="do not write the truth JSONL")
    parser.add_argument("--keep", action="store_true", help="leave clusters and files at exit")
    parser.add_argument("--stage-bucket", default=None, help="also stage files in this S3 bucket")


def _profiles(args: argparse.Namespace, count: int, engines: list[Any]) -> list[LogProfile]:
    options = LogOptions(csvlog=args.csvlog, log_slow_extra=args.log_slow_extra)
    factors = args.skew.factors(count, random.Random(f"skew:{args.seed}"))
    profiles = []
    for factor, engine in zip(factors, engines, strict=True):
        if factor == 0:
            profiles.append(LogProfile.idle(engine, options))
        else:
            total = args.rate.bytes_per_min * factor
            if total:
                profiles.append(LogProfile.realistic(engine, total, options))
            else:
                profiles.append(LogProfile.uniform(engine, args.rate.scaled(factor), options))
    return profiles


def _fail(message: str) -> None:
    print(f"aurora-logs simulate: {message}", file=sys.stderr)


def _observer(event: str, **fields: object) -> None:
    # Rotations and deletions are what a reader must cope with; creations follow from them,
    # and the files of removed instances go at exit.
    if event == "file_rotated" or (
        event == "file_deleted" and fields.get("reason") != "instance_removed"
    ):
        _log.info(event, **fields)


def run(args: argparse.Namespace) -> int:
    configure_logging(LoggingSettings(), service="simulator")
    # httpx reports each call to the admin API (one per tick) at INFO: noise, not news.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not args.moto:
        _fail("give --moto URL (or set AURORA_AWS__ENDPOINT_URL)")
        return 2
    try:
        engines = [ENGINES[name.strip()] for name in args.engines.split(",") if name.strip()]
    except KeyError as exc:
        _fail(f"unknown engine {exc}; choose from {', '.join(ENGINES)}")
        return 2
    clock: Clock = WallClock()
    if args.start is not None:
        start = args.start if args.start.tzinfo else args.start.replace(tzinfo=UTC)
        clock = SimClock(start)
    started = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    control = SimulatorControl(args.moto)
    try:
        data_dir = control.info().data_dir
    except (SimulatorUnavailableError, httpx.HTTPError) as exc:
        _fail(f"{args.moto}: {exc}")
        return 2
    finally:
        control.close()
    truth_path = None
    if not args.no_truth:
        truth_path = data_dir / "_truth" / f"{args.prefix}-{started}.jsonl"
    truth = Truth(keep_in_memory=False, jsonl_path=truth_path)
    fleet = Fleet(args.moto, clock=clock, seed=args.seed, truth=truth, observer=_observer)
    if args.budget:
        burst, rate = args.budget.split(":")
        fleet.faults.add(Budget(burst=int(burst), rate_per_s=float(rate)))

    cluster_engines = [engines[index % len(engines)] for index in range(args.clusters)]
    instance_engines = [e for e in cluster_engines for _ in range(args.instances_per_cluster)]
    profiles = iter(_profiles(args, len(instance_engines), instance_engines))
    for index, engine in enumerate(cluster_engines, start=1):
        cluster_id = f"{args.prefix}-{engine.short}-{index}"
        fleet.add_cluster(cluster_id, engine, instances=0, tags={"simulated": "true"})
        for _ in range(args.instances_per_cluster):
            fleet.add_instance(cluster_id, profile=next(profiles), tags={"simulated": "true"})
    _log.info(
        "fleet_created",
        clusters=len(fleet.clusters),
        instances=len(fleet.instances),
        data_dir=str(fleet.data_dir),
        truth=str(truth_path) if truth_path else None,
    )

    def stop(*_args: object) -> None:
        fleet.stop(timeout_s=0)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)

    summary = _Summary(fleet, args.summary_every, args.stage_bucket)
    try:
        fleet.run(
            float("inf") if args.duration is None else args.duration,
            tick_s=args.tick,
            on_tick=summary.maybe_report,
        )
    finally:
        summary.report()
        fleet.close(remove=not args.keep)
        truth.close()
    _log.info("fleet_stopped", kept=args.keep)
    return 0


class _Summary:
    """Prints what was written since the last summary."""

    def __init__(self, fleet: Fleet, every_s: float, bucket: str | None) -> None:
        self._fleet = fleet
        self._every_s = every_s
        self._bucket = bucket
        self._last = time.monotonic()
        self._cpu = time.process_time()
        self._bytes = 0
        self._entries = 0

    def maybe_report(self, fleet: Fleet) -> None:
        if time.monotonic() - self._last >= self._every_s:
            self.report()

    def report(self) -> None:
        now, cpu = time.monotonic(), time.process_time()
        files = self._fleet.truth.files()
        written = sum(f.size for f in files)
        entries = sum(f.entries for f in files)
        elapsed = max(now - self._last, 1e-9)
        staged = len(self._fleet.stage_to_s3(self._bucket)) if self._bucket else None
        _log.info(
            "summary_reported",
            instances=len(self._fleet.instances),
            files=sum(1 for f in files if not f.deleted),
            entries=entries - self._entries,
            mb_written=round((written - self._bytes) / 1e6, 3),
            mb_per_min=round((written - self._bytes) / 1e6 / elapsed * 60, 3),
            cpu_percent=round((cpu - self._cpu) / elapsed * 100, 1),
            staged=staged,
        )
        self._last, self._cpu, self._bytes, self._entries = now, cpu, written, entries


def main() -> int:  # pragma: no cover - `python -m simulator.cli`
    parser = argparse.ArgumentParser(prog="python -m simulator.cli", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
