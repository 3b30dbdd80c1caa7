"""Where log bytes come from. A source reads one file from a position to its current end.

Contract of :meth:`Source.read`: an async iterator of :class:`Chunk`, each holding the bytes at
absolute file offsets ``[chunk.offset, chunk.offset + len(chunk.data))``, contiguous, starting
exactly at ``start.offset``, with no byte repeated or skipped. Whatever the transport does
(overlapping pages, truncation markers, gaps), a source either repairs it or switches to a
transport that cannot have it; it never passes damaged bytes on. ``chunk.end`` says where a
later read can resume from, with an RDS marker when one is known to point there.

Errors: :class:`~common.errors.NotFoundError` when the file no longer exists,
:class:`~common.errors.RetriableError` subclasses for transient trouble (throttling, network).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Protocol, TypeVar

__all__ = [
    "Anchor",
    "Chunk",
    "ContentChangedError",
    "FileRef",
    "FileStat",
    "Position",
    "Source",
    "anchor_of",
    "digest",
    "read_ahead",
]

MAX_ANCHOR_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class FileRef:
    """The file to read: its instance, its current RDS name and its content identity."""

    instance_id: str
    log_file: str
    identity: str


@dataclass(frozen=True, slots=True)
class Anchor:
    """The last line (at most 64 KiB) before byte ``end``, as a digest: reading on from
    ``end`` later, a source re-reads these bytes first and compares, so content that changed
    under the same name (rotation) is recognised instead of being taken for a continuation."""

    end: int
    length: int
    digest: str


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def anchor_of(data: bytes, end: int) -> Anchor | None:
    """The anchor of ``data`` (bytes ending at absolute offset ``end``): its last line, or its
    last 64 KiB when that line is longer."""
    if not data:
        return None
    start = data.rfind(b"\n", 0, len(data) - 1) + 1
    tail = data[max(start, len(data) - MAX_ANCHOR_BYTES) :]
    return Anchor(end, len(tail), digest(tail))


@dataclass(frozen=True, slots=True)
class Position:
    """A place to read from: byte ``offset``; a portion marker known to point at
    ``marker_offset`` (at or before ``offset``) when there is one; and the anchor of the bytes
    before ``marker_offset`` when they were seen."""

    offset: int
    marker: str | None = None
    marker_offset: int = 0
    anchor: Anchor | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    offset: int
    data: bytes
    end: Position


@dataclass(frozen=True, slots=True)
class FileStat:
    """What the source says of a file now: its size and when it was last written (ms)."""

    size: int
    last_written_ms: int


class ContentChangedError(Exception):
    """The bytes before a read's starting position are not those recorded there: the name
    holds other content than the checkpoint was made on."""


class Source(Protocol):
    name: str

    async def listing(self, instance_id: str, contains: str) -> dict[str, FileStat]:
        """The instance's files whose names contain ``contains``, by name, as they are now."""
        ...

    def read(self, file: FileRef, start: Position, *, size_hint: int) -> AsyncIterator[Chunk]:
        """Chunks from ``start`` to the file's current end (``size_hint``: its size as last
        observed, used to choose a transport, never to stop early). Raises
        :class:`ContentChangedError` when the bytes at ``start.anchor``, or those a read goes
        on from, turn out to be other content; the chunks yielded before it are good."""
        ...


T = TypeVar("T")


async def read_ahead(chunks: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """What ``chunks`` yields, in order, with the next item already being fetched while the
    caller handles the current one: a download's round trip (RDS answers a 1 MB portion in
    tenths of a second) overlaps the parsing of the page before it instead of adding to it.

    One item ahead, never more, so memory grows by one chunk per file being read. An error
    from ``chunks`` reaches the caller where it would have without the read-ahead: after
    every item yielded before it. Stopping early cancels the fetch under way and closes
    ``chunks``."""
    pending: asyncio.Future[T] = asyncio.ensure_future(anext(chunks))
    try:
        while True:
            try:
                item = await pending
            except StopAsyncIteration:
                return
            pending = asyncio.ensure_future(anext(chunks))
            yield item
    finally:
        if not pending.done():
            pending.cancel()
        # Collect its outcome (a fetched item, an error, the cancellation): nothing is left
        # unretrieved, and the generator is idle again before it is closed.
        await asyncio.gather(pending, return_exceptions=True)
        if isinstance(chunks, AsyncGenerator):
            await chunks.aclose()
