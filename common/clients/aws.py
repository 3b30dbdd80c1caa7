"""AWS clients (aioboto3) configured from :class:`~common.settings.AwsSettings`.

One :class:`aioboto3.Session` per process; clients are async context managers opened for the
life of a component. RDS clients make exactly one attempt per call: every RDS call must take a
token from the shared budget and every throttle must reach its adaptive rate
(:mod:`common.ratelimit`), and a retry inside botocore would do neither. DynamoDB and S3 keep
botocore's standard retries (``max_attempts``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aioboto3
from aiobotocore.config import AioConfig

from common.settings import AwsSettings

if TYPE_CHECKING:
    from aiobotocore.session import ClientCreatorContext
    from types_aiobotocore_dynamodb.client import DynamoDBClient
    from types_aiobotocore_rds.client import RDSClient
    from types_aiobotocore_s3.client import S3Client

__all__ = ["AwsClients"]


class AwsClients:
    """Creates RDS, DynamoDB and S3 clients that share one session and one configuration."""

    def __init__(self, settings: AwsSettings, session: aioboto3.Session | None = None) -> None:
        self.settings = settings
        self.session = session or aioboto3.Session(region_name=settings.region)
        self.config = AioConfig(
            connect_timeout=settings.connect_timeout_s,
            read_timeout=settings.read_timeout_s,
            retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
            max_pool_connections=settings.max_pool_connections,
        )
        self.rds_config = self.config.merge(
            AioConfig(retries={"mode": "standard", "total_max_attempts": 1})
        )

    def rds(self) -> ClientCreatorContext[RDSClient]:
        """An RDS client context manager: ``async with clients.rds() as rds``."""
        client: ClientCreatorContext[RDSClient] = self.session.client(
            "rds",
            region_name=self.settings.region,
            endpoint_url=self.settings.endpoint_for("rds"),
            config=self.rds_config,
        )
        return client

    def dynamodb(self) -> ClientCreatorContext[DynamoDBClient]:
        client: ClientCreatorContext[DynamoDBClient] = self.session.client(
            "dynamodb",
            region_name=self.settings.region,
            endpoint_url=self.settings.endpoint_for("dynamodb"),
            config=self.config,
        )
        return client

    def s3(self) -> ClientCreatorContext[S3Client]:
        client: ClientCreatorContext[S3Client] = self.session.client(
            "s3",
            region_name=self.settings.region,
            endpoint_url=self.settings.endpoint_for("s3"),
            config=self.config,
        )
        return client
