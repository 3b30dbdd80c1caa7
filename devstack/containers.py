"""Kafka and Valkey from testcontainers, for machines with a Docker engine.

Selected by ``AURORA_TEST_DOCKER=1``. moto always runs as a local process: it is Python, it
loads this project's extensions, and a container would add nothing but start-up time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["kafka_container", "valkey_container"]

KAFKA_IMAGE = "apache/kafka:4.1.1"
VALKEY_IMAGE = "valkey/valkey:8.1"


@contextmanager
def kafka_container() -> Iterator[str]:
    """Yields the bootstrap address of a KRaft broker in a container."""
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka:
        yield str(kafka.get_bootstrap_server())


@contextmanager
def valkey_container() -> Iterator[str]:
    """Yields ``redis://host:port/0`` of a Valkey server in a container."""
    from testcontainers.redis import RedisContainer

    with RedisContainer(VALKEY_IMAGE) as valkey:
        host = valkey.get_container_host_ip()
        port = valkey.get_exposed_port(6379)
        yield f"redis://{host}:{port}/0"
