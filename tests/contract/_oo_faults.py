"""Faults and runtime limits a test can switch on a running contract server.

Every fault is deterministic: a burst answers exactly the next ``count`` ingestion requests, a
record rule picks records by position or by a field's value, latency applies to a counted
number of requests. The same settings are reachable in-process (methods of
``OpenObserveContractServer``) and over HTTP (``POST /_contract/faults`` with the JSON that
:func:`parse_fault_update` reads), so subprocess tests get the same control.

Not thread-safe: the server holds its lock around every use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Final

from tests.contract._oo_normalise import format_key
from tests.contract._oo_store import PendingRecord, RecordOutcome

__all__ = [
    "DEFAULT_STATUS_MESSAGES",
    "FaultError",
    "Faults",
    "Latency",
    "RecordFailure",
    "StatusBurst",
    "parse_fault_update",
]

DEFAULT_STATUS_MESSAGES: Final[Mapping[int, str]] = {
    400: "Error# Bad Request",
    401: "Unauthorized Access",
    403: "Unauthorized Access",
    404: "Organization not found",
    413: "A payload reached size limit.",
    415: "Unsupported Content-Encoding",
    500: "Error# Internal Server Error",
    503: "Error# MemoryTableOverflowError",
}
"""Bodies OpenObserve sends for whole-request failures (401 and 404 are plain text)."""


class FaultError(ValueError):
    """A fault setting that makes no sense, e.g. a 429 burst (OpenObserve never sends one)."""


@dataclass(slots=True)
class StatusBurst:
    """The next ``remaining`` ingestion requests are answered ``status`` with ``message``."""

    remaining: int
    status: int
    message: str


@dataclass(slots=True)
class Latency:
    """Delay ``seconds`` before answering each ``/api`` request; only the next ``first_n``
    requests when that is set."""

    seconds: float
    first_n: int | None = None


@dataclass(frozen=True, slots=True)
class RecordFailure:
    """Fail records at the write stage: every ``every_kth`` document of a request (1-based
    position, so k, 2k, ...) and/or every record whose flattened ``field`` equals ``value``.

    ``_json``/``_multi`` count them as failed with ``error``; ``_bulk`` answers their items
    with ``bulk_status`` and ``{"type": error_type, "reason": error}``.
    """

    every_kth: int | None = None
    field: str | None = None
    value: Any = None
    error: str = "Failed to cast field to type Int64 "
    error_type: str = "schema_conformance_failed"
    bulk_status: int = 422

    def check(self, record: PendingRecord) -> RecordOutcome | None:
        """The failure outcome for ``record``, or ``None`` when the rule spares it."""
        hit = False
        if self.every_kth is not None and record.position % self.every_kth == 0:
            hit = True
        if self.field is not None and record.values.get(self.field) == self.value:
            hit = True
        if not hit:
            return None
        return RecordOutcome(
            record, error=self.error, error_type=self.error_type, item_status=self.bulk_status
        )


@dataclass(slots=True)
class Faults:
    """The fault switches and the runtime limits they share a lock with."""

    burst: StatusBurst | None = None
    latency: Latency | None = None
    record_failure: RecordFailure | None = None
    silent_drop: bool = False

    def take_burst(self) -> StatusBurst | None:
        """Consume one request of the burst; the burst (status and message) if it applies."""
        burst = self.burst
        if burst is None:
            return None
        burst.remaining -= 1
        if burst.remaining <= 0:
            self.burst = None
        return burst

    def take_latency(self) -> float:
        """Seconds to delay this request (consumes one of ``first_n``)."""
        latency = self.latency
        if latency is None:
            return 0.0
        if latency.first_n is not None:
            latency.first_n -= 1
            if latency.first_n <= 0:
                self.latency = None
        return latency.seconds

    def describe(self) -> dict[str, Any]:
        """The current switches as JSON for ``GET /_contract/faults``."""
        return {
            "fail_next": None if self.burst is None else asdict(self.burst),
            "latency": None if self.latency is None else asdict(self.latency),
            "record_failure": None if self.record_failure is None else asdict(self.record_failure),
            "silent_drop": self.silent_drop,
        }


def make_burst(count: int, status: int, message: str | None = None) -> StatusBurst:
    """Validate and build a :class:`StatusBurst`."""
    if count < 1:
        raise FaultError("fail_next count must be at least 1")
    if status == 429:
        raise FaultError("OpenObserve open-source builds never answer ingestion with 429")
    if not 400 <= status <= 599:
        raise FaultError("fail_next status must be a 4xx or 5xx code")
    default = DEFAULT_STATUS_MESSAGES.get(status, f"Error# status {status}")
    return StatusBurst(remaining=count, status=status, message=message or default)


def make_record_failure(
    *,
    every_kth: int | None = None,
    field: str | None = None,
    value: Any = None,
    error: str | None = None,
    error_type: str | None = None,
    bulk_status: int = 422,
) -> RecordFailure:
    """Validate and build a :class:`RecordFailure`; ``field`` is matched after key
    formatting, so ``"Level"`` matches the stored column ``level``."""
    if every_kth is None and field is None:
        raise FaultError("record_failure needs every_kth or field")
    if every_kth is not None and every_kth < 1:
        raise FaultError("every_kth must be at least 1")
    if not 400 <= bulk_status <= 499:
        raise FaultError("bulk_status must be a 4xx code")
    kwargs: dict[str, Any] = {
        "every_kth": every_kth,
        "field": None if field is None else format_key(field),
        "value": value,
        "bulk_status": bulk_status,
    }
    if error is not None:
        kwargs["error"] = error
    if error_type is not None:
        kwargs["error_type"] = error_type
    return RecordFailure(**kwargs)


_KNOWN_KEYS: Final = frozenset(
    {
        "fail_next",
        "latency",
        "record_failure",
        "silent_drop",
        "payload_limit_bytes",
        "ingest_allowed_upto_hours",
        "ingest_allowed_in_future_hours",
        "ingestion_passcode",
        "zstd_unsupported",
        "column_limit",
    }
)


def parse_fault_update(body: Any) -> dict[str, Any]:
    """Check the JSON of ``POST /_contract/faults`` and return it keyed as above.

    Shape (every key optional; ``null`` switches a fault off)::

        {"fail_next": {"count": 3, "status": 503, "message": "..."},
         "latency": {"seconds": 0.05, "first_n": 2},
         "record_failure": {"every_kth": 3, "field": "level", "value": "x", "error": "...",
                            "error_type": "...", "bulk_status": 422},
         "silent_drop": true,
         "payload_limit_bytes": 1048576,
         "ingest_allowed_upto_hours": 720, "ingest_allowed_in_future_hours": 24,
         "ingestion_passcode": "secret", "zstd_unsupported": true, "column_limit": 1000}

    Raises :class:`FaultError` for an unknown key or a malformed value.
    """
    if not isinstance(body, dict):
        raise FaultError("faults must be a JSON object")
    unknown = set(body) - _KNOWN_KEYS
    if unknown:
        raise FaultError(f"unknown fault keys: {sorted(unknown)}")
    return body
