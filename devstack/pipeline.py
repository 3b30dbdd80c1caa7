"""The whole pipeline as processes on the local stack, and what it delivered, entry by entry.

Shared by the end-to-end test and the fault harness (:mod:`devstack.chaos`): the environment
that points discovery and the processor at the stack with short intervals
(:func:`pipeline_env`), the service processes (:class:`Services`), and the records the
OpenObserve contract server holds, keyed so they compare with the simulator's ground truth
(:func:`delivered_rows`, :func:`record_key`, :func:`truth_key`).
"""

from __future__ import annotations

import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from devstack.processes import ManagedProcess
from devstack.stack import ROOT
from simulator import entry_digest
from simulator.truth import TruthEntry

__all__ = [
    "KIND_TYPES",
    "STREAMS",
    "Services",
    "delivered_rows",
    "log_type_of",
    "pipeline_env",
    "record_digest",
    "record_key",
    "truth_key",
]

#: Log type -> OpenObserve stream.
STREAMS = {
    "mysql_slow": "aurora_mysql_slow",
    "mysql_error": "aurora_mysql_error",
    "mysql_general": "aurora_mysql_general",
    "mysql_audit": "aurora_mysql_audit",
    "postgresql": "aurora_postgresql",
}
#: The simulator's (and discovery's) log kind -> log type.
KIND_TYPES = {
    "slowquery": "mysql_slow",
    "error": "mysql_error",
    "general": "mysql_general",
    "audit": "mysql_audit",
    "postgresql": "postgresql",
}


def log_type_of(kind: str) -> str:
    return KIND_TYPES.get(kind, kind)


