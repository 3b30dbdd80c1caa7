"""The three log ingestion endpoints, from decoded body to response body.

Mirrors OpenObserve v0.15.3 ``service/logs/{ingest,bulk}.rs``: the whole body is parsed first
(a malformed document rejects the request and nothing is written), then each document is
flattened and its ``_timestamp`` read and checked against the ingestion window (per-record
failures), then the survivors of each stream go through the write stage (schema, casts,
injected faults) in one batch. So the ``error`` of a ``_json``/``_multi`` answer is the last
per-record error with write-stage errors after timestamp errors, and ``_bulk`` lists
timestamp failures first, then each stream's written records in order: like OpenObserve,
``items`` is NOT in document order when some documents fail early.

Not thread-safe: the server holds its lock around :func:`ingest_documents` and
:func:`ingest_bulk`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from tests.contract._oo_normalise import (
    TimestampError,
    flatten_record,
    format_stream_name,
    future_discard_error,
    parse_timestamp_us,
    upto_discard_error,
)
from tests.contract._oo_store import PendingRecord, RecordOutcome, Store

__all__ = [
    "BadRequest",
    "IngestContext",
    "IngestCounts",
    "ingest_bulk",
    "ingest_documents",
    "parse_json_body",
    "parse_multi_body",
]

TS_PARSE_FAILED: Final = "timestamp_parsing_failed"
_HOUR_US: Final = 3_600_000_000
_BULK_ACTIONS: Final = ("create", "index", "update")


class BadRequest(ValueError):
    """The whole request is rejected with 400 ``{"code":400,"message":str(self)}``."""


@dataclass(frozen=True, slots=True)
class IngestContext:
    """What one ingestion request needs besides its body."""

    now_us: int
    upto_hours: int
    future_hours: int
    column_limit: int
    silent_drop: bool
    fault: Callable[[PendingRecord], RecordOutcome | None]


@dataclass(slots=True)
class IngestCounts:
    """Record counts of one request, for the request log."""

    received: int = 0
    successful: int = 0
    failed: int = 0
    streams: list[str] = field(default_factory=list)


def _loads(text: str | bytes) -> Any:
    # orjson for speed (benchmarks push tens of thousands of records a second through here);
    # whatever it refuses goes to the standard library, whose answer (value or error) stands,
    # so the server accepts exactly what it accepted before.
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"Error# {exc}") from exc


def parse_json_body(body: bytes) -> list[Any]:
    """``_json``: a JSON array, or one value taken as a one-element array."""
    value = _loads(body)
    return value if isinstance(value, list) else [value]


def parse_multi_body(body: bytes) -> list[Any]:
    """``_multi``: one JSON value per line; blank lines are skipped."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"Error# Failed processing: {exc}") from exc
    docs: list[Any] = []
    # Split on "\n" only: str.splitlines would also split inside strings holding U+2028.
    for raw_line in text.split("\n"):
        line = raw_line.removesuffix("\r")
        if not line.strip():
            continue
        try:
            docs.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise BadRequest(f"Error# Failed processing: {exc}") from exc
    return docs


def _stamp(flat: dict[str, Any], ctx: IngestContext) -> str | None:
    """Set ``_timestamp`` (µs) in ``flat``; the per-record error when it cannot."""
    raw = flat.get("_timestamp")
    if raw is None:
        ts = ctx.now_us
    else:
        try:
            ts = parse_timestamp_us(raw, ctx.now_us)
        except TimestampError:
            return "Can't parse timestamp"
    if ts < ctx.now_us - ctx.upto_hours * _HOUR_US:
        return upto_discard_error(ctx.upto_hours)
    if ts > ctx.now_us + ctx.future_hours * _HOUR_US:
        return future_discard_error(ctx.future_hours)
    flat["_timestamp"] = ts
    return None


def _write(
    store: Store,
    org: str,
    stream: str,
    pending: list[PendingRecord],
    ctx: IngestContext,
    approx_bytes: float,
) -> list[RecordOutcome] | None:
    if ctx.silent_drop:
        return None
    return store.write(
        org,
        stream,
        pending,
        now_us=ctx.now_us,
        column_limit=ctx.column_limit,
        approx_bytes=approx_bytes,
        fault=ctx.fault,
    )


def ingest_documents(
    store: Store,
    org: str,
    raw_stream: str,
    docs: list[Any],
    ctx: IngestContext,
    body_bytes: int,
) -> tuple[dict[str, Any], IngestCounts]:
    """Ingest the documents of one ``_json``/``_multi`` request into one stream.

    Raises :class:`BadRequest` (nothing written) when a document is not an object.
    """
    for doc in docs:
        if not isinstance(doc, dict):
            raise BadRequest("Error# flatten value must be an object")
    stream = format_stream_name(raw_stream)
    counts = IngestCounts(received=len(docs), streams=[stream])
    status: dict[str, Any] = {"name": stream, "successful": 0, "failed": 0}
    error = ""
    pending: list[PendingRecord] = []
    for position, doc in enumerate(docs, start=1):
        flat = flatten_record(doc)
        problem = _stamp(flat, ctx)
        if problem is not None:
            status["failed"] += 1
            error = problem
            continue
        pending.append(PendingRecord(position=position, values=flat))
    if pending:
        outcomes = _write(store, org, stream, pending, ctx, float(body_bytes))
        for outcome in outcomes or []:
            if outcome.error is None:
                status["successful"] += 1
            else:
                status["failed"] += 1
                error = outcome.error
    if error:
        status["error"] = error
    counts.successful, counts.failed = status["successful"], status["failed"]
    return {"code": 200, "status": [status]}, counts


