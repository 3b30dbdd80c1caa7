"""What travels from the parser to the sink: documents, and the tickets that wait for them.

A :class:`Ticket` stands for one unit of work (the records cut from one read of one file);
every document carries the ticket it belongs to. The ticket resolves once each of its
documents is either delivered or dead-lettered, and only then may the work's checkpoint and
Kafka offset move: nothing is acknowledged before the sink confirmed it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

__all__ = ["Document", "Rejection", "Ticket"]


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why the sink refused one document for good (it goes to the dead-letter topic)."""

    reason: str  # low-cardinality token, usable as a metric label
    detail: str  # the sink's own words, for the dead-letter message


class Ticket:
    """Counts a unit of work's documents until each is delivered or rejected.

    Call :meth:`add` for every document before it is submitted and :meth:`seal` once no more
    will be added; :meth:`wait` returns when the sealed ticket's documents are all settled.
    Not thread-safe; used from one event loop.
    """

    __slots__ = ("_done", "_error", "_outstanding", "_sealed", "delivered", "label", "rejected")

    def __init__(self, label: str = "") -> None:
        self.label = label
        self.delivered = 0
        self.rejected = 0
        self._outstanding = 0
        self._sealed = False
        self._done = asyncio.Event()
        self._error: BaseException | None = None

    def add(self, count: int = 1) -> None:
        if self._sealed:
            raise RuntimeError("documents added to a sealed ticket")
        self._outstanding += count

    def settle(self, *, delivered: int = 0, rejected: int = 0) -> None:
        self.delivered += delivered
        self.rejected += rejected
        self._outstanding -= delivered + rejected
        if self._outstanding < 0:
            raise RuntimeError(f"ticket {self.label} settled more documents than it holds")
        self._check()

    def seal(self) -> None:
        self._sealed = True
        self._check()

    def _check(self) -> None:
        if self._sealed and self._outstanding == 0:
            self._done.set()

    def fail(self, error: BaseException) -> None:
        """Shipping failed for a reason no retry can cure (a bug): :meth:`wait` raises it, so
        the work ends visibly instead of waiting for documents that will never settle."""
        if self._error is None:
            self._error = error
        self._done.set()

    @property
    def settled(self) -> bool:
        return self._done.is_set() and self._error is None

    async def wait(self) -> None:
        """Return when every document is settled; raise the failure given to :meth:`fail`."""
        await self._done.wait()
        if self._error is not None:
            raise self._error


@dataclass(slots=True)
class Document:
    """One record, serialised, on its way to ``stream``."""

    stream: str
    record_id: str
    body: bytes
    ticket: Ticket
    size: int = field(init=False)

    def __post_init__(self) -> None:
        self.size = len(self.body)
