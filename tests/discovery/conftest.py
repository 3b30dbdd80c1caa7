"""Fixtures of the discovery tests: clients of the session's Valkey and moto, and a budget."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import aioboto3
import pytest
import redis.asyncio as redis

from common.clients.aws import AwsClients
from common.clients.valkey import make_valkey
from common.ratelimit import RdsBudget, RdsCaller
from common.settings import AwsSettings, RdsSettings, ValkeySettings
from common.tracking import TrackingTable


@pytest.fixture
async def valkey(valkey_url: str) -> AsyncIterator[redis.Redis]:
    client = make_valkey(ValkeySettings(url=valkey_url))
    yield client
    await client.aclose()


@pytest.fixture
def key_prefix() -> str:
    """A Valkey key prefix no other test uses."""
    return f"test-{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def aws_clients(aws_environ: dict[str, str], moto_url: str) -> AwsClients:
    session = aioboto3.Session(
        aws_access_key_id=aws_environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws_environ["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    return AwsClients(AwsSettings(endpoint_url=moto_url), session=session)


@pytest.fixture
def caller(valkey: redis.Redis, key_prefix: str) -> RdsCaller:
    """An RDS caller with a budget of its own, generous enough never to hold a test back."""
    budget = RdsBudget(
        valkey,
        RdsSettings(budget_rate_per_s=100, budget_burst=100),
        key=f"{key_prefix}rds-budget",
    )
    return RdsCaller(budget)


@pytest.fixture
async def table(
    aws_clients: AwsClients, unique_name: Callable[[str], str]
) -> AsyncIterator[TrackingTable]:
    async with aws_clients.dynamodb() as dynamodb:
        tracking = TrackingTable(dynamodb, unique_name("tracking"), item_ttl_s=3600)
        await tracking.ensure_table()
        yield tracking


def replica_clients(moto_url: str, access_key_id: str) -> AwsClients:
    """AWS clients of one replica, signing with its own key so the request log tells them
    apart."""
    session = aioboto3.Session(
        aws_access_key_id=access_key_id,
        aws_secret_access_key="replica-secret",
        region_name="us-east-1",
    )
    return AwsClients(AwsSettings(endpoint_url=moto_url, max_attempts=1), session=session)
