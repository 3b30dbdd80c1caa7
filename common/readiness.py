"""Readiness checks of the shared dependencies, for :class:`common.health.Readiness`.

Each check is cheap (one round trip), raises when the dependency is unusable and is bounded
by the caller's timeout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiokafka import AIOKafkaClient

from common.clients.kafka import connection_options
from common.health import ReadinessCheck
from common.settings import KafkaSettings

if TYPE_CHECKING:
    import redis.asyncio as redis
    from types_aiobotocore_dynamodb.client import DynamoDBClient

__all__ = ["dynamodb_table_check", "kafka_check", "valkey_check"]


def kafka_check(settings: KafkaSettings) -> ReadinessCheck:
    """Ready when a bootstrap server answers a metadata request."""

    async def check() -> None:
        options = connection_options(settings)
        client = AIOKafkaClient(
            bootstrap_servers=options["bootstrap_servers"],
            client_id=options["client_id"],
            request_timeout_ms=options["request_timeout_ms"],
            security_protocol=options["security_protocol"],
            ssl_context=options.get("ssl_context"),
            sasl_mechanism=options.get("sasl_mechanism", "PLAIN"),
            sasl_plain_username=options.get("sasl_plain_username"),
            sasl_plain_password=options.get("sasl_plain_password"),
        )
        try:
            await client.bootstrap()
        finally:
            await client.close()

    return check


def valkey_check(client: redis.Redis) -> ReadinessCheck:
    """Ready when Valkey answers PING."""

    async def check() -> None:
        await client.ping()

    return check


def dynamodb_table_check(client: DynamoDBClient, table: str) -> ReadinessCheck:
    """Ready when the tracking table exists and is ACTIVE."""

    async def check() -> None:
        answer = await client.describe_table(TableName=table)
        status = answer["Table"].get("TableStatus")
        if status != "ACTIVE":
            raise RuntimeError(f"table {table} is {status}")

    return check
