"""The local stack: Kafka, Valkey, moto and the OpenObserve contract server as one unit.

Used three ways: by the test suite (one stack per session, each service started on first use,
every process bound to pytest's life), by ``make stack-up``/``make stack-down`` (detached
processes whose state is kept in ``.stack/state.json``), and by ``make run``.
:meth:`LocalStack.env` gives the ``AURORA_*`` variables that point the services at it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from devstack.kafka import kafka_process
from devstack.moto import moto_process
from devstack.processes import ManagedProcess, free_port, group_alive, port_open
from devstack.valkey import valkey_process

__all__ = ["SERVICES", "LocalStack", "Running", "stop_saved"]

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("kafka", "valkey", "moto", "openobserve")
OPENOBSERVE_USER = "root@example.com"
OPENOBSERVE_PASSWORD = "aurora-local-only"
_READY_TIMEOUT_S = {"kafka": 90.0, "valkey": 20.0, "moto": 60.0, "openobserve": 30.0}
# moto extensions the stack always loads: the simulator's RDS log API (simulator/rds_api.py).
MOTO_EXTENSIONS: tuple[str, ...] = ("simulator.rds_api:install",)


@dataclass
class Running:
    """A started service: where it listens and the process behind it."""

    name: str
    port: int
    process: ManagedProcess
    host: str = "127.0.0.1"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def _openobserve_process(workdir: Path, die_with_parent: bool) -> tuple[ManagedProcess, int]:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "tests.contract.openobserve_server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--user",
        OPENOBSERVE_USER,
        "--password",
        OPENOBSERVE_PASSWORD,
    ]
    process = ManagedProcess(
        name="openobserve",
        argv=argv,
        log_path=workdir / "openobserve.log",
        cwd=ROOT,
        env={"PYTHONUNBUFFERED": "1"},
        die_with_parent=die_with_parent,
    )
    return process, port


class LocalStack:
    """Starts the services it is asked for under ``workdir`` and stops them all at the end."""

    def __init__(
        self,
        workdir: Path,
        *,
        die_with_parent: bool = True,
        moto_extensions: Iterable[str] = MOTO_EXTENSIONS,
    ) -> None:
        self.workdir = workdir
        self.die_with_parent = die_with_parent
        self.moto_extensions = tuple(moto_extensions)
        self.running: dict[str, Running] = {}

    def _factory(self, name: str) -> Callable[[], tuple[ManagedProcess, int]]:
        directory = self.workdir / name
        if name == "kafka":
            return lambda: kafka_process(directory, die_with_parent=self.die_with_parent)
        if name == "valkey":
            return lambda: valkey_process(directory, die_with_parent=self.die_with_parent)
        if name == "moto":
            return lambda: moto_process(
                directory, extensions=self.moto_extensions, die_with_parent=self.die_with_parent
            )
        if name == "openobserve":
            return lambda: _openobserve_process(directory, self.die_with_parent)
        raise ValueError(f"unknown service {name!r}; choose from {', '.join(SERVICES)}")

    def start(self, names: Iterable[str]) -> None:
        """Start the named services that are not running yet, all at once, and wait for each.

        Blocks until every one listens; raises :class:`devstack.processes.StartupError` (after
        stopping what it started) if one does not within its timeout.
        """
        wanted = [name for name in dict.fromkeys(names) if name not in self.running]
        started: list[Running] = []
        try:
            for name in wanted:
                process, port = self._factory(name)()
                process.start()
                started.append(Running(name, port, process))
            for item in started:
                item.process.wait_ready(item.host, item.port, _READY_TIMEOUT_S[item.name])
                self.running[item.name] = item
        except BaseException:
            for item in started:
                item.process.stop()
                self.running.pop(item.name, None)
            raise

    def ensure(self, name: str) -> Running:
        """The running service ``name``, started now if needed."""
        self.start([name])
        return self.running[name]

    def stop_service(self, name: str) -> None:
        """Stop one running service (SIGTERM, then SIGKILL), keeping its port and data
        directory for :meth:`restart_service`: an outage, as clients see it."""
        self.running[name].process.stop()

    def restart_service(self, name: str) -> Running:
        """Start a service stopped by :meth:`stop_service` again, on the same port and with
        the same data directory (Kafka keeps its topics and offsets; Valkey, which persists
        nothing, comes back empty). Blocks until it listens; raises
        :class:`devstack.processes.StartupError` if it does not in time."""
        item = self.running[name]
        if item.process.running():
            raise RuntimeError(f"{name} is running; stop_service() it first")
        item.process.start()
        item.process.wait_ready(item.host, item.port, _READY_TIMEOUT_S[name])
        return item

    def stop(self) -> list[str]:
        """Stop everything; returns the names of services that left a process behind."""
        leftovers = []
        for item in reversed(list(self.running.values())):
            item.process.stop()
            if item.process.leftovers():
                leftovers.append(item.name)
        self.running.clear()
        return leftovers

    def env(self) -> dict[str, str]:
        """``AURORA_*`` (and AWS SDK) variables pointing the services at the running stack."""
        env: dict[str, str] = {}
        if "kafka" in self.running:
            env["AURORA_KAFKA__BOOTSTRAP_SERVERS"] = self.running["kafka"].address
        if "valkey" in self.running:
            env["AURORA_VALKEY__URL"] = f"redis://{self.running['valkey'].address}/0"
        if "moto" in self.running:
            env.update(aws_env(f"http://{self.running['moto'].address}"))
        if "openobserve" in self.running:
            env["AURORA_OPENOBSERVE__URL"] = f"http://{self.running['openobserve'].address}"
            env["AURORA_OPENOBSERVE__USER"] = OPENOBSERVE_USER
            env["AURORA_OPENOBSERVE__PASSWORD"] = OPENOBSERVE_PASSWORD
        return env

    # State of a detached stack (make stack-up / stack-down).

    def save(self, path: Path) -> None:
        state = {
            "services": {
                name: {
                    "port": item.port,
                    "pid": item.process.pid,
                    "log": str(item.process.log_path),
                }
                for name, item in self.running.items()
            },
            "env": self.env(),
        }
        path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


def aws_env(endpoint_url: str) -> dict[str, str]:
    """Variables that send every AWS call to a local fake, with the credentials it accepts."""
    return {
        "AURORA_AWS__ENDPOINT_URL": endpoint_url,
        "AURORA_DYNAMODB__CREATE_TABLE_IF_MISSING": "true",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def stop_saved(path: Path, timeout_s: float = 20.0) -> list[str]:
    """Stop the detached stack described by ``path``; returns the names that were running."""
    if not path.exists():
        return []
    state = json.loads(path.read_text())
    names = []
    for name, service in state.get("services", {}).items():
        pgid = int(service["pid"])
        if not group_alive(pgid):
            continue
        names.append(name)
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        deadline = time.monotonic() + timeout_s
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if group_alive(pgid):
            os.killpg(pgid, signal.SIGKILL)
    path.unlink()
    return names


def saved_status(path: Path) -> dict[str, str]:
    """Each saved service's state: ``up`` when it still answers on its port."""
    if not path.exists():
        return {}
    state = json.loads(path.read_text())
    return {
        name: "up" if port_open("127.0.0.1", int(service["port"])) else "down"
        for name, service in state.get("services", {}).items()
    }
