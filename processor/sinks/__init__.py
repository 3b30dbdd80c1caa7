"""Where records go. A sink makes one delivery attempt per call; the shipper decides the rest.

Contract of :meth:`Sink.send` (one attempt, may block on I/O):

- returns one outcome per document, in order: ``None`` delivered, :class:`Rejection` refused
  for good (dead-lettered), :data:`RETRY` refused for now (sent again after a back-off);
- raises :class:`~common.errors.RetriableError` when the whole attempt may succeed later
  (5xx, timeouts, connection errors, an answer that does not account for every document);
- raises :class:`BatchTooLargeError` or :class:`BatchMalformedError` when the request as a
  whole was refused: the shipper splits the batch to isolate the culprit;
- raises :class:`~common.errors.AccessDeniedError` / :class:`~common.errors.NotFoundError`
  when no request can succeed until a human acts (credentials, organisation): the shipper halts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, Protocol

from common.errors import PermanentError, RejectedError
from processor.delivery import Document, Rejection

__all__ = [
    "RETRY",
    "BatchMalformedError",
    "BatchTooLargeError",
    "Outcome",
    "Retry",
    "Sink",
]


class Retry:
    """The sink asks for this one document to be sent again later."""

    __slots__ = ("reason",)

    def __init__(self, reason: str = "item_retry") -> None:
        self.reason = reason


RETRY: Final = Retry()

Outcome = Rejection | Retry | None


class BatchTooLargeError(PermanentError):
    """The request body exceeded the server's limit (HTTP 413)."""

    default_reason = "too_large"


class BatchMalformedError(RejectedError):
    """The server refused the request as malformed (HTTP 400): nothing of it was written."""

    default_reason = "malformed"


class Sink(Protocol):
    name: str

    async def send(self, stream: str, documents: Sequence[Document]) -> list[Outcome]:
        """One delivery attempt of ``documents`` to ``stream`` (see the module docstring)."""
        ...

    async def aclose(self) -> None:
        """Release connections and files. Called once at shutdown."""
        ...
