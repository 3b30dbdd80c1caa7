"""Dead-letter stand-ins that record what they are given, for tests of shipping and consuming."""

from __future__ import annotations

from collections.abc import Sequence

from processor.delivery import Document, Rejection


class RecordingDeadLetters:
    """Records the documents dead-lettered: (record id, reason)."""

    def __init__(self) -> None:
        self.written: list[tuple[str, str]] = []

    async def documents(self, stream: str, rejected: Sequence[tuple[Document, Rejection]]) -> None:
        self.written.extend(
            (document.record_id, rejection.reason) for document, rejection in rejected
        )
