"""The OpenObserve sink: ``POST /api/{org}/_bulk``, gzip, one outcome per document.

``_bulk`` is used because it answers per document (Elasticsearch shape); ``_json`` only counts
successes and failures and names the last error, so a partial failure could not be attributed.
OpenObserve lists documents that failed early (timestamp parsing) before the others, so answers
are matched to documents by ``_id`` (each action line carries the record id), not by position.
An answer is trusted only if it accounts for every document sent: anything else is retried.
Per-document refusals (records older than ``ZO_INGEST_ALLOWED_UPTO``, type casts) become
:class:`~processor.delivery.Rejection` with a stable reason.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import httpx
import orjson
from isal import igzip

from common.errors import AccessDeniedError, NotFoundError, PermanentError, UnavailableError
from common.settings import OpenObserveSettings
from processor.delivery import Document, Rejection
from processor.sinks import (
    RETRY,
    BatchMalformedError,
    BatchTooLargeError,
    Outcome,
)

__all__ = ["OpenObserveSink", "rejection_reason"]


def rejection_reason(error: Any) -> str:
    """A stable, low-cardinality reason for one document's refusal."""
    if isinstance(error, dict):
        kind = str(error.get("type", ""))
        text = str(error.get("reason", ""))
    else:
        kind, text = "", str(error)
    if text.startswith("Too old data"):
        return "too_old"
    if text.startswith("Too far data"):
        return "too_far"
    if text.startswith("Failed to cast"):
        return "cast_failed"
    if "timestamp" in kind or "timestamp" in text.lower():
        return "timestamp_invalid"
    return "item_rejected"


class OpenObserveSink:
    """Ships batches to one OpenObserve organisation. Safe for concurrent ``send`` calls."""

    name = "openobserve"

    def __init__(
        self, settings: OpenObserveSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._path = f"/api/{settings.organization}/_bulk"
        self._client = httpx.AsyncClient(
            base_url=str(settings.url).rstrip("/"),
            auth=(settings.user, settings.password.get_secret_value()),
            timeout=httpx.Timeout(settings.request_timeout_s),
            headers={
                "Content-Type": "application/x-ndjson",
                "Content-Encoding": "gzip",
                "Accept": "application/json",
            },
            transport=transport,
        )

    @staticmethod
    def encode(stream: str, documents: Sequence[Document]) -> bytes:
        """The gzip-compressed bulk body: an action line (stream, id) before each document."""
        prefix = b'{"index":{"_index":' + json.dumps(stream).encode() + b',"_id":"'
        body = b"".join(
            prefix + document.record_id.encode() + b'"}}\n' + document.body + b"\n"
            for document in documents
        )
        return igzip.compress(body, compresslevel=1)

    async def send(self, stream: str, documents: Sequence[Document]) -> list[Outcome]:
        # zlib releases the GIL: compressing in a worker thread runs beside the parser on
        # another core instead of taking turns with it on the event loop's.
        body = await asyncio.to_thread(self.encode, stream, documents)
        try:
            answer = await self._client.post(self._path, content=body)
        except httpx.TransportError as exc:
            raise UnavailableError(
                f"OpenObserve unreachable: {type(exc).__name__}: {exc}",
                reason="timeout" if isinstance(exc, httpx.TimeoutException) else "connection",
            ) from exc
        status = answer.status_code
        if status == 200:
            return self._outcomes(answer, documents)
        detail = answer.text[:500]
        if status == 400:
            raise BatchMalformedError(f"OpenObserve refused the batch: {detail}", reason="http_400")
        if status == 413:
            raise BatchTooLargeError(f"OpenObserve: payload too large: {detail}")
        if status in {401, 403}:
            raise AccessDeniedError(
                f"OpenObserve answered {status}: {detail}", reason=f"http_{status}"
            )
        if status == 404:
            raise NotFoundError(f"OpenObserve answered 404: {detail}", reason="http_404")
        if status == 415:
            raise PermanentError(f"OpenObserve refused the encoding: {detail}", reason="http_415")
        raise UnavailableError(f"OpenObserve answered {status}: {detail}", reason=f"http_{status}")

    @staticmethod
    def _outcomes(answer: httpx.Response, documents: Sequence[Document]) -> list[Outcome]:
        sent = len(documents)
        content = answer.content
        # The common answer, every document written, read without decoding it: a _bulk answer
        # lists every document, and decoding it costs as much as a tenth of parsing them. The
        # byte counts are exact for compact JSON; any other spelling takes the full path.
        if (
            b'"errors":false' in content
            and content.count(b'"status":') == sent
            and content.count(b'"status":200') + content.count(b'"status":201') == sent
        ):
            return [None] * sent
        try:
            # orjson: the answer holds one item per document, and the standard library's
            # decoder costs as much CPU as parsing the records did.
            payload = orjson.loads(content)
        except orjson.JSONDecodeError as exc:
            raise UnavailableError(
                "OpenObserve answered 200 without JSON", reason="bad_answer"
            ) from exc
        items = payload.get("items") if isinstance(payload, dict) else None
        if not isinstance(items, list) or len(items) != sent:
            count = len(items) if isinstance(items, list) else "no"
            raise UnavailableError(
                f"OpenObserve accounted for {count} items of {sent} sent", reason="bulk_mismatch"
            )
        if payload.get("errors") is False:
            # Every document accounted for and none failed: no need to match them one by one.
            return [None] * sent
        by_id: dict[str, list[Outcome]] = {}
        for item in items:
            item_id, outcome = _item_result(item)
            by_id.setdefault(item_id, []).append(outcome)
        outcomes: list[Outcome] = []
        for document in documents:
            matches = by_id.get(document.record_id)
            if not matches:
                raise UnavailableError(
                    f"OpenObserve's answer has no item for document {document.record_id}",
                    reason="bulk_mismatch",
                )
            outcomes.append(matches.pop(0))
        return outcomes

    async def aclose(self) -> None:
        await self._client.aclose()


def _item_result(item: Any) -> tuple[str, Outcome]:
    """(the item's ``_id``, what it says about that document)."""
    result = next(iter(item.values())) if isinstance(item, dict) and item else {}
    if not isinstance(result, dict):
        result = {}
    item_id = str(result.get("_id") or "")
    status = result.get("status", 0)
    status = status if isinstance(status, int) else 0
    if status in {200, 201}:
        return item_id, None
    if status == 429 or status >= 500:
        return item_id, RETRY
    error = result.get("error", {})
    return item_id, Rejection(rejection_reason(error), json.dumps(error)[:1000])
