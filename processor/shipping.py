"""The shipper: delivers a batch through a sink, whatever it takes, and settles every document.

Decisions, each a small classifier of what the sink said (see :mod:`processor.sinks`):

- delivered documents are settled at once;
- refused documents are dead-lettered with their reason, then settled;
- the whole attempt failed transiently (5xx, 503, timeout, connection, an answer that does not
  account for every document): the same documents are sent again after an exponential back-off
  with full jitter, for as long as it takes (the work stays unacknowledged meanwhile);
- the request was too large or malformed: the batch is split in halves until the culprit is a
  batch of one, which is dead-lettered (so one bad record cannot block a stream);
- credentials or organisation refused (401/403/404, 415): the shipper *halts*: it reports itself
  not ready, logs an error once, and tries again every ``halted_retry_interval_s`` until a human
  fixes the deployment. Nothing is acknowledged while halted.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from common.errors import PermanentError, RetriableError
from common.logs import get_logger
from processor.delivery import Document, Rejection, Ticket
from processor.metrics import (
    BATCHES,
    BYTES_SHIPPED,
    RECORDS_SHIPPED,
    SINK_HALTED,
    SINK_RETRIES,
)
from processor.sinks import BatchMalformedError, BatchTooLargeError, Retry, Sink

__all__ = ["DeadLetterWriter", "Shipper"]

log = get_logger(__name__)


class DeadLetterWriter(Protocol):
    async def documents(self, stream: str, rejected: Sequence[tuple[Document, Rejection]]) -> None:
        """Write the refused documents durably; return only once they are safe."""
        ...


class Shipper:
    def __init__(
        self,
        sink: Sink,
        dead_letters: DeadLetterWriter,
        *,
        retry_base_s: float,
        retry_max_s: float,
        halted_retry_interval_s: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.sink = sink
        self._dead_letters = dead_letters
        self._base_s = retry_base_s
        self._max_s = retry_max_s
        self._halted_interval_s = halted_retry_interval_s
        self._sleep = sleep
        self.halted_reason: str | None = None

    def _backoff(self, attempt: int) -> float:
        return random.uniform(0, min(self._max_s, self._base_s * 2 ** min(attempt, 30)))

    async def ship(self, stream: str, documents: Sequence[Document]) -> None:
        """Deliver or dead-letter every document of ``documents``; returns when all are settled.

        May block for as long as the sink keeps failing transiently or stays halted; cancel the
        task to give up (the documents then stay unsettled and their work unacknowledged).
        """
        pending = list(documents)
        attempt = 0
        while pending:
            try:
                outcomes = await self.sink.send(stream, pending)
            except (BatchTooLargeError, BatchMalformedError) as exc:
                BATCHES.labels(stream, exc.reason).inc()
                if len(pending) == 1:
                    await self._reject(stream, [(pending[0], Rejection(exc.reason, str(exc)))])
                    return
                middle = len(pending) // 2
                log.warning("batch_split", stream=stream, documents=len(pending), reason=exc.reason)
                await self.ship(stream, pending[:middle])
                await self.ship(stream, pending[middle:])
                return
            except RetriableError as exc:
                BATCHES.labels(stream, "retried").inc()
                SINK_RETRIES.labels(exc.reason).inc()
                delay = self._backoff(attempt)
                attempt += 1
                log.warning(
                    "batch_send_failed",
                    stream=stream,
                    documents=len(pending),
                    reason=exc.reason,
                    error=str(exc)[:300],
                    retry_in_s=round(delay, 3),
                    attempt=attempt,
                )
                await self._sleep(delay)
                continue
            except PermanentError as exc:
                BATCHES.labels(stream, "halted").inc()
                await self._halt(exc)
                continue
            self._resume()
            await self._settle(stream, pending, outcomes)
            retry = [
                doc
                for doc, outcome in zip(pending, outcomes, strict=True)
                if isinstance(outcome, Retry)
            ]
            if retry:
                SINK_RETRIES.labels("item_retry").inc(len(retry))
                await self._sleep(self._backoff(attempt))
                attempt += 1
            pending = retry

    async def _settle(
        self, stream: str, documents: Sequence[Document], outcomes: Sequence[object]
    ) -> None:
        rejected: list[tuple[Document, Rejection]] = []
        delivered_bytes = delivered_records = 0
        # Settled once per ticket, not once per document: a batch mostly holds a few files.
        delivered: dict[int, tuple[Ticket, int]] = {}
        for document, outcome in zip(documents, outcomes, strict=True):
            if outcome is None:
                ticket = document.ticket
                seen = delivered.get(id(ticket))
                delivered[id(ticket)] = (ticket, 1 if seen is None else seen[1] + 1)
                delivered_bytes += document.size
                delivered_records += 1
            elif isinstance(outcome, Rejection):
                rejected.append((document, outcome))
        for ticket, settled in delivered.values():
            ticket.settle(delivered=settled)
        BYTES_SHIPPED.labels(stream).inc(delivered_bytes)
        RECORDS_SHIPPED.labels(stream).inc(delivered_records)
        BATCHES.labels(stream, "delivered" if not rejected else "partial").inc()
        if rejected:
            await self._reject(stream, rejected)

    async def _reject(self, stream: str, rejected: list[tuple[Document, Rejection]]) -> None:
        await self._dead_letters.documents(stream, rejected)
        reasons: dict[str, int] = {}
        for document, rejection in rejected:
            document.ticket.settle(rejected=1)
            reasons[rejection.reason] = reasons.get(rejection.reason, 0) + 1
        log.warning("records_dead_lettered", stream=stream, reasons=reasons)

    async def _halt(self, exc: PermanentError) -> None:
        if self.halted_reason is None:
            log.error(
                "sink_halted",
                sink=self.sink.name,
                reason=exc.reason,
                error=str(exc)[:500],
                retry_every_s=self._halted_interval_s,
            )
        self.halted_reason = exc.reason
        SINK_HALTED.set(1)
        await self._sleep(self._halted_interval_s)

    def _resume(self) -> None:
        if self.halted_reason is not None:
            log.info("sink_resumed", sink=self.sink.name, after=self.halted_reason)
            self.halted_reason = None
            SINK_HALTED.set(0)
