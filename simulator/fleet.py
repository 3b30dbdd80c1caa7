"""The fleet: Aurora clusters and instances in moto, and the log files they write.

The writer side of the simulator. A :class:`Fleet` connects to a moto server running the
simulator extension, learns its data directory from ``GET /_simulator/info``, creates clusters
and instances through moto's RDS API (so ``DescribeDBClusters``/``DescribeDBInstances`` list
them, writer and readers, with tags) and writes each instance's log files there. Time is
either a :class:`~simulator.clock.SimClock` moved by :meth:`Fleet.advance` (tests: an hour of
rotation in one call) or the wall clock driven by :meth:`Fleet.run` / :meth:`Fleet.start`
(the CLI and load tests).

Typical test::

    fleet = Fleet(moto_url, clock=SimClock())
    cluster = fleet.add_cluster("orders", AURORA_MYSQL_3, instances=2)
    fleet.advance(3600)                       # an hour of logs, one rotation
    fleet.faults.add(Truncate(instance=cluster.writer))
    ... read through boto3 ...
    assert fleet.truth.digests(instance=cluster.writer) == what_arrived

Before each step the fleet asks the server for writer faults (:class:`~simulator.faults.HugeLine`,
:class:`~simulator.faults.GarbageBytes`, :class:`~simulator.faults.DeleteBeforeRead`) and
rotation requests (:class:`~simulator.faults.RotateMidRead`), applies them and reports how
often they fired.

Thread-safety: every public method takes one lock, so a background :meth:`start` loop and a
test thread may both use the fleet. Methods block on HTTP calls to moto (milliseconds).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config

from simulator.client import ApiControl, FaultControl, RequestLogControl, SimulatorControl
from simulator.clock import Clock, SimClock
from simulator.faults import DeleteBeforeRead, GarbageBytes, HugeLine
from simulator.files import FileSeries, Observer
from simulator.profiles import AURORA_MYSQL_3, Engine, LogProfile
from simulator.requestlog import SIMULATOR_ACCESS_KEY_ID
from simulator.streams import InstanceLogs
from simulator.truth import Truth

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient
    from mypy_boto3_s3 import S3Client

__all__ = ["Fleet", "SimCluster", "SimInstance"]

# Small enough that tests fill several pages and rotations quickly, large enough to look busy.
DEFAULT_PROFILE_BYTES_PER_MIN = 30_000
_UNLIMITED = 1 << 30


@dataclass
class SimInstance:
    """One simulated DB instance and its log writers."""

    id: str
    cluster_id: str
    engine: Engine
    profile: LogProfile
    tags: dict[str, str]
    logs: InstanceLogs

    @property
    def directory(self) -> Path:
        return self.logs.directory


@dataclass
class SimCluster:
    """One simulated Aurora cluster: its members in creation order and its writer."""

    id: str
    engine: Engine
    tags: dict[str, str]
    members: list[str] = field(default_factory=list)
    writer: str | None = None

    @property
    def readers(self) -> list[str]:
        return [member for member in self.members if member != self.writer]


class Fleet:
    """Clusters in moto and the log files of their instances. See the module docstring."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        clock: Clock | None = None,
        seed: int | str = 0,
        truth: Truth | None = None,
        region: str = "us-east-1",
        observer: Observer | None = None,
    ) -> None:
        self.endpoint_url = endpoint_url
        self.control = SimulatorControl(endpoint_url)
        info = self.control.info()
        self.data_dir: Path = info.data_dir
        self.clock: Clock = clock if clock is not None else SimClock()
        self.seed = seed
        self.truth = truth if truth is not None else Truth()
        self.region = region
        self.observer = observer
        self.clusters: dict[str, SimCluster] = {}
        self.instances: dict[str, SimInstance] = {}
        self._lock = threading.RLock()
        self._rds = self._client("rds")
        self._s3: S3Client | None = None
        self._staged: dict[tuple[str, str], tuple[int, int]] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        #: Wall seconds the last step took (writing, faults, truth): the real-time loop's lag.
        self.last_step_s = 0.0
        self._chance = random.Random(f"faults:{seed}")

    # The admin API, for tests: fleet.faults.add(...), fleet.requests.records(...), ...

    @property
    def faults(self) -> FaultControl:
        """Install, list and remove faults in the moto server (:mod:`simulator.faults`)."""
        return self.control.faults

    @property
    def requests(self) -> RequestLogControl:
        """The moto server's request log (:mod:`simulator.requestlog`)."""
        return self.control.requests

    @property
    def api(self) -> ApiControl:
        """How the moto server's simulated API behaves (:class:`~simulator.settings.ApiConfig`)."""
        return self.control.api

    def _client(self, service: str) -> Any:
        # The simulator's own key: its calls are not throttled, faulted or logged by the server.
        return boto3.client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=SIMULATOR_ACCESS_KEY_ID,
            aws_secret_access_key="simulator",
            config=Config(retries={"total_max_attempts": 3}),
        )

    @property
    def rds(self) -> RDSClient:
        """A boto3 RDS client exempt from faults (for setup, not for the code under test)."""
        client: RDSClient = self._rds
        return client

    # Clusters and instances.

    def add_cluster(
        self,
        cluster_id: str,
        engine: Engine = AURORA_MYSQL_3,
        *,
        instances: int = 2,
        profile: LogProfile | None = None,
        tags: Mapping[str, str] | None = None,
        instance_tags: Mapping[str, str] | None = None,
    ) -> SimCluster:
        """Create a cluster with ``instances`` members (the first is the writer; 0 is allowed)."""
        tag_list = _tags(tags)
        with self._lock:
            self.rds.create_db_cluster(
                DBClusterIdentifier=cluster_id,
                Engine=engine.name,
                EngineVersion=engine.version,
                MasterUsername="admin",
                MasterUserPassword="simulated-password-1",
                Tags=tag_list,
            )
            cluster = SimCluster(cluster_id, engine, dict(tags or {}))
            self.clusters[cluster_id] = cluster
            for number in range(1, instances + 1):
                self.add_instance(
                    cluster_id,
                    f"{cluster_id}-{number}",
                    profile=profile,
                    tags=instance_tags,
                )
            return cluster

    def add_instance(
        self,
        cluster_id: str,
        instance_id: str | None = None,
        *,
        profile: LogProfile | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> SimInstance:
        """Create an instance in ``cluster_id`` (a reader unless the cluster had none)."""
        with self._lock:
            cluster = self.clusters[cluster_id]
            if instance_id is None:
                number = len(cluster.members) + 1
                while f"{cluster_id}-{number}" in self.instances:
                    number += 1
                instance_id = f"{cluster_id}-{number}"
            engine = cluster.engine
            self.rds.create_db_instance(
                DBInstanceIdentifier=instance_id,
                DBClusterIdentifier=cluster_id,
                Engine=engine.name,
                EngineVersion=engine.version,
                DBInstanceClass="db.r6g.large",
                Tags=_tags(tags),
            )
            chosen = profile or LogProfile.realistic(engine, DEFAULT_PROFILE_BYTES_PER_MIN)
            logs = InstanceLogs(
                instance_id,
                engine,
                chosen,
                self.data_dir,
                truth=self.truth,
                start_us=self.clock.now_us(),
                seed=self.seed,
                observer=self.observer,
            )
            instance = SimInstance(instance_id, cluster_id, engine, chosen, dict(tags or {}), logs)
            self.instances[instance_id] = instance
            cluster.members.append(instance_id)
            if cluster.writer is None:
                cluster.writer = instance_id
            return instance

    def remove_instance(self, instance_id: str) -> None:
        """Delete the instance in moto and all its log files."""
        with self._lock:
            instance = self.instances.pop(instance_id)
            self.rds.delete_db_instance(DBInstanceIdentifier=instance_id, SkipFinalSnapshot=True)
            instance.logs.remove()
            cluster = self.clusters[instance.cluster_id]
            cluster.members.remove(instance_id)
            if cluster.writer == instance_id:
                cluster.writer = self._writer_in_moto(cluster.id)

    def remove_cluster(self, cluster_id: str) -> None:
        """Delete the cluster, its instances and their files."""
        with self._lock:
            for member in list(self.clusters[cluster_id].members):
                self.remove_instance(member)
            self.rds.delete_db_cluster(DBClusterIdentifier=cluster_id, SkipFinalSnapshot=True)
            del self.clusters[cluster_id]

    def failover(self, cluster_id: str, target: str | None = None) -> str:
        """Fail the cluster over (to ``target`` or any reader); returns the new writer.

        Both the old and the new writer restart, as on Aurora: start-up lines in their error
        logs and banners in their slow and general logs.
        """
        with self._lock:
            cluster = self.clusters[cluster_id]
            old = cluster.writer
            if target is None:
                self.rds.failover_db_cluster(DBClusterIdentifier=cluster_id)
            else:
                self.rds.failover_db_cluster(
                    DBClusterIdentifier=cluster_id, TargetDBInstanceIdentifier=target
                )
            new = self._writer_in_moto(cluster_id)
            cluster.writer = new
            for member in {old, new} - {None}:
                assert member is not None
                self.instances[member].logs.restart()
            assert new is not None
            return new

    def _writer_in_moto(self, cluster_id: str) -> str | None:
        described = self.rds.describe_db_clusters(DBClusterIdentifier=cluster_id)["DBClusters"][0]
        for member in described.get("DBClusterMembers", []):
            if member.get("IsClusterWriter"):
                return member["DBInstanceIdentifier"]
        return None

    def instance(self, instance_id: str) -> SimInstance:
        with self._lock:
            return self.instances[instance_id]

    def log_files(self, instance_id: str) -> list[str]:
        """The LogFileNames the instance has now."""
        with self._lock:
            return self.instances[instance_id].logs.names()

    def path(self, instance_id: str, log_file_name: str) -> Path:
        """Where a log file is on disk."""
        return self.data_dir / instance_id / log_file_name

    # Time.

    def advance(self, seconds: float) -> None:
        """Move the simulated clock by ``seconds`` and write everything in between."""
        with self._lock:
            if not isinstance(self.clock, SimClock):
                raise TypeError("advance() needs a SimClock; a wall-clock fleet uses run()")
            self.clock.advance(seconds)
            self._step(self.clock.now_us())

    def step(self) -> None:
        """Write up to the clock's current time (a wall-clock fleet driven by its caller)."""
        with self._lock:
            self._step(self.clock.now_us())

    def run(
        self,
        duration_s: float,
        *,
        tick_s: float = 1.0,
        on_tick: Callable[[Fleet], None] | None = None,
    ) -> None:
        """Write in real time for ``duration_s`` wall seconds (until :meth:`stop`), a step
        per ``tick_s``. A SimClock is moved by the wall time that passes. Blocks."""
        self._stop.clear()
        started = time.monotonic()
        last = started
        next_tick = started
        while not self._stop.is_set():
            next_tick += tick_s
            remaining = min(next_tick, started + duration_s) - time.monotonic()
            if remaining > 0 and self._stop.wait(remaining):
                break
            now = time.monotonic()
            with self._lock:
                if isinstance(self.clock, SimClock):
                    self.clock.advance(now - last)
                self._step(self.clock.now_us())
                self.truth.flush()
            last = now
            if on_tick is not None:
                on_tick(self)
            if now - started >= duration_s:
                break

    def start(self, *, tick_s: float = 1.0) -> None:
        """Run in a background thread until :meth:`stop`."""
        if self._thread is not None:
            raise RuntimeError("already running")
        self._thread = threading.Thread(
            target=self.run, args=(float("inf"),), kwargs={"tick_s": tick_s}, daemon=True
        )
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the real-time loop (from any thread) and wait for the background thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    def _step(self, now_us: int) -> None:
        started = time.perf_counter()
        try:
            self._write_until(now_us)
        finally:
            self.last_step_s = time.perf_counter() - started

    def _write_until(self, now_us: int) -> None:
        instructions = self.control.writer_instructions()
        fired: dict[str, int] = {}
        for instance_id, name, _fault_id in instructions.rotations:
            target = self.instances.get(instance_id)
            stream = target.logs.stream_for(name) if target is not None else None
            if target is not None and stream is not None:
                stream.rotate(target.logs.now_us)
        armed: list[tuple[str, FileSeries, int]] = []
        for status in instructions.faults:
            fault = status.fault
            remaining = status.remaining if status.remaining is not None else _UNLIMITED
            for instance in self.instances.values():
                for stream in instance.logs.streams.values():
                    for series in stream.series:
                        if remaining <= 0 or not _in_scope(fault, instance.id, series.names()):
                            continue
                        if isinstance(fault, HugeLine) and series is stream.series[0]:
                            if self._chance.random() >= fault.probability:
                                continue
                            stream.pending_huge.append(fault.line_bytes)
                            fired[status.id] = fired.get(status.id, 0) + 1
                            remaining -= 1
                        elif isinstance(fault, GarbageBytes) and series is stream.series[0]:
                            if self._chance.random() >= fault.probability:
                                continue
                            stream.pending_garbage.append(fault.byte_count)
                            fired[status.id] = fired.get(status.id, 0) + 1
                            remaining -= 1
                        elif isinstance(fault, DeleteBeforeRead):
                            series.delete_on_close = remaining
                            armed.append((status.id, series, series.deleted_on_close))
        for instance in self.instances.values():
            instance.logs.advance_to(now_us)
        for fault_id, series, before in armed:
            series.delete_on_close = 0
            if series.deleted_on_close > before:
                fired[fault_id] = fired.get(fault_id, 0) + series.deleted_on_close - before
        for fault_id, times in fired.items():
            self.control.report_fired(fault_id, times)

    # Writer-side actions for tests.

    def rotate(self, instance_id: str, kind: str) -> None:
        """Rotate one log of an instance now (between two pages of a read, say)."""
        with self._lock:
            self.instances[instance_id].logs.rotate(kind)

    def restart(self, instance_id: str) -> None:
        """Write what a restart writes (start-up lines, banners)."""
        with self._lock:
            self.instances[instance_id].logs.restart()

    def delete_log_file(self, instance_id: str, log_file_name: str) -> None:
        """Delete a rotated-out file now, as retention would (raises KeyError if none)."""
        with self._lock:
            if not self.instances[instance_id].logs.delete_file(log_file_name, "deleted"):
                raise KeyError(f"{instance_id} has no rotated file {log_file_name!r}")

    # S3 staging (the processor's S3 source).

    def stage_to_s3(self, bucket: str, *, prefix: str = "staged/") -> list[str]:
        """Copy each file changed since the last call to S3 (``<prefix><instance>/<LogFileName>``).

        Creates the bucket if needed; returns the keys written.
        """
        with self._lock:
            if self._s3 is None:
                self._s3 = self._client("s3")
            s3 = self._s3
            assert s3 is not None
            try:
                s3.head_bucket(Bucket=bucket)
            except s3.exceptions.ClientError:
                s3.create_bucket(Bucket=bucket)
            written = []
            for instance_id, instance in self.instances.items():
                for name in instance.logs.names():
                    path = instance.directory / name
                    stat = path.stat()
                    state = (stat.st_size, stat.st_mtime_ns)
                    if self._staged.get((instance_id, name)) == state:
                        continue
                    key = f"{prefix}{instance_id}/{name}"
                    s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
                    self._staged[(instance_id, name)] = state
                    written.append(key)
            return written

    # Teardown.

    def close(self, *, remove: bool = True) -> None:
        """Stop, then (``remove``) delete this fleet's clusters and files; flush the truth."""
        self.stop()
        with self._lock:
            if remove:
                for cluster_id in list(self.clusters):
                    self.remove_cluster(cluster_id)
            self.truth.flush()
            self._rds.close()
            if self._s3 is not None:
                self._s3.close()
        self.control.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _tags(tags: Mapping[str, str] | None) -> list[Any]:
    return [{"Key": key, "Value": value} for key, value in (tags or {}).items()]


def _in_scope(fault: Any, instance_id: str, names: Iterable[str]) -> bool:
    return any(fault.matches(instance_id, name, None) for name in names)
