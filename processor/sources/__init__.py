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

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Anchor", "Chunk", "FileRef", "Position", "Source"]


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


class Source(Protocol):
    name: str

    def read(self, file: FileRef, start: Position, *, size_hint: int) -> AsyncIterator[Chunk]:
        """Chunks from ``start`` to the file's current end (``size_hint``: its size as last
        observed, used to choose a transport, never to stop early)."""
        ...
