"""``make run``: the whole pipeline on the local stack, until Ctrl-C (or ``--duration``).

Starts Kafka, Valkey and moto with the simulator's RDS API, a simulated Aurora fleet writing
real-format logs in real time, two discovery replicas and two processor replicas, each a
separate process with its log in ``<workdir>/logs/``. Records go to the OpenObserve named by
``AURORA_OPENOBSERVE_URL`` (or ``AURORA_OPENOBSERVE__URL``, with ``AURORA_OPENOBSERVE__USER``
and ``__PASSWORD``) when one is set, otherwise to the file sink: NDJSON per stream under
``<workdir>/data/``, rotated by size.

On a terminal a live view refreshes about once a second: services up or down, instances and
files discovered, events published, records parsed and shipped per log type, lag per instance,
retries and dead letters; elsewhere one line every ``--every`` seconds. At the end it prints a
summary, the CPU each process used and a few records of each log type, then stops everything
and checks that no process is left.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import shutil
import signal
import sys
import time
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import aioboto3
import httpx
from rich.console import Console
from rich.live import Live

from common.clients.aws import AwsClients
from common.errors import ConfigurationError
from common.search import SearchError, search
from common.settings import CommonSettings, load_settings
from devstack.display import live_view, plain_line, summary_lines
from devstack.monitor import LOG_TYPES, Monitor, Snapshot
from devstack.processes import ManagedProcess, free_port
from devstack.stack import ROOT, LocalStack

# Set in every process make run starts (the stack inherits it too), so a test or an operator
# can find any process a run left behind. AURORA_STACK_* is ignored by the settings.
RUN_MARKER = "AURORA_STACK_RUN"
REPLICAS = 2
_SAMPLE_CHARS = 300
# Bookkeeping fields left out of the closing samples, so the parsed fields fit on a line.
_SAMPLE_OMITS = frozenset(
    {"_id", "record_id", "offset", "length", "log_type", "message", "engine_version", "cluster"}
)

# Quick polls and short leases: a local fleet of a few instances shows its first records
# within seconds, and a replica's instances move to the other one within a few seconds.
_PIPELINE_ENV = {
    "AURORA_LOGGING__FORMAT": "json",
    "AURORA_HTTP__HOST": "127.0.0.1",
    "AURORA_RDS__BUDGET_RATE_PER_S": "20",
    "AURORA_RDS__BUDGET_BURST": "40",
    "AURORA_KAFKA__TOPIC_PARTITIONS": "6",
    "AURORA_KAFKA__SESSION_TIMEOUT_S": "8",
    "AURORA_KAFKA__HEARTBEAT_INTERVAL_S": "1",
    "AURORA_DISCOVERY__MIN_POLL_INTERVAL_S": "2",
    "AURORA_DISCOVERY__MAX_POLL_INTERVAL_S": "10",
    "AURORA_DISCOVERY__INVENTORY_INTERVAL_S": "10",
    "AURORA_DISCOVERY__FULL_LISTING_INTERVAL_S": "60",
    "AURORA_DISCOVERY__LEASE_TTL_S": "6",
    "AURORA_DISCOVERY__LEASE_RENEW_INTERVAL_S": "2",
    "AURORA_DISCOVERY__MEMBER_TTL_S": "6",
    "AURORA_PROCESSOR__MAX_BATCH_AGE_S": "1",
    "AURORA_PROCESSOR__DRAIN_TIMEOUT_S": "4",
    "AURORA_SERVICE__SHUTDOWN_DEADLINE_S": "5",
    "AURORA_SERVICE__TERMINATION_GRACE_PERIOD_S": "10",
}


def sink_env(environ: Mapping[str, str], data_dir: Path) -> dict[str, str]:
    """The processor's sink variables: the configured OpenObserve, else the file sink."""
    url = environ.get("AURORA_OPENOBSERVE__URL") or environ.get("AURORA_OPENOBSERVE_URL")
    if url:
        return {"AURORA_PROCESSOR__SINK": "openobserve", "AURORA_OPENOBSERVE__URL": url}
    # Small files, few kept: a run left going for hours holds at most 5 x 4 x 8 MiB on disk.
    return {
        "AURORA_PROCESSOR__SINK": "file",
        "AURORA_PROCESSOR__FILE_SINK_DIR": str(data_dir),
        "AURORA_PROCESSOR__FILE_SINK_MAX_FILE_BYTES": str(8 * 1024 * 1024),
        "AURORA_PROCESSOR__FILE_SINK_KEEP_FILES": "3",
    }


