"""A real Apache Kafka 4.x broker (KRaft, single combined broker+controller) as a local process.

The jars come from Maven Central through ``kafka/pom.xml`` and are cached under
``.cache/kafka/<version>/libs`` (git-ignored); the broker is started by the very
``kafka/start-kafka.sh`` that the container image runs.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import subprocess
import sys
from pathlib import Path

from devstack.processes import ManagedProcess, free_port

__all__ = ["KAFKA_DIR", "ensure_kafka_libs", "kafka_process", "kafka_version"]

ROOT = Path(__file__).resolve().parent.parent
KAFKA_DIR = ROOT / "kafka"
CACHE_DIR = ROOT / ".cache" / "kafka"


def kafka_version() -> str:
    """The Kafka version pinned in kafka/pom.xml."""
    pom = (KAFKA_DIR / "pom.xml").read_text()
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom)
    if match is None:
        raise RuntimeError("kafka/pom.xml pins no <kafka.version>")
    return match.group(1)


def ensure_kafka_libs(cache_dir: Path = CACHE_DIR) -> Path:
    """Resolve the broker's jars with Maven once; later calls return the cached folder.

    Blocks (a first run downloads about 45 MB). Safe to call from several processes at once:
    an exclusive file lock makes one download and the others wait for it.
    """
    libs = cache_dir / kafka_version() / "libs"
    if any(libs.glob("kafka_2.13-*.jar")):
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError("Maven (mvn) is needed once to fetch the Kafka jars; install it")
    libs.parent.mkdir(parents=True, exist_ok=True)
    with (libs.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if any(libs.glob("kafka_2.13-*.jar")):
            return libs
        staging = libs.parent / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(KAFKA_DIR / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={staging}",
            "-DincludeScope=runtime",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
            output = result.stdout[-3000:] + result.stderr[-3000:]
            raise RuntimeError(f"Maven could not fetch the Kafka jars:\n{output}")
        staging.rename(libs)
    return libs


def kafka_process(
    workdir: Path,
    *,
    port: int | None = None,
    heap: str = "-Xms128m -Xmx512m",
    die_with_parent: bool = True,
) -> tuple[ManagedProcess, int]:
    """A (not yet started) broker whose data lives under ``workdir``; returns it and its port.

    Tuned for tests and laptops: small heap, one partition for the internal topics (a consumer
    group becomes usable in a second instead of ten), no rebalance delay.
    """
    libs = ensure_kafka_libs()
    port = port or free_port()
    controller_port = free_port()
    extra = "\n".join(
        [
            "offsets.topic.num.partitions=1",
            "transaction.state.log.num.partitions=1",
            "group.initial.rebalance.delay.ms=0",
            "log.segment.bytes=16777216",
            "log.retention.check.interval.ms=60000",
            "share.coordinator.state.topic.num.partitions=1",
        ]
    )
    env = {
        "KAFKA_LIBS_DIR": str(libs),
        "KAFKA_DATA_DIR": str(workdir / "data"),
        "KAFKA_CONFIG_DIR": str(workdir / "config"),
        "KAFKA_LISTEN_HOST": "127.0.0.1",
        "KAFKA_ADVERTISED_HOST": "127.0.0.1",
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller_port),
        "KAFKA_HEAP_OPTS": heap,
        # Fast start for short-lived local brokers: the JIT's first tier and a small code cache.
        "KAFKA_JVM_OPTS": "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=64m -Xss512k",
        "KAFKA_LOG_LEVEL": "WARN",
        "KAFKA_EXTRA_PROPERTIES": extra,
    }
    process = ManagedProcess(
        name="kafka",
        argv=["bash", str(KAFKA_DIR / "start-kafka.sh")],
        log_path=workdir / "kafka.log",
        env=env,
        die_with_parent=die_with_parent,
    )
    return process, port


if __name__ == "__main__":  # `python -m devstack.kafka`: fetch the jars (make setup)
    print(ensure_kafka_libs(), file=sys.stderr)
