"""Kafka clients (aiokafka) configured from :class:`~common.settings.KafkaSettings`.

Producers are idempotent with ``acks=all``: a retried send never duplicates a record inside
the broker, and a send is confirmed only once every in-sync replica has it. Consumers never
auto-commit: the processor commits an offset only after the records it produced are delivered.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from common.settings import KafkaSettings

__all__ = ["connection_options", "ensure_topics", "make_admin", "make_consumer", "make_producer"]


def connection_options(settings: KafkaSettings) -> dict[str, Any]:
    """The bootstrap, client id, timeout and security options shared by every client."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap_servers,
        "client_id": settings.client_id,
        "request_timeout_ms": int(settings.request_timeout_s * 1000),
        "security_protocol": settings.security_protocol,
    }
    if settings.sasl_mechanism is not None:
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        password = settings.sasl_password
        options["sasl_plain_password"] = password.get_secret_value() if password else None
    if settings.security_protocol in {"SSL", "SASL_SSL"}:
        from aiokafka.helpers import create_ssl_context

        options["ssl_context"] = create_ssl_context()
    return options


def make_producer(settings: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    """An idempotent, acks=all producer (not started)."""
    options = connection_options(settings)
    options.update(enable_idempotence=True, acks="all", linger_ms=5)
    options.update(overrides)
    return AIOKafkaProducer(**options)


def make_consumer(
    settings: KafkaSettings, *topics: str, group_id: str | None = None, **overrides: Any
) -> AIOKafkaConsumer:
    """A group consumer with auto-commit off, reading from the earliest uncommitted offset."""
    options = connection_options(settings)
    options.update(
        group_id=group_id or settings.consumer_group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(settings.session_timeout_s * 1000),
        heartbeat_interval_ms=int(settings.heartbeat_interval_s * 1000),
        max_poll_interval_ms=int(settings.max_poll_interval_s * 1000),
        isolation_level="read_committed",
    )
    options.update(overrides)
    return AIOKafkaConsumer(*topics, **options)


def make_admin(settings: KafkaSettings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(**connection_options(settings))


async def ensure_topics(settings: KafkaSettings, topics: Sequence[str]) -> list[str]:
    """Create the topics that do not exist yet with the configured layout; returns those created.

    Safe to call from several replicas at once: a topic created concurrently is not an error.
    Raises aiokafka's errors when the cluster cannot be reached.
    """
    admin = make_admin(settings)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [topic for topic in dict.fromkeys(topics) if topic not in existing]
        created = []
        for topic in wanted:
            try:
                await admin.create_topics(
                    [
                        NewTopic(
                            topic,
                            num_partitions=settings.topic_partitions,
                            replication_factor=settings.topic_replication_factor,
                        )
                    ]
                )
                created.append(topic)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        await admin.close()