def _bulk_failure(
    action: str, stream: str, doc_id: str | None, status: int, kind: str, reason: str, record: Any
) -> dict[str, Any]:
    return {
        action: {
            "_index": stream,
            "_id": doc_id or "",
            "status": status,
            "error": {
                "type": kind,
                "reason": reason,
                "index_uuid": "0",
                "shard": "1",
                "index": stream,
            },
            "originalRecord": record,
        }
    }


def _bulk_success(stream: str, doc_id: str | None) -> dict[str, Any]:
    return {
        "index": {
            "_index": stream,
            "_id": doc_id or "",
            "_version": 1,
            "result": "created",
            "_shards": {"total": 1, "successful": 1, "failed": 0},
            "_seq_no": 1,
            "_primary_term": 1,
            "status": 200,
        }
    }


def _bulk_action(line: Any) -> tuple[str, str, str | None] | None:
    """(action, index, _id) of an action line, or ``None`` when it names no known action."""
    if not isinstance(line, dict):
        raise BadRequest("Error# bulk action line must be a JSON object")
    for action in _BULK_ACTIONS:
        meta = line.get(action)
        if not isinstance(meta, dict):
            continue
        index = meta.get("_index")
        if not isinstance(index, str):
            continue
        doc_id = meta.get("_id")
        return action, index, doc_id if isinstance(doc_id, str) else None
    return None


def ingest_bulk(
    store: Store, org: str, body: bytes, ctx: IngestContext
) -> tuple[dict[str, Any], IngestCounts]:
    """Ingest one Elasticsearch ``_bulk`` request.

    Lines alternate action and document; a line that is not a known action where an action is
    expected is skipped (so a document without its action line vanishes silently). Raises
    :class:`BadRequest` for a line that is not JSON or a document that is not an object.
    """
    started = time.monotonic()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"Error# {exc}") from exc
    items: list[dict[str, Any]] = []
    errors = False
    counts = IngestCounts()
    pending: dict[str, list[tuple[PendingRecord, str | None]]] = {}
    expect_document = False
    action, stream, doc_id = "", "", None
    position = 0
    for raw_line in text.split("\n"):
        line = raw_line.removesuffix("\r")
        if not line:
            continue
        value = _loads(line)
        if not expect_document:
            parsed = _bulk_action(value)
            if parsed is None:
                continue
            action, index, doc_id = parsed
            if index in ("", "_", "/"):
                message = f"Invalid stream name: {line}"
                items.append(_bulk_failure(action, index, doc_id, 422, message, message, value))
                errors = True
                continue
            stream = format_stream_name(index)
            expect_document = True
            continue
        expect_document = False
        if not isinstance(value, dict):
            raise BadRequest("Error# flatten value must be an object")
        position += 1
        counts.received += 1
        flat = flatten_record(value)
        if doc_id is not None:
            flat["_id"] = doc_id
        problem = _stamp(flat, ctx)
        if problem is not None:
            reason = TS_PARSE_FAILED if problem == "Can't parse timestamp" else problem
            # OpenObserve moves the record out before reporting it; we keep the flattened
            # record in originalRecord because it is what a test wants to look at.
            items.append(_bulk_failure(action, stream, doc_id, 422, TS_PARSE_FAILED, reason, flat))
            errors = True
            counts.failed += 1
            continue
        record = PendingRecord(position=position, values=flat, doc_id=doc_id)
        pending.setdefault(stream, []).append((record, doc_id))
    for name, entries in pending.items():
        counts.streams.append(name)
        outcomes = _write(store, org, name, [r for r, _ in entries], ctx, float(len(body)))
        if outcomes is None:
            # OpenObserve logs the write error and flags the response, listing nothing.
            errors = True
            continue
        for outcome in outcomes:
            rec = outcome.record
            if outcome.error is None:
                items.append(_bulk_success(name, rec.doc_id))
                counts.successful += 1
            else:
                items.append(
                    _bulk_failure(
                        "index",
                        name,
                        rec.doc_id,
                        outcome.item_status,
                        outcome.error_type or "schema_conformance_failed",
                        outcome.error,
                        rec.values,
                    )
                )
                errors = True
                counts.failed += 1
    took_ms = int((time.monotonic() - started) * 1000)
    return {"took": took_ms, "errors": errors, "items": items}, counts