def pipeline_env(
    names: str,
    *,
    kafka_bootstrap: str,
    valkey_url: str,
    moto_url: str,
    openobserve_url: str,
    openobserve_credentials: tuple[str, str],
) -> dict[str, str]:
    """Variables for discovery and processor processes on the given services, with topics,
    group, key prefix and table named after ``names`` and the short intervals a test run
    needs. Each replica adds its own ``AWS_ACCESS_KEY_ID`` (the simulator's request log tells
    callers apart by it)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("AURORA_", "AWS_"))}
    user, password = openobserve_credentials
    return {
        **inherited,
        "AURORA_AWS__ENDPOINT_URL": moto_url,
        "AURORA_KAFKA__BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AURORA_VALKEY__URL": valkey_url,
        "AURORA_OPENOBSERVE__URL": openobserve_url,
        "AURORA_OPENOBSERVE__USER": user,
        "AURORA_OPENOBSERVE__PASSWORD": password,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_SECRET_ACCESS_KEY": "pipeline-secret",
        "AURORA_KAFKA__TOPIC": f"{names}-events",
        "AURORA_KAFKA__DEAD_LETTER_TOPIC": f"{names}-dlq",
        "AURORA_KAFKA__CONSUMER_GROUP": f"{names}-processors",
        "AURORA_KAFKA__TOPIC_PARTITIONS": "4",
        "AURORA_KAFKA__SESSION_TIMEOUT_S": "8",
        "AURORA_KAFKA__HEARTBEAT_INTERVAL_S": "1",
        "AURORA_VALKEY__KEY_PREFIX": f"{names}:",
        "AURORA_DYNAMODB__TABLE": f"{names}-tracking",
        "AURORA_DYNAMODB__CREATE_TABLE_IF_MISSING": "true",
        "AURORA_RDS__BUDGET_RATE_PER_S": "40",
        "AURORA_RDS__BUDGET_BURST": "40",
        "AURORA_DISCOVERY__MIN_POLL_INTERVAL_S": "1",
        "AURORA_DISCOVERY__MAX_POLL_INTERVAL_S": "3",
        "AURORA_DISCOVERY__INVENTORY_INTERVAL_S": "2",
        "AURORA_DISCOVERY__FULL_LISTING_INTERVAL_S": "10",
        "AURORA_DISCOVERY__LEASE_TTL_S": "6",
        "AURORA_DISCOVERY__LEASE_RENEW_INTERVAL_S": "2",
        "AURORA_DISCOVERY__MEMBER_TTL_S": "6",
        "AURORA_PROCESSOR__MAX_BATCH_AGE_S": "0.2",
        "AURORA_PROCESSOR__COMMIT_INTERVAL_S": "0.5",
        "AURORA_PROCESSOR__DRAIN_TIMEOUT_S": "4",
        "AURORA_SERVICE__SHUTDOWN_DEADLINE_S": "5",
        "AURORA_SERVICE__TERMINATION_GRACE_PERIOD_S": "10",
        "AURORA_HTTP__HOST": "127.0.0.1",
        "AURORA_HTTP__PORT": "0",
        "AURORA_LOGGING__FORMAT": "json",
    }


@dataclass
class Services:
    """Discovery and processor replicas, each a process with its log in ``logs``.

    A replica is named (``processor-1``); starting a name again after it was stopped or
    killed starts a new process that appends to the same log.
    """

    env: dict[str, str]
    logs: Path
    running: dict[str, ManagedProcess] = field(default_factory=dict)

    def start(self, module: str, name: str, **extra: str) -> ManagedProcess:
        """Start ``python -m module`` as replica ``name`` (returns at once)."""
        process = ManagedProcess(
            name=name,
            argv=[sys.executable, "-m", module],
            log_path=self.logs / f"{name}.log",
            env={**self.env, **extra},
            cwd=ROOT,
        )
        process.start()
        self.running[name] = process
        return process

    def kill(self, name: str) -> None:
        """SIGKILL replica ``name``: no shutdown, no final commit (a crash)."""
        process = self.running.pop(name)
        if process.popen is not None:
            process.popen.send_signal(signal.SIGKILL)
            process.popen.wait(timeout=30)
        process.stop()

    def stop_one(self, name: str) -> None:
        """SIGTERM replica ``name`` and wait for it (a graceful scale-down)."""
        self.running.pop(name).stop(timeout_s=30)

    def check_alive(self) -> None:
        """Raise AssertionError if a replica exited on its own."""
        for name, process in self.running.items():
            if not process.running():
                raise AssertionError(
                    f"{name} exited ({process.popen and process.popen.returncode}); "
                    f"end of its log:\n{process.log_tail()}"
                )

    def stop(self) -> list[str]:
        """Stop every replica; returns the names that left a process behind."""
        leftovers = []
        for name, process in list(self.running.items()):
            process.stop(timeout_s=30)
            if process.leftovers():
                leftovers.append(name)
        self.running.clear()
        return leftovers


def delivered_rows(
    client: httpx.Client, prefix: str, log_types: tuple[str, ...] = tuple(STREAMS)
) -> dict[str, list[dict[str, Any]]]:
    """Every record the contract server stores for instances named ``prefix...``, by log
    type (``client`` has the server's base URL)."""
    found: dict[str, list[dict[str, Any]]] = {}
    for log_type in log_types:
        params = {
            "org": "default",
            "stream": STREAMS[log_type],
            "field": "instance",
            "prefix": prefix,
        }
        answer = client.get("/_contract/records", params=params)
        found[log_type] = answer.json()["records"] if answer.status_code == 200 else []
    return found


def record_digest(row: dict[str, Any]) -> str:
    """The truth digest of the entry a delivered record was parsed from (its ``message`` is
    the entry without its final newline)."""
    data = str(row["message"]).encode()
    if int(str(row["length"])) == len(data) + 1:
        data += b"\n"
    return entry_digest(data)


def record_key(row: dict[str, Any], log_type: str) -> tuple[str, str, str]:
    return (str(row["instance"]), log_type, record_digest(row))


def truth_key(entry: TruthEntry) -> tuple[str, str, str]:
    return (entry.instance_id, log_type_of(entry.kind), entry.digest)
