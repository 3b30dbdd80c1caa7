"""``python -m bench.simulator``: what the simulator costs when it writes a large fleet.

Runs a fleet in real time (default: 100 instances, 1 MB/min each in the realistic mix of
their engines, 10 minutes, the ground truth written as JSONL as a load test would) and prints
the writer's CPU use as process CPU time over wall time; the target is under 25% of one
core, so the pipeline has the machine. Also reports what was written, how long each
one-second step took (its lag), and, after the measured run, the latency of the simulated RDS
API as a reader sees it.

moto is the local stack's (started here, in its own process, not counted) unless
``--moto URL`` names a running one. Figures go to stdout and ``bench/out/simulator.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

from devstack.stack import LocalStack
from simulator.clock import Clock, SimClock, WallClock
from simulator.fleet import Fleet
from simulator.profiles import ENGINES, LogProfile, Rate
from simulator.truth import Truth

OUT = Path(__file__).resolve().parent / "out" / "simulator.json"


def _percentiles(values: Sequence[float]) -> dict[str, float]:
    ordered = sorted(values)
    if not ordered:
        return {}
    return {
        "p50": round(statistics.median(ordered), 2),
        "p95": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 2),
        "max": round(ordered[-1], 2),
    }


def _process_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of another process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    return ticks / 100.0


def _probe_api(moto_url: str, fleet: Fleet, samples: int) -> dict[str, Any]:
    """Latency of the simulated API for a reader, in ms (measured after the CPU figures)."""
    rds = boto3.client(
        "rds",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="AKIABENCHPROBE000001",
        aws_secret_access_key="bench",
        config=Config(retries={"total_max_attempts": 1}),
    )
    rng = random.Random(7)
    instances = list(fleet.instances)
    describe, portion, complete = [], [], []
    try:
        for _ in range(samples):
            instance = rng.choice(instances)
            started = time.perf_counter()
            files = rds.describe_db_log_files(DBInstanceIdentifier=instance)["DescribeDBLogFiles"]
            describe.append((time.perf_counter() - started) * 1000)
            largest = max(files, key=lambda f: f["Size"])
            started = time.perf_counter()
            rds.download_db_log_file_portion(
                DBInstanceIdentifier=instance, LogFileName=largest["LogFileName"], Marker="0"
            )
            portion.append((time.perf_counter() - started) * 1000)
            url = f"{moto_url}/v13/downloadCompleteLogFile/{instance}/{largest['LogFileName']}"
            request = AWSRequest(method="GET", url=url)
            SigV4Auth(Credentials("AKIABENCHPROBE000001", "bench"), "rds", "us-east-1").add_auth(
                request
            )
            started = time.perf_counter()
            httpx.get(url, headers=dict(request.headers.items()), timeout=60).raise_for_status()
            complete.append((time.perf_counter() - started) * 1000)
    finally:
        rds.close()
    return {
        "describe_db_log_files_ms": _percentiles(describe),
        "download_portion_1mb_page_ms": _percentiles(portion),
        "download_complete_file_ms": _percentiles(complete),
        "samples": samples,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.simulator", description=__doc__)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--instances-per-cluster", type=int, default=2)
    parser.add_argument("--rate", type=Rate.parse, default=Rate.parse("1MB/min"))
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of real time")
    parser.add_argument("--tick", type=float, default=1.0)
    parser.add_argument("--engines", default="mysql3,mysql2,postgresql")
    parser.add_argument("--truth", choices=("jsonl", "memory", "off"), default="jsonl")
    parser.add_argument("--moto", default=None, help="a running moto with the simulator")
    parser.add_argument("--probe-samples", type=int, default=30)
    parser.add_argument(
        "--lead-s",
        type=float,
        default=300.0,
        help="start this long before an hour so the run crosses a rotation (0: wall clock)",
    )
    args = parser.parse_args(argv)

    stack = None
    moto_pid = None
    moto_url = args.moto
    if moto_url is None:
        stack = LocalStack(Path(tempfile.mkdtemp(prefix="bench-simulator-")))
        running = stack.ensure("moto")
        moto_url = f"http://{running.address}"
        moto_pid = running.process.pid
    engines = [ENGINES[name.strip()] for name in args.engines.split(",")]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        probe = Fleet(moto_url)
        data_dir = probe.data_dir
        probe.close()
        jsonl = data_dir / "_truth" / f"bench-{stamp}.jsonl" if args.truth == "jsonl" else None
        truth = Truth(keep_in_memory=args.truth == "memory", jsonl_path=jsonl)
        # Simulated time moving at wall speed from five minutes before an hour: every run
        # includes the moment when every hourly log of the fleet rotates at once.
        now_s = time.time()
        clock: Clock = WallClock()
        if args.lead_s:
            clock = SimClock(now_s - now_s % 3600 + 3600 - args.lead_s)
        fleet = Fleet(moto_url, clock=clock, seed="bench", truth=truth)
        clusters = -(-args.instances // args.instances_per_cluster)
        made = 0
        for index in range(clusters):
            engine = engines[index % len(engines)]
            cluster_id = f"bench-{engine.short}-{index + 1}"
            fleet.add_cluster(cluster_id, engine, instances=0)
            for _ in range(min(args.instances_per_cluster, args.instances - made)):
                profile = LogProfile.realistic(engine, args.rate.bytes_per_min)
                fleet.add_instance(cluster_id, profile=profile)
                made += 1
        print(
            f"{made} instances in {clusters} clusters, {args.rate.bytes_per_min / 1e6:g} MB/min "
            f"each, {args.duration:g} s in real time, truth: {args.truth}",
            flush=True,
        )

        files_at_start = len(truth.files())
        steps: list[float] = []
        last_report = time.monotonic()
        cpu_start = time.process_time()
        wall_start = time.monotonic()
        moto_cpu_start = _process_cpu_s(moto_pid) if moto_pid else None

        def on_tick(running_fleet: Fleet) -> None:
            nonlocal last_report
            steps.append(running_fleet.last_step_s * 1000)
            now = time.monotonic()
            if now - last_report >= 60:
                last_report = now
                elapsed = now - wall_start
                cpu = time.process_time() - cpu_start
                print(
                    f"  {elapsed:6.0f} s: writer CPU {cpu / elapsed * 100:5.1f}% of one core, "
                    f"step p50 {statistics.median(steps):.0f} ms",
                    flush=True,
                )

        fleet.run(args.duration, tick_s=args.tick, on_tick=on_tick)
        wall = time.monotonic() - wall_start
        cpu = time.process_time() - cpu_start
        moto_cpu = None
        if moto_pid is not None and moto_cpu_start is not None:
            moto_cpu = _process_cpu_s(moto_pid) - moto_cpu_start
        truth.flush()
        files = truth.files()
        written = sum(f.size for f in files)
        entries = sum(f.entries for f in files)
        result: dict[str, Any] = {
            "instances": made,
            "rate_bytes_per_min": args.rate.bytes_per_min,
            "duration_s": round(wall, 1),
            "writer_cpu_s": round(cpu, 2),
            "writer_cpu_percent_of_one_core": round(cpu / wall * 100, 2),
            "moto_cpu_percent_of_one_core": round(moto_cpu / wall * 100, 2) if moto_cpu else None,
            "written_mb": round(written / 1e6, 1),
            "written_mb_per_min_per_instance": round(written / 1e6 / (wall / 60) / made, 3),
            "entries": entries,
            "entries_per_s": round(entries / wall),
            "files": len(files),
            "files_created_by_rotation": len(files) - files_at_start,
            "step_ms": _percentiles(steps),
            "writer_max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "truth": args.truth,
            "truth_jsonl_mb": round(jsonl.stat().st_size / 1e6, 1) if jsonl else None,
        }
        result["api_latency"] = _probe_api(moto_url, fleet, args.probe_samples)
        fleet.close()
        truth.close()
        if jsonl is not None:
            jsonl.unlink()
    finally:
        if stack is not None:
            stack.stop()
    print(json.dumps(result, indent=2))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    verdict = "under" if result["writer_cpu_percent_of_one_core"] < 25 else "OVER"
    print(
        f"writer CPU {result['writer_cpu_percent_of_one_core']}% of one core: {verdict} the 25% "
        "target"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
