"""Child processes of the local stack: started in their own process group, waited for, stopped.

Every process is started in a new session (its own process group), so stopping it stops
whatever it spawned too (Kafka's start script execs Java, moto may run threads). When the
starter asks for it (the test suite does), the child is also bound to its parent's life with
Linux's parent-death signal: if pytest itself is killed, the stack dies with it instead of
lingering on the machine.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ManagedProcess",
    "StartupError",
    "free_port",
    "group_alive",
    "process_alive",
    "wait_for_port",
]

_PR_SET_PDEATHSIG = 1


class StartupError(RuntimeError):
    """A stack process did not become ready; the message quotes the end of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the usual bind-to-0 trick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_open(host: str, port: int, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def wait_for_port(
    host: str,
    port: int,
    *,
    timeout_s: float,
    alive: Callable[[], bool] = lambda: True,
    interval_s: float = 0.1,
) -> bool:
    """Poll until ``host:port`` accepts connections; False on timeout or when ``alive()`` fails."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if port_open(host, port):
            return True
        if not alive():
            return False
        time.sleep(interval_s)
    return False


def _bind_to_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class ManagedProcess:
    """One stack process; ``log_path`` receives its stdout and stderr."""

    name: str
    argv: Sequence[str]
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    die_with_parent: bool = True
    popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self.popen is None:
            raise RuntimeError(f"{self.name} not started")
        return self.popen.pid

    def start(self) -> None:
        """Spawn the process (returns at once; use :meth:`wait_ready`)."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env}
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(
                list(self.argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_bind_to_parent if self.die_with_parent else None,
            )

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def wait_ready(self, host: str, port: int, timeout_s: float) -> None:
        """Block until the process listens on ``host:port``; raises :class:`StartupError`."""
        if not wait_for_port(host, port, timeout_s=timeout_s, alive=self.running):
            tail = self.log_tail()
            self.stop()
            state = "exited" if self.popen and self.popen.poll() is not None else "timed out"
            raise StartupError(f"{self.name} {state} before listening on {port}:\n{tail}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM the process group, then SIGKILL what is left after ``timeout_s``."""
        if self.popen is None:
            return
        pgid = self.popen.pid  # a session leader's pgid is its pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            self.popen.wait(timeout=timeout_s)
        # Children that ignored SIGTERM after the leader exited.
        deadline = time.monotonic() + timeout_s
        while group_alive(pgid) and time.monotonic() < deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            time.sleep(0.05)

    def leftovers(self) -> bool:
        """Whether any process of this one's group still exists (after :meth:`stop`)."""
        return self.popen is not None and (self.popen.poll() is None or group_alive(self.pid))


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:  # pragma: no cover - no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat[stat.rfind(")") + 2 :].split()[0] not in {"Z", "X"}


def group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process of group ``pgid`` exists.

    Zombies are dead: they hold no memory, port or file, only a process-table entry until
    their parent reaps them. Orphans are reaped by PID 1, which in some containers never does.
    """
    proc = Path("/proc")
    if not proc.is_dir():  # pragma: no cover - non-Linux: ask the kernel, zombies included
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command name: state, ppid, pgrp, ...
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in {"Z", "X"}:
            return True
    return False
