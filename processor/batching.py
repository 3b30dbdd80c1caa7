"""The batcher: cuts documents into per-stream batches and hands them to the shipper.

A batch is cut when it reaches ``max_records`` or ``max_bytes``, or when its first document
has waited ``max_age_s``. At most ``max_concurrent`` batches are being shipped at once; past
that, :meth:`Batcher.submit` waits, which is how a slow sink slows the downloads behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from processor.delivery import Document
from processor.shipping import Shipper

__all__ = ["Batcher"]


@dataclass
class _OpenBatch:
    opened_at: float
    documents: list[Document] = field(default_factory=list)
    size: int = 0


class Batcher:
    def __init__(
        self,
        shipper: Shipper,
        *,
        max_records: int,
        max_bytes: int,
        max_age_s: float,
        max_concurrent: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._shipper = shipper
        self._max_records = max_records
        self._max_bytes = max_bytes
        self._max_age_s = max_age_s
        self._slots = asyncio.Semaphore(max_concurrent)
        self._clock = clock
        self._open: dict[str, _OpenBatch] = {}
        self._shipping: set[asyncio.Task[None]] = set()
        self._failures: list[BaseException] = []

    async def submit(self, document: Document) -> None:
        """Add one document; may wait for a shipping slot when a batch is cut."""
        await self.submit_all((document,))

    async def submit_all(self, documents: Iterable[Document]) -> None:
        """Add documents in order; waits (for a shipping slot) only when a batch is cut.

        One call per page of records rather than one await per record: this loop runs for
        every record the processor ships.
        """
        open_batches, max_bytes, max_records = self._open, self._max_bytes, self._max_records
        for document in documents:
            stream = document.stream
            batch = open_batches.get(stream)
            if batch is not None and batch.size + document.size > max_bytes:
                await self._cut(stream)
                batch = None
            if batch is None:
                batch = open_batches[stream] = _OpenBatch(opened_at=self._clock())
            batch.documents.append(document)
            batch.size += document.size
            if len(batch.documents) >= max_records or batch.size >= max_bytes:
                await self._cut(stream)

    async def _cut(self, stream: str) -> None:
        batch = self._open.pop(stream, None)
        if batch is None or not batch.documents:
            return
        await self._slots.acquire()
        task = asyncio.create_task(self._ship(stream, batch.documents), name=f"ship-{stream}")
        self._shipping.add(task)
        task.add_done_callback(self._shipping.discard)

    async def _ship(self, stream: str, documents: list[Document]) -> None:
        try:
            await self._shipper.ship(stream, documents)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: fail the waiting work, and tell whoever drains us
            for ticket in {id(document.ticket): document.ticket for document in documents}.values():
                ticket.fail(exc)
            self._failures.append(exc)
            raise
        finally:
            self._slots.release()

    async def flush(self) -> None:
        """Cut every open batch now (does not wait for delivery)."""
        for stream in list(self._open):
            await self._cut(stream)

    async def flush_aged(self) -> None:
        """Cut the batches whose first document has waited ``max_age_s``."""
        now = self._clock()
        for stream, batch in list(self._open.items()):
            if now - batch.opened_at >= self._max_age_s:
                await self._cut(stream)

    async def run(self, stopping: asyncio.Event) -> None:
        """Background loop cutting aged batches until ``stopping`` is set."""
        interval = max(self._max_age_s / 4, 0.01)
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=interval)
            await self.flush_aged()

    async def drain(self) -> None:
        """Cut everything and wait until every batch in flight is shipped; re-raises a bug."""
        await self.flush()
        while self._shipping:
            await asyncio.gather(*list(self._shipping), return_exceptions=True)
        if self._failures:
            raise self._failures[0]

    async def cancel(self) -> None:
        """Abandon batches in flight (their documents stay unsettled, their work unacknowledged)."""
        for task in list(self._shipping):
            task.cancel()
        await asyncio.gather(*list(self._shipping), return_exceptions=True)
        self._open.clear()

    @property
    def open_documents(self) -> int:
        return sum(len(batch.documents) for batch in self._open.values())
