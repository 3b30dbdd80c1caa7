"""Publishing log-file events to Kafka and learning which ones the broker confirmed.

The producer is idempotent with ``acks=all`` (:func:`common.clients.kafka.make_producer`): an
event counts as published only when every in-sync replica has it. The caller records
"published" in DynamoDB only for confirmed events; the others are published again on the next
poll, which is harmless because events are level-triggered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from common.errors import is_retriable
from common.events import LogFileEvent, encode_event
from common.logs import get_logger

__all__ = ["EventPublisher", "KafkaEventPublisher", "Outgoing"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """One event and its record key."""

    key: bytes
    event: LogFileEvent


class EventPublisher(Protocol):
    async def publish(self, outgoing: Sequence[Outgoing]) -> list[bool]: ...


class KafkaEventPublisher:
    """Sends events with a started aiokafka producer; never raises for a failed send."""

    def __init__(self, producer: Any, topic: str, *, timeout_s: float) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout_s = timeout_s

    async def publish(self, outgoing: Sequence[Outgoing]) -> list[bool]:
        """Send every event, wait up to ``timeout_s`` for the broker; returns, per event,
        whether Kafka confirmed it. Events of one key keep their order (one partition)."""
        futures: list[asyncio.Future[Any] | None] = []
        for item in outgoing:
            try:
                future = await self._producer.send(
                    self._topic, value=encode_event(item.event), key=item.key
                )
            except Exception as exc:
                if not is_retriable(exc):
                    log.error("event_send_failed", error=str(exc)[:300], kind=type(exc).__name__)
                futures.append(None)
                continue
            # A send confirmed or failed after the wait still settles; nobody reads it then.
            future.add_done_callback(_consume)
            futures.append(future)
        pending = [future for future in futures if future is not None]
        if pending:
            await asyncio.wait(pending, timeout=self._timeout_s)
        confirmed = []
        for future in futures:
            ok = (
                future is not None
                and future.done()
                and not future.cancelled()
                and future.exception() is None
            )
            confirmed.append(ok)
        failed = confirmed.count(False)
        if failed:
            log.warning("events_unconfirmed", events=len(outgoing), unconfirmed=failed)
        return confirmed


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
