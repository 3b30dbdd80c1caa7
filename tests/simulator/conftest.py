"""Fixtures for the simulator's tests (``fleet``, ``ident`` and ``simulator_control`` live in
the root conftest, shared with the services' tests).

Clients for the code under test sign with their own access key ids, never the simulator's, so
the server treats them as a pipeline replica would be treated.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient


def make_rds(moto_url: str, access_key_id: str = "AKIAREADER0000000001") -> RDSClient:
    """A boto3 RDS client as a pipeline replica has one: its own key, no automatic retries."""
    client: RDSClient = boto3.client(
        "rds",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id=access_key_id,
        aws_secret_access_key="test-secret",
        config=Config(retries={"total_max_attempts": 1}),
    )
    return client


@pytest.fixture
def rds(moto_url: str) -> Iterator[RDSClient]:
    client = make_rds(moto_url)
    yield client
    client.close()
