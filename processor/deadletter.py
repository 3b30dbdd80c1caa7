"""The dead-letter topic: events and records that can never succeed, each with its reason.

A message is written and confirmed by Kafka (acks=all) before the work it settles is
acknowledged, so a crash can repeat a dead letter but never lose one. Message value (JSON):

    {"kind": "event" | "record", "reason": "<token>", "detail": "<text>",
     "source": {...where it came from...}, "payload": <original event text | record object>}

Headers carry ``reason`` and ``kind`` so consumers can filter without parsing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer

from processor.delivery import Document, Rejection
from processor.metrics import DEAD_LETTERS

__all__ = ["DeadLetters"]


class DeadLetters:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self.topic = topic

    async def _send_all(self, messages: Sequence[tuple[bytes | None, bytes, str, str]]) -> None:
        futures = []
        for key, value, kind, reason in messages:
            headers = [("kind", kind.encode()), ("reason", reason.encode())]
            futures.append(
                await self._producer.send(self.topic, value=value, key=key, headers=headers)
            )
        await asyncio.gather(*futures)
        for _key, _value, kind, reason in messages:
            DEAD_LETTERS.labels(kind, reason).inc()

    async def event(
        self,
        *,
        value: bytes | None,
        key: bytes | None,
        reason: str,
        detail: str,
        source: dict[str, Any],
    ) -> None:
        """Dead-letter a Kafka event that can never be processed; returns once Kafka has it."""
        payload = (value or b"").decode("utf-8", errors="replace")
        message = {
            "kind": "event",
            "reason": reason,
            "detail": detail,
            "source": source,
            "payload": payload,
        }
        await self._send_all([(key, json.dumps(message).encode(), "event", reason)])

    async def documents(self, stream: str, rejected: Sequence[tuple[Document, Rejection]]) -> None:
        """Dead-letter records the sink refused for good; returns once Kafka has them all."""
        messages = []
        for document, rejection in rejected:
            try:
                record: Any = json.loads(document.body)
            except ValueError:
                record = document.body.decode("utf-8", errors="replace")
            message = {
                "kind": "record",
                "reason": rejection.reason,
                "detail": rejection.detail,
                "source": {"stream": stream, "record_id": document.record_id},
                "payload": record,
            }
            messages.append(
                (
                    document.record_id.encode(),
                    json.dumps(message).encode(),
                    "record",
                    rejection.reason,
                )
            )
        await self._send_all(messages)
