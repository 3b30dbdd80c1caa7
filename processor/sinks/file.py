"""The file sink: one NDJSON file per stream, for local runs and debugging.

Each batch is appended and flushed to disk (fsync) before it counts as delivered, so a crash
never acknowledges records that are not on disk.

Files are rotated by size, like a logger's rotating handler: when appending a batch would take
``<stream>.ndjson`` past ``max_file_bytes``, it becomes ``<stream>.ndjson.1`` (the previous
``.1`` becomes ``.2`` ...) and the batch starts a new file; at most ``keep_files`` rotated files
are kept, the oldest is deleted. A batch is never split across two files, so a batch larger
than ``max_file_bytes`` makes one file of its own. ``keep_files=0`` keeps only the current file.
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

    def __init__(
        self, directory: Path, *, max_file_bytes: int = 64 * 1024 * 1024, keep_files: int = 5
    ) -> None:
        if max_file_bytes < 1:
            raise ValueError("max_file_bytes must be positive")
        if keep_files < 0:
            raise ValueError("keep_files must not be negative")
        self.directory = directory
        self.max_file_bytes = max_file_bytes
        self.keep_files = keep_files
        self._locks: dict[str, asyncio.Lock] = {}

    def path_of(self, stream: str) -> Path:
        """The file a stream's records are appended to now."""
        safe = "".join(char if char.isalnum() or char in "_-" else "_" for char in stream)
        return self.directory / f"{safe}.ndjson"

    def rotated_paths(self, stream: str) -> list[Path]:
        """The stream's rotated files that exist, newest first (``.1``, ``.2`` ...)."""
        current = self.path_of(stream)
        found = []
        for number in range(1, self.keep_files + 1):
            path = current.with_name(f"{current.name}.{number}")
            if not path.exists():
                break
            found.append(path)
        return found

    def _rotate(self, path: Path) -> None:
        # Shift from the oldest down, so no rename overwrites a file that is still to move.
        if self.keep_files == 0:
            path.unlink()
        else:
            for number in range(self.keep_files - 1, 0, -1):
                older = path.with_name(f"{path.name}.{number}")
                if older.exists():
                    os.replace(older, path.with_name(f"{path.name}.{number + 1}"))
            os.replace(path, path.with_name(f"{path.name}.1"))
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the renames survive a crash before the next append
        finally:
            os.close(directory)

    def _append(self, path: Path, payload: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            size = 0
        if size > 0 and size + len(payload) > self.max_file_bytes:
            self._rotate(path)
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
