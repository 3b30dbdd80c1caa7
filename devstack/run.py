"""``make run``: the whole pipeline on the local stack, until Ctrl-C (or ``--duration``).

Starts Kafka, Valkey, moto with the simulator's RDS API and the OpenObserve contract server,
then a simulated Aurora fleet writing real-format logs in real time, discovery and the
processor, each a separate process with its log in ``.stack/run/logs/``. Every few seconds it
prints how many records of each stream OpenObserve holds. Everything stops together.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from devstack.processes import ManagedProcess, free_port
from devstack.stack import ROOT, LocalStack

STREAMS = (
    "aurora_mysql_slow",
    "aurora_mysql_error",
    "aurora_mysql_general",
    "aurora_mysql_audit",
    "aurora_postgresql",
)


def _service(name: str, argv: list[str], env: dict[str, str], logs: Path) -> ManagedProcess:
    process = ManagedProcess(name, argv, log_path=logs / f"{name}.log", env=env, cwd=ROOT)
    process.start()
    return process


def _counts(client: httpx.Client) -> dict[str, int]:
    answer = client.get("/api/default/streams", params={"type": "logs"})
    if answer.status_code != 200:
        return {}
    counts = {}
    for stream in answer.json().get("list", []):
        stats = stream.get("stats", {})
        counts[str(stream.get("name"))] = int(stats.get("doc_num", 0))
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__)
    parser.add_argument(
        "--engines", default="mysql3,mysql2,postgresql", help="cycled over the clusters"
    )
    parser.add_argument("--clusters", type=int, default=None, help="default: one per engine")
    parser.add_argument("--instances-per-cluster", type=int, default=2)
    parser.add_argument("--rate", default="300KB/min", help="log bytes per instance")
    parser.add_argument("--duration", type=float, default=0, help="seconds; 0 runs until Ctrl-C")
    parser.add_argument("--every", type=float, default=10, help="seconds between summaries")
    args = parser.parse_args(argv)
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    clusters = args.clusters if args.clusters is not None else len(engines)

    workdir = ROOT / ".stack" / "run"
    shutil.rmtree(workdir, ignore_errors=True)
    logs = workdir / "logs"
    logs.mkdir(parents=True)
    stack = LocalStack(workdir)
    services: list[ManagedProcess] = []
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        print("starting Kafka, Valkey, moto + simulator and the OpenObserve contract server...")
        stack.start(["kafka", "valkey", "moto", "openobserve"])
        env = {
            **stack.env(),
            "AURORA_LOGGING__FORMAT": "json",
            "AURORA_RDS__BUDGET_RATE_PER_S": "8",
            "AURORA_PROCESSOR__MAX_BATCH_AGE_S": "1",
        }
        moto_url = env["AURORA_AWS__ENDPOINT_URL"]
        python = sys.executable
        services.append(
            _service(
                "simulator",
                [
                    python,
                    "-m",
                    "common.cli",
                    "simulate",
                    "--moto",
                    moto_url,
                    "--engines",
                    ",".join(engines),
                    "--clusters",
                    str(clusters),
                    "--instances-per-cluster",
                    str(args.instances_per_cluster),
                    "--rate",
                    args.rate,
                ],
                {**os.environ, **env},
                logs,
            )
        )
        ports = {"discovery": free_port(), "processor": free_port()}
        for name, port in ports.items():
            services.append(
                _service(
                    name,
                    [python, "-m", name],
                    {**os.environ, **env, "AURORA_HTTP__PORT": str(port)},
                    logs,
                )
            )
        openobserve = env["AURORA_OPENOBSERVE__URL"]
        user = env["AURORA_OPENOBSERVE__USER"]
        print(f"\nOpenObserve (contract server): {openobserve}  user {user}")
        for name, port in ports.items():
            print(f"{name}: http://127.0.0.1:{port}/metrics  /healthz  /readyz")
        print(f"logs: {logs}/{{simulator,discovery,processor}}.log\n")
        auth = (env["AURORA_OPENOBSERVE__USER"], env["AURORA_OPENOBSERVE__PASSWORD"])
        started = time.monotonic()
        with httpx.Client(base_url=openobserve, auth=auth, timeout=10) as client:
            next_summary = started + args.every
            while not stopping:
                if args.duration and time.monotonic() - started >= args.duration:
                    break
                for service in services:
                    if not service.running():
                        print(f"{service.name} exited; the end of its log:\n{service.log_tail()}")
                        return 1
                if time.monotonic() >= next_summary:
                    next_summary += args.every
                    counts = _counts(client)
                    shown = "  ".join(
                        f"{s.removeprefix('aurora_')}={counts.get(s, 0):,}" for s in STREAMS
                    )
                    print(
                        f"[{time.monotonic() - started:6.0f} s] records in OpenObserve: {shown}",
                        flush=True,
                    )
                time.sleep(0.2)
        print("\nstopping...")
        return 0
    finally:
        for service in reversed(services):
            service.stop()
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
