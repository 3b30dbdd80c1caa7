"""The simulator's state inside the moto process: data directory, API config, faults, calls.

One :class:`SimulatorServer` exists per moto process, created by
:func:`simulator.rds_api.install` and shared by the RDS handlers, the REST download route and
the admin API. The log files themselves are the only state shared with the writer: it writes
``<data_dir>/<instance_id>/<LogFileName>`` and sets each file's mtime to its simulated
LastWritten; this side only reads them.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from simulator.faults import FaultRegistry
from simulator.files import stat_settled
from simulator.requestlog import SIMULATOR_ACCESS_KEY_ID, RequestLog
from simulator.settings import ApiConfig, SimulatorSettings

__all__ = ["LogFileInfo", "RotationRequest", "SimulatorServer", "current_server"]

_PG_NAME = re.compile(r"^error/postgresql\.log\.[0-9-]+(?P<csv>\.csv)?$")
_AUDIT_NAME = re.compile(r"^audit/audit\.log\.\d+\.(?P<set>[0-9-]+\.\d+)$")


@dataclass(frozen=True, slots=True)
class LogFileInfo:
    name: str  # LogFileName
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class RotationRequest:
    """A file the writer should rotate before its next write (the rotate-mid-read fault)."""

    instance: str
    file: str
    fault_id: str


class SimulatorServer:
    """Everything the moto side of the simulator knows. Thread-safe."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        if settings.data_dir is not None:
            self.data_dir = settings.data_dir.resolve()
            self.data_dir.mkdir(parents=True, exist_ok=True)
        else:
            self.data_dir = Path(tempfile.mkdtemp(prefix="aurora-simulator-"))
            atexit.register(shutil.rmtree, self.data_dir, True)
        self._lock = threading.Lock()
        self._config = settings.api_config()
        self.faults = FaultRegistry()
        self.requests = RequestLog(settings.request_log_size)
        self.exempt_access_key_ids = frozenset({SIMULATOR_ACCESS_KEY_ID})
        self._rotations: list[RotationRequest] = []

    @property
    def config(self) -> ApiConfig:
        with self._lock:
            return self._config

    def configure(self, **changes: object) -> ApiConfig:
        """Change API behaviour; raises ``pydantic.ValidationError`` on a bad value."""
        with self._lock:
            merged = {**self._config.model_dump(), **changes}
            self._config = ApiConfig.model_validate(merged)
            return self._config

    def reset(self) -> None:
        """Back to the environment's config, no faults, an empty request log."""
        with self._lock:
            self._config = self.settings.api_config()
            self._rotations.clear()
        self.faults.clear()
        self.requests.clear()

    # Rotation requests (rotate-mid-read): this side asks, the writer executes.

    def request_rotation(self, request: RotationRequest) -> None:
        with self._lock:
            if request not in self._rotations:
                self._rotations.append(request)

    def take_rotations(self) -> list[RotationRequest]:
        with self._lock:
            taken, self._rotations = self._rotations, []
            return taken

    # The files.

    def instance_dir(self, instance: str) -> Path:
        if not instance or "/" in instance or instance.startswith("."):
            raise ValueError(f"not an instance identifier: {instance!r}")
        return self.data_dir / instance

    def path_for(self, instance: str, name: str) -> Path | None:
        """The file ``name`` of ``instance``, or None for a name no log file can have."""
        parts = name.split("/")
        if not name or any(part in ("", ".", "..") or part.startswith(".") for part in parts):
            return None
        return self.instance_dir(instance) / name

    def list_files(self, instance: str) -> list[LogFileInfo]:
        """Every log file of ``instance`` (hidden work files excluded), sorted by name."""
        root = self.instance_dir(instance)
        found: list[LogFileInfo] = []
        try:
            folders = list(os.scandir(root))
        except FileNotFoundError:
            return []
        for folder in folders:
            if not folder.is_dir() or folder.name.startswith("."):
                continue
            try:
                entries = list(os.scandir(folder.path))
            except FileNotFoundError:
                continue
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    fd = os.open(entry.path, os.O_RDONLY)
                except FileNotFoundError:
                    continue  # rotated away between listing and stat
                try:
                    stat = stat_settled(fd)
                finally:
                    os.close(fd)
                found.append(
                    LogFileInfo(f"{folder.name}/{entry.name}", stat.st_size, stat.st_mtime_ns)
                )
        found.sort(key=lambda info: info.name)
        return found

    def is_rotated(self, instance: str, name: str) -> bool:
        """Whether ``name`` no longer receives writes (a segment that has ended)."""
        if name.endswith(".log"):
            return False
        pg = _PG_NAME.match(name)
        audit = _AUDIT_NAME.match(name)
        if pg is None and audit is None:
            return True  # `.N`, `.YYYY-MM-DD.H`, server_audit.log.N: rotated by name
        siblings = [info.name for info in self.list_files(instance)]
        if pg is not None:
            same = [s for s in siblings if (m := _PG_NAME.match(s)) and m["csv"] == pg["csv"]]
            return name != max(same, default=name)
        assert audit is not None
        sets = [m["set"] for s in siblings if (m := _AUDIT_NAME.match(s))]
        return audit["set"] != max(sets, key=_audit_set_key, default=audit["set"])


def _audit_set_key(stamp: str) -> tuple[str, int]:
    minute, _, sequence = stamp.rpartition(".")
    return minute, int(sequence)


_SERVER: SimulatorServer | None = None


def set_server(server: SimulatorServer) -> None:
    global _SERVER
    _SERVER = server


def current_server() -> SimulatorServer:
    """The server of this moto process; raises if the extension was not installed."""
    if _SERVER is None:
        raise RuntimeError("the simulator extension is not installed in this process")
    return _SERVER
