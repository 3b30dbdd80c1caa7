"""The file sink: one NDJSON file per stream, for local runs and debugging.

Each batch is appended and flushed to disk (fsync) before it counts as delivered, so a crash
never acknowledges records that are not on disk.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

from processor.delivery import Document
from processor.sinks import Outcome

__all__ = ["FileSink"]


class FileSink:
    name = "file"

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._locks: dict[str, asyncio.Lock] = {}

    def path_of(self, stream: str) -> Path:
        safe = "".join(char if char.isalnum() or char in "_-" else "_" for char in stream)
        return self.directory / f"{safe}.ndjson"

    def _append(self, path: Path, payload: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())

    async def send(self, stream: str, documents: Sequence[Document]) -> list[Outcome]:
        payload = b"".join(document.body + b"\n" for document in documents)
        lock = self._locks.setdefault(stream, asyncio.Lock())
        async with lock:
            await asyncio.to_thread(self._append, self.path_of(stream), payload)
        return [None] * len(documents)

    async def aclose(self) -> None:
        return None
