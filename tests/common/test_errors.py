"""The error tree and the classification of foreign exceptions."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from common.errors import (
    AccessDeniedError,
    ConflictError,
    MalformedEventError,
    NotFoundError,
    PermanentError,
    RejectedError,
    RetriableError,
    ThrottledError,
    UnavailableError,
    from_aws_error,
    is_retriable,
)


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "Op",
    )


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("Throttling", 400, ThrottledError),
        ("ThrottlingException", 400, ThrottledError),
        ("ProvisionedThroughputExceededException", 400, ThrottledError),
        ("ConditionalCheckFailedException", 400, ConflictError),
        ("ServiceUnavailable", 503, UnavailableError),
        ("AccessDenied", 403, AccessDeniedError),
        ("DBInstanceNotFound", 404, NotFoundError),
        ("SomethingNew", 500, UnavailableError),
        ("InvalidParameterValue", 400, PermanentError),
    ],
)
def test_aws_errors_translate_by_code(code: str, status: int, kind: type[Exception]) -> None:
    translated = from_aws_error(_client_error(code, status))
    assert type(translated) is kind
    assert code in str(translated)
    assert is_retriable(_client_error(code, status)) is issubclass(kind, RetriableError)


def test_unknown_aws_code_is_permanent_with_a_stable_reason() -> None:
    translated = from_aws_error(_client_error("InvalidParameterValue"))
    assert translated.reason == "aws_error"


@pytest.mark.parametrize(
    ("exc", "retriable"),
    [
        (EndpointConnectionError(endpoint_url="http://x"), True),
        (httpx.ConnectError("refused"), True),
        (httpx.ReadTimeout("slow"), True),
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (ThrottledError("budget", retry_after_s=1.5), True),
        (ConflictError("lost race"), True),
        (MalformedEventError("bad json"), False),
        (ValueError("a bug"), False),
        (KeyError("a bug"), False),
    ],
)
def test_foreign_exceptions_are_classified(exc: BaseException, retriable: bool) -> None:
    assert is_retriable(exc) is retriable


def test_kafka_errors_use_their_retriable_flag() -> None:
    from aiokafka.errors import KafkaConnectionError, RecordTooLargeError

    assert is_retriable(KafkaConnectionError()) is True
    assert is_retriable(RecordTooLargeError()) is False


def test_cancellation_is_never_classified() -> None:
    with pytest.raises(TypeError):
        is_retriable(asyncio.CancelledError())


def test_reasons_are_stable_tokens() -> None:
    assert MalformedEventError("x").reason == "malformed_event"
    assert RejectedError("x", reason="too_old").reason == "too_old"
    assert ThrottledError("x").retry_after_s is None
    assert isinstance(MalformedEventError("x"), PermanentError)
