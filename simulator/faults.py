"""The failures of Aurora's log API that a test can switch on, shared by both sides.

Each fault is a small frozen model with a scope and a trigger:

- scope: ``instance`` (a DBInstanceIdentifier; None = every instance), ``file`` (a substring
  of the LogFileName; None = every file) and ``action`` (an RDS action such as
  ``DownloadDBLogFilePortion``; None = every action);
- trigger: ``probability`` (per matching request or write) and ``count`` (fire at most this
  often; None = without limit). A fault that has fired ``count`` times stays listed, inert.
  :class:`Budget`, :class:`Stale` and :class:`DeleteBeforeRead` act whenever in scope
  (``probability`` does not apply); a Stale fault's ``count`` counts the file answers it froze,
  and a writer fault's ``count`` is checked between two writer steps.

API faults act in the moto process on the requests they match:

=====================  ==================================================================
:class:`Throttle`       ``Throttling: Rate exceeded`` (HTTP 400) at random
:class:`Budget`         a token bucket (burst 300, 12/s) shared by every caller; requests
                        beyond it are throttled
:class:`Truncate`       a capped page is cut at 1 MB with `` [Your log message was
                        truncated]`` and ``AdditionalDataPending=false``
:class:`Overlap`        a page starts ``lines`` lines before its marker (repeats)
:class:`Gap`            a page starts ``lines`` lines after its marker (loses lines)
:class:`BinaryData`     ``InvalidParameterValue: This file contains binary data ...``
:class:`Stale`          sizes, LastWritten and data stay as they were when the fault first
                        met the file, for ``duration_s`` (wall) or until removed
:class:`Latency`        the answer leaves ``seconds`` late (a region's round trip and
                        the time RDS takes to read a portion, which a local moto lacks)
:class:`RotateMidRead`  a page served with more data pending asks the writer to rotate
                        that file before its next write (scope it to logs that rotate to
                        a new name: an hourly-named MySQL log rotated inside the hour
                        gets that hour's name again at its next rotation, which RDS
                        never does)
=====================  ==================================================================

Writer faults are fetched by the writer (:class:`simulator.fleet.Fleet`, in whatever process it
runs) before each step and act on the files it writes:

=======================  ================================================================
:class:`HugeLine`         the next entry of a matching log has a line of ``line_bytes``
                          (default 1.5 MB): the portion API can never return it whole
:class:`DeleteBeforeRead` a matching file is deleted the moment it is rotated out, before
                          any reader could fetch it (what retention and the 15% storage
                          rule do to slow readers)
:class:`GarbageBytes`     the next entry of a matching log carries ``byte_count`` bytes
                          that are not UTF-8 (``0x80``-``0xff``, never a newline) before
                          its final newline: a corrupt block, a client's binary payload
=======================  ================================================================

Faults travel as JSON with a ``type`` discriminator (``{"type": "gap", "lines": 5,
"instance": "db-1"}``) through the admin API (``POST /_simulator/faults``).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

__all__ = [
    "BinaryData",
    "Budget",
    "DeleteBeforeRead",
    "Fault",
    "FaultRegistry",
    "FaultState",
    "Gap",
    "GarbageBytes",
    "HugeLine",
    "Latency",
    "Overlap",
    "RotateMidRead",
    "Stale",
    "Throttle",
    "Truncate",
    "fault_from_json",
]


class _Fault(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    #: "api": acts in the moto process; "writer": acts where the files are written.
    side: ClassVar[Literal["api", "writer"]] = "api"

    instance: str | None = None
    file: str | None = None
    action: str | None = None
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    count: int | None = Field(default=None, ge=1)

    def matches(self, instance: str | None, file: str | None, action: str | None) -> bool:
        """Whether a request (or a write) with these attributes is in scope."""
        if self.instance is not None and instance != self.instance:
            return False
        if self.file is not None and (file is None or self.file not in file):
            return False
        return self.action is None or action == self.action


class Throttle(_Fault):
    type: Literal["throttle"] = "throttle"


class Budget(_Fault):
    type: Literal["budget"] = "budget"
    burst: int = Field(default=300, ge=1)
    rate_per_s: float = Field(default=12.0, gt=0)


class Truncate(_Fault):
    type: Literal["truncate"] = "truncate"


class Overlap(_Fault):
    type: Literal["overlap"] = "overlap"
    lines: int = Field(default=3, ge=1)


class Gap(_Fault):
    type: Literal["gap"] = "gap"
    lines: int = Field(default=3, ge=1)


class BinaryData(_Fault):
    type: Literal["binary_data"] = "binary_data"


class Stale(_Fault):
    type: Literal["stale"] = "stale"
    duration_s: float | None = Field(default=None, gt=0)


class Latency(_Fault):
    type: Literal["latency"] = "latency"
    seconds: float = Field(default=0.2, gt=0, le=30)


class RotateMidRead(_Fault):
    type: Literal["rotate_mid_read"] = "rotate_mid_read"


class HugeLine(_Fault):
    side: ClassVar[Literal["api", "writer"]] = "writer"
    type: Literal["huge_line"] = "huge_line"
    line_bytes: int = Field(default=1_500_000, ge=1)
    count: int | None = Field(default=1, ge=1)


class GarbageBytes(_Fault):
    side: ClassVar[Literal["api", "writer"]] = "writer"
    type: Literal["garbage_bytes"] = "garbage_bytes"
    byte_count: int = Field(default=64, ge=1)
    count: int | None = Field(default=1, ge=1)


class DeleteBeforeRead(_Fault):
    side: ClassVar[Literal["api", "writer"]] = "writer"
    type: Literal["delete_before_read"] = "delete_before_read"


Fault = Annotated[
    Throttle
    | Budget
    | Truncate
    | Overlap
    | Gap
    | BinaryData
    | Stale
    | Latency
    | RotateMidRead
    | HugeLine
    | GarbageBytes
    | DeleteBeforeRead,
    Field(discriminator="type"),
]
_FAULT: TypeAdapter[Fault] = TypeAdapter(Fault)


def fault_from_json(data: Any) -> Fault:
    """A fault from its JSON form; raises ``pydantic.ValidationError`` on a bad one."""
    return _FAULT.validate_python(data)


@dataclass
class FaultState:
    """A fault as installed in the moto process: its id, how often it fired, its state."""

    id: str
    fault: Fault
    added_monotonic: float = field(default_factory=time.monotonic)
    fired: int = 0
    # Budget: tokens and when they were last refilled.
    tokens: float = 0.0
    refilled_monotonic: float = 0.0
    # Stale: (instance, file) -> (size, mtime_ns) when the fault first met the file.
    snapshots: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)

    @property
    def exhausted(self) -> bool:
        count = self.fault.count
        if count is not None and self.fired >= count:
            return True
        if isinstance(self.fault, Stale) and self.fault.duration_s is not None:
            return time.monotonic() - self.added_monotonic >= self.fault.duration_s
        return False

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "fault": self.fault.model_dump(mode="json"),
            "fired": self.fired,
            "exhausted": self.exhausted,
        }


class FaultRegistry:
    """Installed faults. Thread-safe: the moto server answers on many threads."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, FaultState] = {}
        self._next = 0
        self._rng = rng or random.Random()

    def add(self, fault: Fault) -> FaultState:
        with self._lock:
            self._next += 1
            state = FaultState(f"f{self._next}", fault)
            if isinstance(fault, Budget):
                state.tokens = float(fault.burst)
                state.refilled_monotonic = time.monotonic()
            self._faults[state.id] = state
            return state

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            return self._faults.pop(fault_id, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def get(self, fault_id: str) -> FaultState | None:
        with self._lock:
            return self._faults.get(fault_id)

    def states(self) -> list[FaultState]:
        with self._lock:
            return list(self._faults.values())

    def _candidates(self, fault_type: type[_Fault]) -> Iterator[FaultState]:
        for state in list(self._faults.values()):
            if isinstance(state.fault, fault_type) and not state.exhausted:
                yield state

    def fire(
        self,
        fault_type: type[_Fault],
        *,
        instance: str | None,
        file: str | None,
        action: str | None,
    ) -> FaultState | None:
        """The first live fault of ``fault_type`` in scope that triggers now (counted)."""
        with self._lock:
            for state in self._candidates(fault_type):
                if not state.fault.matches(instance, file, action):
                    continue
                if state.fault.probability < 1.0 and self._rng.random() >= state.fault.probability:
                    continue
                state.fired += 1
                return state
        return None

    def over_budget(
        self, *, instance: str | None, file: str | None, action: str | None
    ) -> FaultState | None:
        """Take a token from every budget in scope; the first one that had none, if any."""
        now = time.monotonic()
        refused = None
        with self._lock:
            for state in self._candidates(Budget):
                fault = state.fault
                assert isinstance(fault, Budget)
                if not fault.matches(instance, file, action):
                    continue
                elapsed = now - state.refilled_monotonic
                state.tokens = min(float(fault.burst), state.tokens + elapsed * fault.rate_per_s)
                state.refilled_monotonic = now
                if state.tokens >= 1.0:
                    state.tokens -= 1.0
                elif refused is None:
                    state.fired += 1
                    refused = state
        return refused

    def stale_snapshot(
        self, instance: str, file: str, current: tuple[int, int]
    ) -> tuple[int, int] | None:
        """Under a live :class:`Stale` fault: the file's (size, mtime_ns) as first seen."""
        with self._lock:
            for state in self._candidates(Stale):
                if state.fault.matches(instance, file, None):
                    snapshot = state.snapshots.setdefault((instance, file), current)
                    state.fired += 1
                    return snapshot
        return None

    def writer_faults(self) -> list[FaultState]:
        """Live faults that act on the writer side."""
        with self._lock:
            return [
                state
                for state in self._faults.values()
                if state.fault.side == "writer" and not state.exhausted
            ]

    def record_fired(self, fault_id: str, times: int) -> None:
        """The writer reports that a writer fault fired ``times`` times."""
        with self._lock:
            state = self._faults.get(fault_id)
            if state is not None:
                state.fired += times
