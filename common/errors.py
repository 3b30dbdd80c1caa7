"""Every error aurora-logs raises on purpose, in two families.

    AuroraLogsError
    ├── RetriableError          the same work may succeed later: back off and retry, keep the input
    │   ├── ThrottledError      a rate limit said no (RDS ThrottlingException, the shared budget)
    │   ├── UnavailableError    a dependency is down or slow (refused, timed out, 5xx, 503)
    │   └── ConflictError       a conditional write lost a race: re-read, then retry
    └── PermanentError          retrying the same input can never help
        ├── ConfigurationError  bad settings: the service refuses to start
        ├── AccessDeniedError   401/403 and IAM denials: stop and alarm, a human must act
        ├── NotFoundError       the thing addressed does not exist (file gone, unknown org)
        └── RejectedError       this input is bad: dead-letter it with the reason, then move on
            └── MalformedEventError  a Kafka event that is not valid JSON or not a known schema

Rules that hold everywhere:

- ``asyncio.CancelledError`` is never caught by a handler for these classes (it derives from
  ``BaseException``) and code that catches ``BaseException`` re-raises it.
- Foreign exceptions (botocore, httpx, aiokafka, redis, OSError) are classified at the boundary
  by :func:`is_retriable` or translated by :func:`from_aws_error`; nothing deeper in the code
  inspects foreign exception types.
- ``reason`` is a short, stable, low-cardinality token (``throttled``, ``http_503``) that may be
  used as a metric label; the message may carry detail and is never a label.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = [
    "AccessDeniedError",
    "AuroraLogsError",
    "ConfigurationError",
    "ConflictError",
    "MalformedEventError",
    "NotFoundError",
    "PermanentError",
    "RejectedError",
    "RetriableError",
    "ThrottledError",
    "UnavailableError",
    "from_aws_error",
    "is_retriable",
]


class AuroraLogsError(Exception):
    """Base of every error raised on purpose by aurora-logs."""

    default_reason = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or self.default_reason


class RetriableError(AuroraLogsError):
    """Transient: the same input may succeed after a back-off."""

    default_reason = "retriable"


class ThrottledError(RetriableError):
    """A rate limit refused the call (AWS throttling or our own shared budget)."""

    default_reason = "throttled"

    def __init__(
        self, message: str, *, reason: str | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, reason=reason)
        self.retry_after_s = retry_after_s


class UnavailableError(RetriableError):
    """A dependency did not answer usefully: connection refused, timeout, 5xx."""

    default_reason = "unavailable"


class ConflictError(RetriableError):
    """A conditional write found a different version than expected; re-read and retry."""

    default_reason = "conflict"


class PermanentError(AuroraLogsError):
    """Retrying the same input can never succeed."""

    default_reason = "permanent"


class ConfigurationError(PermanentError):
    """The settings are invalid; the message names the variable to fix."""

    default_reason = "configuration"


class AccessDeniedError(PermanentError):
    """Credentials were refused (401/403, IAM AccessDenied): stop and alarm."""

    default_reason = "access_denied"


class NotFoundError(PermanentError):
    """The addressed resource does not exist."""

    default_reason = "not_found"


class RejectedError(PermanentError):
    """The input itself is bad; it goes to the dead-letter topic with this reason."""

    default_reason = "rejected"


class MalformedEventError(RejectedError):
    """A Kafka event that cannot be decoded as any known event schema."""

    default_reason = "malformed_event"


# AWS error codes, grouped by what the caller should do about them.
_AWS_THROTTLED = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestThrottled",
        "SlowDown",
    }
)
_AWS_UNAVAILABLE = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "ItemCollectionSizeLimitExceededException",
    }
)
_AWS_CONFLICT = frozenset({"ConditionalCheckFailedException", "TransactionConflictException"})
_AWS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
_AWS_NOT_FOUND = frozenset(
    {
        "DBInstanceNotFound",
        "DBInstanceNotFoundFault",
        "DBClusterNotFoundFault",
        "DBLogFileNotFoundFault",
        "ResourceNotFoundException",
        "NoSuchKey",
        "NoSuchBucket",
        "404",
    }
)


def aws_error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError``, or None for anything else."""
    response: Any = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    error = response.get("Error")
    if not isinstance(error, dict):
        return None
    code = error.get("Code")
    return str(code) if code is not None else None


def from_aws_error(exc: BaseException) -> AuroraLogsError:
    """Translate a botocore ``ClientError`` into this module's tree.

    Never raises; an unknown code becomes a :class:`PermanentError` (reason ``aws_error``) so a
    new failure mode is dead-lettered and visible rather than retried forever. HTTP 5xx answers
    without a known code are retriable.
    """
    code = aws_error_code(exc) or ""
    message = f"{code}: {exc}" if code else str(exc)
    if code in _AWS_THROTTLED:
        return ThrottledError(message)
    if code in _AWS_UNAVAILABLE:
        return UnavailableError(message)
    if code in _AWS_CONFLICT:
        return ConflictError(message)
    if code in _AWS_DENIED:
        return AccessDeniedError(message)
    if code in _AWS_NOT_FOUND:
        return NotFoundError(message)
    status = _aws_http_status(exc)
    if status is not None and status >= 500:
        return UnavailableError(message, reason=f"http_{status}")
    return PermanentError(message, reason="aws_error")


def _aws_http_status(exc: BaseException) -> int | None:
    response: Any = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    meta = response.get("ResponseMetadata")
    if not isinstance(meta, dict):
        return None
    status = meta.get("HTTPStatusCode")
    return status if isinstance(status, int) else None


def is_retriable(exc: BaseException) -> bool:
    """Whether retrying the operation that raised ``exc`` may succeed.

    ``CancelledError`` is not an answer this function gives: callers re-raise it before asking.
    Unknown exceptions are not retriable (a bug retried forever hides itself).
    """
    if isinstance(exc, asyncio.CancelledError):
        raise TypeError("CancelledError must be re-raised, never classified")
    if isinstance(exc, AuroraLogsError):
        return isinstance(exc, RetriableError)
    if aws_error_code(exc) is not None:
        return isinstance(from_aws_error(exc), RetriableError)
    # Checked by module name so this module imports none of the client libraries.
    module = type(exc).__module__.split(".", 1)[0]
    if module in {"botocore", "aiobotocore"}:
        # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError...
        return "Connect" in type(exc).__name__ or "Timeout" in type(exc).__name__
    if module == "httpx":
        import httpx

        return isinstance(exc, httpx.TransportError)
    if module == "aiokafka" or module == "kafka":
        return bool(getattr(exc, "retriable", False)) or type(exc).__name__ in {
            "KafkaConnectionError",
            "KafkaTimeoutError",
            "NodeNotReadyError",
            "RequestTimedOutError",
            "NotLeaderForPartitionError",
            "LeaderNotAvailableError",
        }
    if module == "redis":
        return type(exc).__name__ in {"ConnectionError", "TimeoutError", "BusyLoadingError"}
    return isinstance(exc, ConnectionError | TimeoutError)
