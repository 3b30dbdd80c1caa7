"""moto in server mode through the project's aioboto3 clients: DynamoDB and S3."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from common.clients.aws import AwsClients
from common.errors import ConflictError, from_aws_error
from common.settings import AwsSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def clients(aws_environ: dict[str, str], moto_url: str) -> AwsClients:
    return AwsClients(AwsSettings(endpoint_url=moto_url))


async def test_dynamodb_conditional_write_fails_on_a_stale_version(
    clients: AwsClients, unique_name: Callable[[str], str]
) -> None:
    table = unique_name("tracking")
    async with clients.dynamodb() as dynamodb:
        await dynamodb.create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        key = {"pk": {"S": "instance-1/error/mysql-error.log"}}
        await dynamodb.put_item(
            TableName=table,
            Item={**key, "version": {"N": "1"}, "offset": {"N": "0"}},
            ConditionExpression="attribute_not_exists(pk)",
        )

        async def write(expected: int, offset: int) -> None:
            await dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="SET #o = :o, version = :next",
                ConditionExpression="version = :expected",
                ExpressionAttributeNames={"#o": "offset"},
                ExpressionAttributeValues={
                    ":o": {"N": str(offset)},
                    ":next": {"N": str(expected + 1)},
                    ":expected": {"N": str(expected)},
                },
            )

        await write(expected=1, offset=100)  # the writer that read version 1 wins
        with pytest.raises(ClientError) as lost:
            await write(expected=1, offset=50)  # a second writer with the same stale read
        assert isinstance(from_aws_error(lost.value), ConflictError)

        item = (await dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True))["Item"]
        assert item["offset"] == {"N": "100"}
        assert item["version"] == {"N": "2"}


async def test_s3_ranged_get_returns_exactly_the_range(
    clients: AwsClients, unique_name: Callable[[str], str]
) -> None:
    bucket = unique_name("bucket")
    body = b"".join(f"line {index:05d}\n".encode() for index in range(1000))
    async with clients.s3() as s3:
        await s3.create_bucket(Bucket=bucket)
        await s3.put_object(Bucket=bucket, Key="staged/db-1/error.log", Body=body)
        answer = await s3.get_object(
            Bucket=bucket, Key="staged/db-1/error.log", Range="bytes=1100-1210"
        )
        data = await answer["Body"].read()
        assert answer["ContentRange"] == f"bytes 1100-1210/{len(body)}"
        assert data == body[1100:1211]
        # An open-ended range reads from an offset to the end: how a reader resumes.
        tail = await s3.get_object(Bucket=bucket, Key="staged/db-1/error.log", Range="bytes=10990-")
        assert await tail["Body"].read() == body[10990:]


async def test_rds_calls_are_never_retried_inside_botocore(clients: AwsClients) -> None:
    # A retry inside botocore would spend AWS's budget without taking a token from ours and
    # hide the throttle from the shared adaptive rate.
    async with clients.rds() as rds:
        assert rds.meta.config.retries["total_max_attempts"] == 1
    async with clients.dynamodb() as dynamodb:
        assert dynamodb.meta.config.retries["total_max_attempts"] == 3