def cpu_seconds(pid: int) -> float:
    """User and system CPU of process ``pid`` and its reaped children so far (0 if gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rfind(")") + 2 :].split()
    # After the command name: state is field 3 of stat(5); utime..cstime are fields 14-17.
    ticks = sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def marked_processes(marker: str) -> list[int]:
    """Live processes whose environment holds ``RUN_MARKER=marker`` (zombies excluded)."""
    wanted = f"{RUN_MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text()
        except OSError:
            continue
        if wanted in environ.split(b"\0") and state[state.rfind(")") + 2] not in "ZX":
            found.append(int(entry.name))
    return found


def _file_samples(data_dir: Path, count: int) -> dict[str, list[str]]:
    samples = {}
    for _kind, stream in LOG_TYPES.values():
        path = data_dir / f"{stream}.ndjson"
        lines: list[str] = []
        with contextlib.suppress(OSError), path.open() as handle:
            for line in handle:
                lines.append(_sample(json.loads(line)))
                if len(lines) >= count:
                    break
        samples[stream] = lines
    return samples


def _openobserve_samples(settings: CommonSettings, count: int) -> dict[str, list[str]]:
    samples = {}
    start_us = int((time.time() - 86400) * 1_000_000)
    for _kind, stream in LOG_TYPES.values():
        try:
            result = search(
                settings.openobserve, f'SELECT * FROM "{stream}"', start_us=start_us, limit=count
            )
            samples[stream] = [_sample(hit) for hit in result.hits]
        except SearchError as exc:
            # 20002: a stream never ingested (OpenObserve's "not found" for searches).
            samples[stream] = [] if exc.code == 20002 else [f"(search failed: {exc})"]
        except httpx.HTTPError as exc:
            samples[stream] = [f"(search failed: {exc})"]
    return samples


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when under it (shorter, and copy-pastable)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _sample(record: Mapping[str, object]) -> str:
    """One record on one line: its time, then the parsed fields (not the raw message)."""
    stamp = record.get("_timestamp")
    when = (
        datetime.fromtimestamp(stamp / 1_000_000, UTC).isoformat(timespec="milliseconds")
        if isinstance(stamp, int)
        else "?"
    )
    fields = {"instance": record.get("instance")}
    fields.update((k, v) for k, v in record.items() if k not in _SAMPLE_OMITS and k != "_timestamp")
    text = f"{when} " + json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return text if len(text) <= _SAMPLE_CHARS else text[: _SAMPLE_CHARS - 1] + "…"


class Run:
    """The processes of one run and the loop that watches them."""

    def __init__(self, args: argparse.Namespace, workdir: Path, console: Console) -> None:
        self.args = args
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.data = workdir / "data"
        self.console = console
        self.stack = LocalStack(workdir)
        self.services: dict[str, ManagedProcess] = {}
        self.metrics_urls: dict[str, tuple[str, str]] = {}
        self.stopping = False
        self.sink = "file"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self.started_at = time.monotonic()
        self.watched_s = 0.0

    def _start(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        process = ManagedProcess(name, argv, log_path=self.logs / f"{name}.log", env=env, cwd=ROOT)
        process.start()
        self.services[name] = process

    def start(self, environ: Mapping[str, str]) -> dict[str, str]:
        """Start the stack and the pipeline; returns the services' common environment."""
        self.console.print("starting Kafka, Valkey and moto with the simulator's RDS API...")
        self.stack.start(["kafka", "valkey", "moto"])
        # make run's own spelling of the URL is no settings variable: the services would
        # refuse it as unknown.
        inherited = {k: v for k, v in environ.items() if k != "AURORA_OPENOBSERVE_URL"}
        sink = sink_env(environ, self.data)
        self.sink = sink["AURORA_PROCESSOR__SINK"]
        env = {**inherited, **self.stack.env(), **_PIPELINE_ENV, **sink}
        args = self.args
        engines = [name.strip() for name in args.engines.split(",") if name.strip()]
        python = sys.executable
        self._start(
            "simulator",
            [
                python,
                "-m",
                "common.cli",
                "simulate",
                "--moto",
                env["AURORA_AWS__ENDPOINT_URL"],
                "--engines",
                ",".join(engines),
                "--clusters",
                str(args.clusters if args.clusters is not None else len(engines)),
                "--instances-per-cluster",
                str(args.instances_per_cluster),
                "--rate",
                args.rate,
            ],
            env,
        )
        for number in range(1, REPLICAS + 1):
            for role in ("discovery", "processor"):
                name = f"{role}-{number}"
                port = free_port()
                # One access key per process, as separate pods have: moto's request log then
                # tells their RDS calls apart.
                key = f"AKIALOCAL{role[:4].upper()}000{number}"
                replica = {
                    "AURORA_HTTP__PORT": str(port),
                    "AURORA_DISCOVERY__REPLICA_ID": name,
                    "AURORA_KAFKA__CLIENT_ID": name,
                    "AWS_ACCESS_KEY_ID": key,
                }
                self._start(name, [python, "-m", role], {**env, **replica})
                self.metrics_urls[name] = (role, f"http://127.0.0.1:{port}/metrics")
        return env

    def describe(self, env: Mapping[str, str]) -> None:
        if env["AURORA_PROCESSOR__SINK"] == "file":
            target = f"file sink, NDJSON per stream in {_shown(self.data)}/"
        else:
            target = f"OpenObserve at {env['AURORA_OPENOBSERVE__URL']}"
        self.console.print(f"records go to: {target}")
        for name, (_role, url) in self.metrics_urls.items():
            self.console.print(f"{name}: {url.removesuffix('/metrics')}/metrics /healthz /readyz")
        self.console.print(f"service logs: {_shown(self.logs)}/")
        # What another shell needs for `aurora-logs status` (and search) against this run.
        shared = {
            name: value
            for name, value in env.items()
            if name.startswith(("AURORA_KAFKA__", "AURORA_AWS__", "AURORA_OPENOBSERVE__"))
            or name in {"AURORA_DYNAMODB__TABLE", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}
        }
        shared["AWS_ACCESS_KEY_ID"] = env["AWS_ACCESS_KEY_ID"]
        env_file = self.workdir / "env"
        env_file.write_text(
            "".join(
                f"export {name}={shlex.quote(value)}\n" for name, value in sorted(shared.items())
            )
        )
        self.console.print(
            f"in another shell: . {_shown(env_file)} && .venv/bin/aurora-logs status"
        )

    def dead_service(self) -> ManagedProcess | None:
        return next((p for p in self.services.values() if not p.running()), None)

    def _remaining_s(self) -> float:
        if self.stopping:
            return 0.0
        if not self.args.duration:
            return float("inf")
        duration: float = self.args.duration
        return max(0.0, duration - (time.monotonic() - self.started_at))

    def request_stop(self) -> None:
        """Ctrl-C or SIGTERM: end the watch at once (safe to call from a signal handler)."""
        self.stopping = True
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    async def _wait(self, seconds: float) -> None:
        assert self._wake is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=min(seconds, self._remaining_s()))

    async def watch(
        self, settings: CommonSettings, env: Mapping[str, str]
    ) -> tuple[int, Snapshot | None]:
        """Show the pipeline until the duration ends, Ctrl-C, or a service dies."""
        session = aioboto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=settings.aws.region,
        )
        aws = AwsClients(settings.aws, session=session)
        self.started_at = time.monotonic()
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        last: Snapshot | None = None
        status = 0

        def alive(name: str) -> bool:
            return self.services[name].running()

        async with Monitor(settings, self.metrics_urls, aws=aws, alive=alive) as monitor:
            if self.console.is_terminal and not self.args.plain:
                # Rates over the last ten refreshes: per-second counts of batched shipping
                # jump between 0 and a burst.
                history: deque[Snapshot] = deque(maxlen=10)
                with Live(console=self.console, auto_refresh=False, transient=False) as live:
                    while self._remaining_s() > 0:
                        now = await monitor.snapshot()
                        elapsed = time.monotonic() - self.started_at
                        header = f"aurora-logs make run: {elapsed:.0f} s (Ctrl-C stops)"
                        earlier = history[0] if history else None
                        live.update(live_view(now, earlier, header), refresh=True)
                        history.append(now)
                        last = now
                        if self.dead_service() is not None:
                            status = 1
                            break
                        await self._wait(self.args.refresh)
            else:
                while self._remaining_s() > 0:
                    await self._wait(self.args.every)
                    last = await monitor.snapshot()
                    print(plain_line(last, time.monotonic() - self.started_at), flush=True)
                    if self.dead_service() is not None:
                        status = 1
                        break
            if status == 0:
                last = await monitor.snapshot()
        self.watched_s = time.monotonic() - self.started_at
        return status, last

    def cpu(self) -> dict[str, float]:
        used = {name: cpu_seconds(process.pid) for name, process in self.services.items()}
        for name, running in self.stack.running.items():
            used[name] = cpu_seconds(running.process.pid)
        times = os.times()
        used["make run (this view)"] = times.user + times.system
        return used

    def stop(self) -> list[str]:
        """Stop every process, services first; returns the names of any left running."""
        leftovers = []
        for name, process in reversed(list(self.services.items())):
            process.stop()
            if process.leftovers():
                leftovers.append(name)
        leftovers.extend(self.stack.stop())
        return leftovers


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="make run", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--engines", default="mysql3,mysql2,postgresql", help="cycled over the clusters"
    )
    parser.add_argument("--clusters", type=int, default=None, help="default: one per engine")
    parser.add_argument("--instances-per-cluster", type=int, default=2)
    parser.add_argument("--rate", default="300KB/min", help="log bytes per instance")
    parser.add_argument("--duration", type=float, default=0, help="seconds; 0 runs until Ctrl-C")
    parser.add_argument("--refresh", type=float, default=1.0, help="live view: seconds per update")
    parser.add_argument("--every", type=float, default=10, help="plain output: seconds per line")
    parser.add_argument("--plain", action="store_true", help="plain lines even on a terminal")
    parser.add_argument("--samples", type=int, default=2, help="records shown per log type")
    parser.add_argument(
        "--workdir", type=Path, default=ROOT / ".stack" / "run", help="emptied at start"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    workdir: Path = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "logs").mkdir(parents=True)
    # Inherited by every process started from here on, the stack's included.
    os.environ[RUN_MARKER] = str(workdir)
    environ = dict(os.environ)
    # make run's own spelling of the URL is no settings variable: every child (they inherit
    # this environment) would refuse it as unknown. sink_env() reads it from the copy.
    os.environ.pop("AURORA_OPENOBSERVE_URL", None)
    console = Console(highlight=False)
    run = Run(args, workdir, console)

    def stop(*_: object) -> None:
        run.request_stop()

    previous = [(number, signal.signal(number, stop)) for number in (signal.SIGINT, signal.SIGTERM)]
    status = 0
    final: Snapshot | None = None
    cpu: dict[str, float] = {}
    settings: CommonSettings | None = None
    try:
        env = run.start(environ)
        settings = load_settings(CommonSettings, env)
        run.describe(env)
        status, final = asyncio.run(run.watch(settings, env))
        cpu = run.cpu()
        if (dead := run.dead_service()) is not None:
            console.print(f"{dead.name} exited; the end of its log:\n{dead.log_tail()}")
    except ConfigurationError as exc:
        console.print(f"make run: {exc}")
        status = 2
    finally:
        console.print("\nstopping...")
        leftovers = run.stop()
        for number, handler in previous:
            signal.signal(number, handler)
    if final is not None and settings is not None:
        if run.sink == "openobserve":
            samples = _openobserve_samples(settings, args.samples)
        else:
            samples = _file_samples(run.data, args.samples)
        for line in summary_lines(final, run.watched_s, cpu, samples):
            print(line)
    left = marked_processes(str(workdir))
    if leftovers or left:
        print(f"\nprocesses left running: {leftovers or ''} {left or ''}")
        return 1
    print(f"\nall processes stopped; logs in {_shown(run.logs)}/")
    return status


if __name__ == "__main__":
    sys.exit(main())
