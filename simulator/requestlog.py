"""The request log: every RDS call the moto server answered, with who made it and how it ended.

Tests give each discovery or processor replica its own AWS access key id; the log attributes
every call to the key id in its SigV4 ``Authorization`` header, so a test can check that each
instance was polled by one replica at a time, or that the calls made never exceeded a budget
(:func:`conforms_to_budget`). The simulator's own calls (creating clusters, failing over) use
:data:`SIMULATOR_ACCESS_KEY_ID` and are neither logged, throttled nor faulted.

Outcomes: ``ok``; ``throttled`` (Throttle or Budget); ``fault`` (an injected fault changed the
answer: truncated, overlapping, gapped, binary-data error, stale); ``error`` (a real error such
as ``DBInstanceNotFound``).
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = [
    "SIMULATOR_ACCESS_KEY_ID",
    "Outcome",
    "RequestLog",
    "RequestRecord",
    "access_key_id_of",
    "conforms_to_budget",
]

SIMULATOR_ACCESS_KEY_ID = "AKIASIMULATORFLEET01"
Outcome = Literal["ok", "throttled", "fault", "error"]
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


def access_key_id_of(authorization: str | None, query_credential: str | None = None) -> str | None:
    """The access key id of a SigV4 ``Authorization`` header (or presigned ``X-Amz-Credential``)."""
    if authorization:
        match = _CREDENTIAL.search(authorization)
        if match:
            return match.group(1)
    if query_credential:
        return query_credential.split("/", 1)[0]
    return None


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One answered RDS call."""

    seq: int
    wall_time: float  # POSIX seconds when the call arrived
    action: str
    access_key_id: str | None
    instance: str | None
    file: str | None
    marker: str | None
    number_of_lines: int | None
    outcome: Outcome
    status: int
    error_code: str | None = None
    fault: str | None = None  # the type of the fault that changed the answer
    bytes: int = 0  # LogFileData (or body) bytes returned
    next_marker: str | None = None
    pending: bool | None = None
    duration_ms: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestRecord:
        return cls(**data)


class RequestLog:
    """A bounded, thread-safe log of calls (the oldest are dropped past ``max_records``)."""

    def __init__(self, max_records: int = 1_000_000) -> None:
        self._lock = threading.Lock()
        self._records: deque[RequestRecord] = deque(maxlen=max_records)
        self._seq = 0
        self.dropped = 0

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    @property
    def last_seq(self) -> int:
        """The seq given to the newest call so far (0 before any)."""
        with self._lock:
            return self._seq

    def add(self, record: RequestRecord) -> None:
        with self._lock:
            if len(self._records) == self._records.maxlen:
                self.dropped += 1
            self._records.append(record)

    def since(self, seq: int = 0, *, limit: int | None = None) -> list[RequestRecord]:
        """Records with ``seq`` greater than ``seq``, oldest first."""
        with self._lock:
            out = [record for record in self._records if record.seq > seq]
        out.sort(key=lambda record: record.seq)
        return out if limit is None else out[:limit]

    def clear(self) -> None:
        with self._lock:
            self._records.clear()
            self.dropped = 0


def conforms_to_budget(
    records: Iterable[RequestRecord], *, burst: int, rate_per_s: float
) -> tuple[bool, RequestRecord | None]:
    """Whether the calls that reached the API (not throttled) fit a token bucket.

    Replays the bucket (full at the first call) over the records' wall times; returns
    ``(True, None)`` or ``(False, first call that had no token)``.
    """
    tokens = float(burst)
    last: float | None = None
    for record in sorted(records, key=lambda r: r.wall_time):
        if record.outcome == "throttled":
            continue
        if last is not None:
            tokens = min(float(burst), tokens + (record.wall_time - last) * rate_per_s)
        last = record.wall_time
        if tokens < 1.0:
            return False, record
        tokens -= 1.0
    return True, None
