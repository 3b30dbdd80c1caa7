"""A contract test server that answers like OpenObserve's HTTP API, for tests that cannot run it.

It behaves as ``shared/reference/openobserve.md`` describes (facts cross-checked against
OpenObserve v0.15.3's source); every fact in that file is a requirement here.

Implemented:

- Ingestion: ``POST /api/{org}/{stream}/_json`` (array, or one object), ``/_multi`` (NDJSON,
  blank lines skipped), ``/api/{org}/_bulk`` (Elasticsearch bulk; ``index``/``create``/
  ``update`` actions). Basic auth with the root user's password, or its ingestion passcode on
  ingestion paths only; unknown organisations are created by the root user's ingestion and
  otherwise answered 404 ``Organization not found`` (plain text). gzip and deflate bodies;
  ``zstd`` when the standard library can decode it (Python 3.14+) unless the zstd-415 switch
  is on; ``br`` always 415 (no stdlib decoder). OpenObserve v0.15 accepts br and zstd; later
  (axum) builds answered zstd with 415 until a 2026 fix: ``zstd_unsupported`` models those.
- Normalisation of stream names and keys, flattening to depth 3, ``_timestamp`` parsing and
  the ``ZO_INGEST_ALLOWED_UPTO``/``ZO_INGEST_ALLOWED_IN_FUTURE`` window (see
  ``_oo_normalise``); schema fixing, widening and cast failures (``_oo_store``); more than
  ``ZO_COLS_PER_RECORD_LIMIT`` (1000) columns in a batch is dropped silently (200, 0/0).
- Responses: 200 with per-stream ``successful``/``failed``/last ``error``; whole-request
  ``{"code":N,"message":...}`` for 400, 403, 404 (text), 413 (``ZO_PAYLOAD_LIMIT``, checked on
  the sent and on the decoded size), 415, 500, 503 (also when ``max_rows`` stored rows fill
  the "memory table"); 401 plain text ``Unauthorized Access``; never 429. ``_bulk`` answers in
  the Elasticsearch shape with per-item 422.
- ``POST /api/{org}/_search`` executing the SQL subset of ``_oo_sql`` in SQLite (400 code 20001
  for SQL outside it, 20002 for a stream never ingested, 20004 for an unknown column);
  ``GET /api/{org}/streams`` with stats; ``GET /api/{org}/streams/{s}/schema``; stream create
  and ``PUT .../settings``; dashboards (v5 only), alert templates, destinations, v2 alerts
  (``_oo_catalog``); ``GET /healthz``.

Deliberate deviations (the reference wins where it and OpenObserve's source disagree):

- keys: non-ASCII characters become ``_`` as the reference says (OpenObserve keeps non-ASCII
  lowercase letters and digits);
- types: a value that cannot be cast to its column's type fails the record, as the reference
  says; OpenObserve v0.15.3 would instead widen any column to ``Utf8`` on a string;
- dashboards: only ``"version": 5`` in the reference's shape is accepted (OpenObserve also
  reads versions 1-4 and defaults missing fields); alerts must carry every
  ``trigger_condition`` field the reference lists;
- ``_bulk``: a timestamp failure's ``originalRecord`` holds the flattened document
  (OpenObserve sends ``null`` there); ``update`` actions are accepted as OpenObserve does;
- one root user, so no RBAC: 403 only by fault; search ``total`` is the number of hits
  returned, hits omit null fields, ``scan_size`` and stream sizes are estimates; no
  ``GET .../settings`` endpoint because OpenObserve has none (read ``.../schema``).

Kept from OpenObserve on purpose although surprising: ``_bulk`` lists timestamp failures
before the written documents (``items`` is not in document order when some fail early); a
cast error reads ``Failed to cast <field> to type <T> `` with a trailing space, one phrase per
failing field.

Test controls (in-process methods, or HTTP under ``/_contract/``, unauthenticated):

- ``POST /_contract/faults`` (see ``_oo_faults.parse_fault_update``), ``GET`` shows them,
  ``DELETE`` clears them; ``POST /_contract/reset`` clears faults and, with
  ``{"data": true}``, returns to the constructed state (limits, clock, no streams,
  dashboards, alerts or logged requests);
- ``POST /_contract/clock`` ``{"now_us": int}`` fixes the clock, ``{"now_us": null}`` frees it;
- ``GET /_contract/records?org=&stream=`` every stored row, or with ``&field=F&equals=V``
  (``&prefix=P``) those whose column F equals V (starts with P), filtered in SQLite so that
  a test polling for its own records does not make the server copy everyone else's;
  ``GET /_contract/requests`` the log.

Throughput, measured as a subprocess on the 2-core development machine with 1000-record
requests from one httpx client: about 60-70k records/s for ``_json``/``_multi`` (55k gzipped),
40k for ``_bulk``; ingestion holds one lock, so more clients do not add throughput.

Run as a subprocess: ``python -m tests.contract.openobserve_server --port 0 --port-file PATH``
writes the bound port to PATH once listening and exits 0 on SIGTERM.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import importlib
import json
import os
import re
import signal
import sqlite3
import sys
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Final
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from tests.contract._oo_catalog import Catalog
from tests.contract._oo_faults import (
    DEFAULT_STATUS_MESSAGES,
    FaultError,
    Faults,
    Latency,
    make_burst,
    make_record_failure,
    parse_fault_update,
)
from tests.contract._oo_ingest import (
    BadRequest,
    IngestContext,
    IngestCounts,
    ingest_bulk,
    ingest_documents,
    parse_json_body,
    parse_multi_body,
)
from tests.contract._oo_normalise import format_stream_name
from tests.contract._oo_sql import UnsupportedSql, prepare_query
from tests.contract._oo_store import PendingRecord, RecordOutcome, SettingsError, Store

__all__ = ["OpenObserveContractServer", "main"]

MIB: Final = 1024 * 1024
DEFAULT_PAYLOAD_LIMIT_BYTES: Final = 200 * MIB
DEFAULT_ROOT_EMAIL: Final = "root@example.com"
DEFAULT_ROOT_PASSWORD: Final = "Complexpass#123"
DEFAULT_QUERY_LIMIT: Final = 1000
_TEXT_STATUSES: Final = frozenset({401, 404})
# Bodies answered without being used (too large, unauthorised) are read and dropped up to
# this size so the client sees the answer; beyond it the connection is closed instead.
_DISCARD_MAX_BYTES: Final = 1024 * MIB
# How often the serving loop checks for stop(): bounds how long stop() blocks.
_POLL_INTERVAL_S: Final = 0.02


def _zstd_decoder() -> ModuleType | None:
    # The standard library gained a zstd decoder in Python 3.14 (compression.zstd).
    try:
        return importlib.import_module("compression.zstd")
    except ImportError:
        return None


@dataclass(frozen=True, slots=True)
class _Limits:
    upto_hours: int
    future_hours: int
    payload_limit: int
    passcode: str | None
    zstd_unsupported: bool
    column_limit: int


class _Reply:
    """One HTTP answer: status, body bytes and content type."""

    __slots__ = ("body", "content_type", "status")

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type

    @classmethod
    def json(cls, status: int, payload: Any) -> _Reply:
        # orjson: a _bulk answer lists every document, and this runs for each request.
        try:
            body = orjson.dumps(payload)
        except TypeError:
            body = json.dumps(payload).encode()
        return cls(status, body, "application/json")

    @classmethod
    def text(cls, status: int, text: str) -> _Reply:
        return cls(status, text.encode(), "text/plain; charset=utf-8")

    @classmethod
    def error(cls, status: int, message: str) -> _Reply:
        if status in _TEXT_STATUSES:
            return cls.text(status, message)
        return cls.json(status, {"code": status, "message": message})


class _Route:
    __slots__ = ("action", "kind", "method", "pattern")

    def __init__(self, method: str, pattern: str, action: str, kind: str) -> None:
        self.method = method
        self.pattern = re.compile("^" + pattern + "$")
        self.action = action
        self.kind = kind


_SEG = r"([^/]+)"
_ROUTES: Final = (
    _Route("GET", r"/healthz", "healthz", "health"),
    _Route("POST", rf"/api/{_SEG}/{_SEG}/_json", "ingest_json", "ingest"),
    _Route("POST", rf"/api/{_SEG}/{_SEG}/_multi", "ingest_multi", "ingest"),
    _Route("POST", rf"/api/{_SEG}/_bulk", "ingest_bulk", "ingest"),
    _Route("POST", rf"/api/{_SEG}/_search", "search", "api"),
    _Route("GET", rf"/api/{_SEG}/streams", "list_streams", "api"),
    _Route("GET", rf"/api/{_SEG}/streams/{_SEG}/schema", "get_stream", "api"),
    _Route("POST", rf"/api/{_SEG}/streams/{_SEG}", "create_stream", "api"),
    _Route("PUT", rf"/api/{_SEG}/streams/{_SEG}/settings", "update_settings", "api"),
    _Route("POST", rf"/api/{_SEG}/dashboards", "create_dashboard", "api"),
    _Route("GET", rf"/api/{_SEG}/dashboards", "list_dashboards", "api"),
    _Route("GET", rf"/api/{_SEG}/dashboards/{_SEG}", "get_dashboard", "api"),
    _Route("PUT", rf"/api/{_SEG}/dashboards/{_SEG}", "update_dashboard", "api"),
    _Route("DELETE", rf"/api/{_SEG}/dashboards/{_SEG}", "delete_dashboard", "api"),
    _Route("POST", rf"/api/{_SEG}/alerts/templates", "create_template", "api"),
    _Route("GET", rf"/api/{_SEG}/alerts/templates", "list_templates", "api"),
    _Route("POST", rf"/api/{_SEG}/alerts/destinations", "create_destination", "api"),
    _Route("GET", rf"/api/{_SEG}/alerts/destinations", "list_destinations", "api"),
    _Route("POST", rf"/api/v2/{_SEG}/alerts", "create_alert", "api"),
    _Route("GET", rf"/api/v2/{_SEG}/alerts", "list_alerts", "api"),
    _Route("GET", r"/_contract/faults", "admin_get_faults", "admin"),
    _Route("POST", r"/_contract/faults", "admin_set_faults", "admin"),
    _Route("DELETE", r"/_contract/faults", "admin_clear_faults", "admin"),
    _Route("POST", r"/_contract/reset", "admin_reset", "admin"),
    _Route("POST", r"/_contract/clock", "admin_clock", "admin"),
    _Route("GET", r"/_contract/records", "admin_records", "admin"),
    _Route("GET", r"/_contract/requests", "admin_requests", "admin"),
)


class _Request:
    """What a route action gets: path parameters, query, decoded body and the caller."""

    __slots__ = ("body", "method", "params", "path", "query", "user")

    def __init__(
        self,
        method: str,
        path: str,
        params: tuple[str, ...],
        query: dict[str, list[str]],
        body: bytes,
        user: str,
    ) -> None:
        self.method = method
        self.path = path
        self.params = params
        self.query = query
        self.body = body
        self.user = user

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BadRequest(f"Json deserialize error: {exc}") from exc


class OpenObserveContractServer:
    """An OpenObserve look-alike on ``ThreadingHTTPServer``, for tests.

    Construct, then :meth:`start` (or use it as a context manager); :attr:`url` is valid once
    started. Every public method is thread-safe and returns at once. Keyword arguments carry
    their units; the defaults are OpenObserve's.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        root_email: str = DEFAULT_ROOT_EMAIL,
        root_password: str = DEFAULT_ROOT_PASSWORD,
        orgs: Sequence[str] = ("default",),
        ingest_allowed_upto_hours: int = 5,
        ingest_allowed_in_future_hours: int = 24,
        payload_limit_bytes: int = DEFAULT_PAYLOAD_LIMIT_BYTES,
        ingestion_passcode: str | None = None,
        zstd_unsupported: bool = False,
        column_limit: int = 1000,
        max_rows: int = 5_000_000,
        request_log_size: int = 10_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._host = host
        self._port = port
        self.root_email = root_email.lower()
        self.root_password = root_password
        self._lock = threading.RLock()
        self._clock = clock
        self._fixed_now_us: int | None = None
        self._defaults = _Limits(
            upto_hours=ingest_allowed_upto_hours,
            future_hours=ingest_allowed_in_future_hours,
            payload_limit=payload_limit_bytes,
            passcode=ingestion_passcode,
            zstd_unsupported=zstd_unsupported,
            column_limit=column_limit,
        )
        self._apply_limits(self._defaults)
        self._faults = Faults()
        self._store = Store(max_rows=max_rows)
        self._catalog = Catalog(
            lambda org, name: self._store.stream(org, name) is not None, self.now_us
        )
        self._initial_orgs = tuple(dict.fromkeys(("default", *orgs)))
        for org in self._initial_orgs:
            self._store.ensure_org(org)
        self._requests: collections.deque[dict[str, Any]] = collections.deque(
            maxlen=request_log_size
        )
        self._seq = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -------------------------------------------------------------------------------
    def bind(self) -> None:
        """Bind the listening socket (port 0 picks a free port); does not serve yet."""
        if self._httpd is not None:
            return
        httpd = _HTTPServer((self._host, self._port), _Handler)
        httpd.contract = self
        self._httpd = httpd

    def start(self) -> OpenObserveContractServer:
        """Bind and serve on a daemon thread; returns ``self``."""
        self.bind()
        assert self._httpd is not None
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            args=(_POLL_INTERVAL_S,),
            name="openobserve-contract",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Bind and serve on the calling thread until :meth:`stop` is called elsewhere."""
        self.bind()
        assert self._httpd is not None
        self._httpd.serve_forever(_POLL_INTERVAL_S)

    def stop(self) -> None:
        """Stop serving and close the socket; blocks until the serving loop has returned."""
        httpd = self._httpd
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> OpenObserveContractServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port; raises :class:`RuntimeError` before :meth:`bind`/:meth:`start`."""
        if self._httpd is None:
            raise RuntimeError("the server is not bound")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://{self._host}:{self.port}"

    @property
    def auth(self) -> tuple[str, str]:
        """The root user's ``(email, password)`` for HTTP basic auth."""
        return self.root_email, self.root_password

    # clock -----------------------------------------------------------------------------------
    def now_us(self) -> int:
        """Current time in µs as the server sees it (fixed clock, else the injected one)."""
        fixed = self._fixed_now_us
        return fixed if fixed is not None else int(self._clock() * 1_000_000)

    def set_clock(self, now_us: int | None) -> None:
        """Fix the server's time at ``now_us``; ``None`` returns to the injected clock."""
        with self._lock:
            self._fixed_now_us = now_us

    # faults and limits -----------------------------------------------------------------------
    def fail_next(self, count: int, status: int, message: str | None = None) -> None:
        """Answer the next ``count`` ingestion requests with ``status`` and OpenObserve's body
        for it (``message`` overrides the text). Raises :class:`ValueError` for 429."""
        burst = make_burst(count, status, message)
        with self._lock:
            self._faults.burst = burst

    def set_latency(self, seconds: float, first_n: int | None = None) -> None:
        """Delay every ``/api`` request by ``seconds`` (only the next ``first_n`` if set)."""
        with self._lock:
            self._faults.latency = Latency(seconds, first_n) if seconds > 0 else None

    def fail_records(
        self,
        *,
        every_kth: int | None = None,
        field: str | None = None,
        value: Any = None,
        error: str | None = None,
        error_type: str | None = None,
        bulk_status: int = 422,
    ) -> None:
        """Fail every ``every_kth`` document of each request and/or documents whose
        ``field`` equals ``value``: counted failed (``_json``/``_multi``) or answered
        ``bulk_status`` per item (``_bulk``)."""
        rule = make_record_failure(
            every_kth=every_kth,
            field=field,
            value=value,
            error=error,
            error_type=error_type,
            bulk_status=bulk_status,
        )
        with self._lock:
            self._faults.record_failure = rule

    def drop_silently(self, enabled: bool = True) -> None:
        """While enabled, the write stage keeps nothing and reports nothing: 200, 0/0."""
        with self._lock:
            self._faults.silent_drop = enabled

    def set_payload_limit(self, limit_bytes: int) -> None:
        """``ZO_PAYLOAD_LIMIT``: larger bodies (sent or decoded) are answered 413."""
        with self._lock:
            self._payload_limit = limit_bytes

    def set_time_window(
        self, upto_hours: int | None = None, in_future_hours: int | None = None
    ) -> None:
        """``ZO_INGEST_ALLOWED_UPTO`` / ``ZO_INGEST_ALLOWED_IN_FUTURE`` in hours."""
        with self._lock:
            if upto_hours is not None:
                self._upto_hours = upto_hours
            if in_future_hours is not None:
                self._future_hours = in_future_hours

    def set_ingestion_passcode(self, passcode: str | None) -> None:
        """The root user's ingestion passcode (``None``: no passcode accepted)."""
        with self._lock:
            self._passcode = passcode

    def set_zstd_unsupported(self, enabled: bool) -> None:
        """Answer ``Content-Encoding: zstd`` with 415, as post-0.15 axum builds did."""
        with self._lock:
            self._zstd_unsupported = enabled

    def set_column_limit(self, columns: int) -> None:
        """``ZO_COLS_PER_RECORD_LIMIT``: batches with more columns are dropped silently."""
        with self._lock:
            self._column_limit = columns

    def reset_faults(self) -> None:
        """Switch every fault off (limits keep their current values)."""
        with self._lock:
            self._faults = Faults()

    def reset(self) -> None:
        """Return to the state right after construction: faults off, limits and clock as
        constructed, no streams, dashboards, alerts or logged requests."""
        with self._lock:
            self._faults = Faults()
            self._apply_limits(self._defaults)
            self._fixed_now_us = None
            self._store.clear()
            for org in self._initial_orgs:
                self._store.ensure_org(org)
            self._catalog.clear()
            self._requests.clear()

    def apply_faults(self, update: dict[str, Any]) -> None:
        """Apply the JSON of ``POST /_contract/faults``; raises :class:`ValueError` (a
        ``FaultError``) for a bad key or value, before changing anything."""
        update = parse_fault_update(update)
        actions: list[Callable[[], None]] = []
        try:
            if "fail_next" in update:
                spec = update["fail_next"]
                if spec is None:
                    actions.append(self._clear_burst)
                else:
                    burst = make_burst(
                        int(spec.get("count", 1)), int(spec["status"]), spec.get("message")
                    )
                    actions.append(lambda: setattr(self._faults, "burst", burst))
            if "latency" in update:
                spec = update["latency"]
                seconds = 0.0 if spec is None else float(spec["seconds"])
                first_n = None if spec is None else spec.get("first_n")
                actions.append(lambda: self.set_latency(seconds, first_n))
            if "record_failure" in update:
                spec = update["record_failure"]
                rule = None if spec is None else make_record_failure(**spec)
                actions.append(lambda: setattr(self._faults, "record_failure", rule))
            if "silent_drop" in update:
                flag = bool(update["silent_drop"])
                actions.append(lambda: self.drop_silently(flag))
            if "payload_limit_bytes" in update:
                limit = int(update["payload_limit_bytes"])
                actions.append(lambda: self.set_payload_limit(limit))
            if "ingest_allowed_upto_hours" in update:
                upto = int(update["ingest_allowed_upto_hours"])
                actions.append(lambda: self.set_time_window(upto_hours=upto))
            if "ingest_allowed_in_future_hours" in update:
                future = int(update["ingest_allowed_in_future_hours"])
                actions.append(lambda: self.set_time_window(in_future_hours=future))
            if "ingestion_passcode" in update:
                passcode = update["ingestion_passcode"]
                actions.append(lambda: self.set_ingestion_passcode(passcode))
            if "zstd_unsupported" in update:
                zstd_off = bool(update["zstd_unsupported"])
                actions.append(lambda: self.set_zstd_unsupported(zstd_off))
            if "column_limit" in update:
                columns = int(update["column_limit"])
                actions.append(lambda: self.set_column_limit(columns))
        except (KeyError, TypeError, AttributeError) as exc:
            raise FaultError(f"malformed fault setting: {exc!r}") from exc
        with self._lock:
            for action in actions:
                action()

    def _apply_limits(self, limits: _Limits) -> None:
        self._upto_hours = limits.upto_hours
        self._future_hours = limits.future_hours
        self._payload_limit = limits.payload_limit
        self._passcode = limits.passcode
        self._zstd_unsupported = limits.zstd_unsupported
        self._column_limit = limits.column_limit

    def _clear_burst(self) -> None:
        self._faults.burst = None

    def describe_faults(self) -> dict[str, Any]:
        """Current faults and limits, as ``GET /_contract/faults`` shows them."""
        with self._lock:
            return {
                **self._faults.describe(),
                "payload_limit_bytes": self._payload_limit,
                "ingest_allowed_upto_hours": self._upto_hours,
                "ingest_allowed_in_future_hours": self._future_hours,
                "ingestion_passcode": self._passcode,
                "zstd_unsupported": self._zstd_unsupported,
                "column_limit": self._column_limit,
                "fixed_now_us": self._fixed_now_us,
            }

    # inspection ------------------------------------------------------------------------------
    def records(
        self, org: str, stream: str, where: tuple[str, str, bool] | None = None
    ) -> list[dict[str, Any]]:
        """Every stored row of ``org``/``stream`` (stream name normalised) in arrival order;
        ``where`` = ``(column, text, is_prefix)`` keeps the rows whose column equals (or starts
        with) the text."""
        with self._lock:
            if not self._store.has_org(org):
                return []
            return self._store.rows(org, format_stream_name(stream), where)

    def requests(self) -> list[dict[str, Any]]:
        """The request log, oldest first (bounded by ``request_log_size``)."""
        with self._lock:
            return [dict(r) for r in self._requests]

    def _log(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._requests.append(entry)

    # request handling ------------------------------------------------------------------------
    def _authenticate(self, header: str | None, ingestion: bool) -> str | None:
        if not header or not header.startswith("Basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        email, sep, secret = decoded.partition(":")
        if not sep or email.lower() != self.root_email:
            return None
        with self._lock:
            passcode = self._passcode
        if secret == self.root_password or (ingestion and passcode and secret == passcode):
            return self.root_email
        return None

    def _decode(self, body: bytes, encoding: str, limit: int) -> _Reply | bytes:
        encoding = encoding.strip().lower()
        if encoding in ("", "identity"):
            return body
        try:
            if encoding in ("gzip", "x-gzip"):
                return self._inflate(zlib.decompressobj(16 + zlib.MAX_WBITS), body, limit)
            if encoding == "deflate":
                # RFC 9110 "deflate" is zlib-wrapped, but some clients send raw deflate.
                try:
                    return self._inflate(zlib.decompressobj(zlib.MAX_WBITS), body, limit)
                except zlib.error:
                    return self._inflate(zlib.decompressobj(-zlib.MAX_WBITS), body, limit)
        except zlib.error as exc:
            return _Reply.error(400, f"Error# failed to decode {encoding} body: {exc}")
        except _TooLarge:
            return _Reply.error(413, DEFAULT_STATUS_MESSAGES[413])
        if encoding == "zstd":
            with self._lock:
                refused = self._zstd_unsupported
            decoder = _zstd_decoder()
            if decoder is not None and not refused:
                data = decoder.decompress(body)
                if not isinstance(data, bytes) or len(data) > limit:
                    return _Reply.error(413, DEFAULT_STATUS_MESSAGES[413])
                return data
        return _Reply.error(415, f"Unsupported Content-Encoding: {encoding}")

    @staticmethod
    def _inflate(decoder: Any, body: bytes, limit: int) -> bytes:
        # Bounded so that a small compressed body cannot exhaust memory.
        data: bytes = decoder.decompress(body, limit + 1)
        if len(data) > limit or decoder.unconsumed_tail:
            raise _TooLarge
        data += decoder.flush()
        if len(data) > limit:
            raise _TooLarge
        if not decoder.eof:
            raise zlib.error("truncated stream")
        return data

    def _ingest_context(self) -> IngestContext:
        rule = self._faults.record_failure

        def fault(record: PendingRecord) -> RecordOutcome | None:
            return None if rule is None else rule.check(record)

        return IngestContext(
            now_us=self.now_us(),
            upto_hours=self._upto_hours,
            future_hours=self._future_hours,
            column_limit=self._column_limit,
            silent_drop=self._faults.silent_drop,
            fault=fault,
        )

    def _handle_ingest(self, action: str, req: _Request, entry: dict[str, Any]) -> _Reply:
        org = req.params[0]
        counts = IngestCounts()
        try:
            if action == "ingest_bulk":
                with self._lock:
                    if self._store.total_rows >= self._store.max_rows:
                        return _Reply.error(503, DEFAULT_STATUS_MESSAGES[503])
                    payload, counts = ingest_bulk(
                        self._store, org, req.body, self._ingest_context()
                    )
            else:
                parse = parse_json_body if action == "ingest_json" else parse_multi_body
                docs = parse(req.body)
                with self._lock:
                    if self._store.total_rows >= self._store.max_rows:
                        return _Reply.error(503, DEFAULT_STATUS_MESSAGES[503])
                    payload, counts = ingest_documents(
                        self._store,
                        org,
                        req.params[1],
                        docs,
                        self._ingest_context(),
                        len(req.body),
                    )
        except BadRequest as exc:
            return _Reply.error(400, str(exc))
        finally:
            entry.update(
                received=counts.received,
                successful=counts.successful,
                failed=counts.failed,
                streams=counts.streams,
            )
        return _Reply.json(200, payload)

    def handle(
        self,
        method: str,
        raw_path: str,
        headers: dict[str, str],
        read_body: Callable[[int], bytes | None],
    ) -> _Reply:
        """Answer one HTTP request; ``read_body(limit)`` returns the body, or ``None`` when the
        sent length already exceeds ``limit``. Never raises for client errors."""
        split = urlsplit(raw_path)
        path = split.path
        query = parse_qs(split.query)
        route = next((r for r in _ROUTES if r.method == method and r.pattern.match(path)), None)
        if route is None:
            known = any(r.pattern.match(path) for r in _ROUTES)
            return _Reply.error(405 if known else 404, "Method Not Allowed" if known else "")
        match = route.pattern.match(path)
        assert match is not None
        params = tuple(unquote(p) for p in match.groups())
        if route.kind == "health":
            return _Reply.json(200, {"status": "ok"})
        if route.kind == "admin":
            body = read_body(64 * MIB) or b""
            return self._admin(route.action, _Request(method, path, params, query, body, ""))
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": split.query,
            "org": params[0],
            "endpoint": route.action,
            "content_encoding": headers.get("content-encoding", ""),
        }
        try:
            reply = self._handle_api(route, method, path, params, query, headers, read_body, entry)
        except Exception as exc:  # a bug here must still answer, as OpenObserve's 500 does
            reply = _Reply.error(500, f"Error# {exc!r}")
        entry["status"] = reply.status
        self._log(entry)
        return reply

    def _handle_api(
        self,
        route: _Route,
        method: str,
        path: str,
        params: tuple[str, ...],
        query: dict[str, list[str]],
        headers: dict[str, str],
        read_body: Callable[[int], bytes | None],
        entry: dict[str, Any],
    ) -> _Reply:
        with self._lock:
            delay = self._faults.take_latency()
        if delay > 0:
            # The server itself is slow here; the test waits on its HTTP client, not on us.
            time.sleep(delay)
        ingestion = route.kind == "ingest"
        if ingestion:
            with self._lock:
                burst = self._faults.take_burst()
            if burst is not None:
                entry["fault"] = "fail_next"
                return _Reply.error(burst.status, burst.message)
        user = self._authenticate(headers.get("authorization"), ingestion)
        if user is None:
            return _Reply.text(401, "Unauthorized Access")
        org = params[0]
        with self._lock:
            known_org = self._store.has_org(org)
            if not known_org and ingestion:
                # OpenObserve creates an unknown organisation on the root user's ingestion.
                self._store.ensure_org(org)
                known_org = True
            limit = self._payload_limit
        if not known_org:
            return _Reply.text(404, "Organization not found")
        raw = read_body(limit)
        if raw is None:
            return _Reply.error(413, DEFAULT_STATUS_MESSAGES[413])
        entry["body_bytes"] = len(raw)
        decoded = self._decode(raw, headers.get("content-encoding", ""), limit)
        if isinstance(decoded, _Reply):
            return decoded
        entry["decoded_bytes"] = len(decoded)
        req = _Request(method, path, params, query, decoded, user)
        if ingestion:
            return self._handle_ingest(route.action, req, entry)
        try:
            return self._api(route.action, req)
        except BadRequest as exc:
            return _Reply.error(400, str(exc))

    # non-ingestion API -----------------------------------------------------------------------
    def _api(self, action: str, req: _Request) -> _Reply:
        org = req.params[0]
        if action == "search":
            return self._search(org, req)
        if action == "list_streams":
            with self._lock:
                listed = [s.describe() for s in self._store.streams(org)]
            if req.arg("type") not in (None, "logs"):
                listed = []
            return _Reply.json(200, {"list": listed, "total": len(listed)})
        if action in ("get_stream", "create_stream", "update_settings"):
            return self._stream_api(action, org, format_stream_name(req.params[1]), req)
        with self._lock:
            status, payload = self._catalog_call(action, org, req)
        return _Reply.json(status, payload)

    def _catalog_call(self, action: str, org: str, req: _Request) -> tuple[int, Any]:
        cat = self._catalog
        folder = req.arg("folder") or "default"
        if action == "create_dashboard":
            return cat.create_dashboard(org, folder, req.json(), req.user)
        if action == "list_dashboards":
            return cat.list_dashboards(org, req.arg("folder"), req.arg("title"))
        if action == "get_dashboard":
            return cat.get_dashboard(org, req.params[1])
        if action == "update_dashboard":
            return cat.update_dashboard(org, req.params[1], req.json(), req.arg("hash"))
        if action == "delete_dashboard":
            return cat.delete_dashboard(org, req.params[1])
        if action == "create_template":
            return cat.create_template(org, req.json())
        if action == "list_templates":
            return cat.list_templates(org)
        if action == "create_destination":
            return cat.create_destination(org, req.json())
        if action == "list_destinations":
            return cat.list_destinations(org)
        if action == "create_alert":
            return cat.create_alert(org, folder, req.json(), req.user)
        if action == "list_alerts":
            return cat.list_alerts(org, req.arg("folder"))
        raise AssertionError(action)

    def _stream_api(self, action: str, org: str, stream: str, req: _Request) -> _Reply:
        with self._lock:
            if action == "get_stream":
                table = self._store.stream(org, stream)
                if table is None:
                    return _Reply.error(404, "stream not found")
                return _Reply.json(200, table.describe())
            body = req.json()
            if not isinstance(body, dict):
                return _Reply.error(400, "Json deserialize error: expected a JSON object")
            try:
                if action == "create_stream":
                    self._store.create_stream(
                        org,
                        stream,
                        body.get("fields") or [],
                        body.get("settings") or {},
                        self.now_us(),
                    )
                    return _Reply.json(200, {"code": 200, "message": "stream created"})
                self._store.update_settings(org, stream, body)
            except SettingsError as exc:
                return _Reply.error(400, str(exc))
            except KeyError:
                return _Reply.json(404, {"code": 404, "message": "stream not found"})
            return _Reply.json(200, {"code": 200, "message": ""})

    def _search(self, org: str, req: _Request) -> _Reply:
        started = time.monotonic()
        body = req.json()
        query = body.get("query") if isinstance(body, dict) else None
        if not isinstance(query, dict) or not isinstance(query.get("sql"), str):
            return _Reply.json(
                400, {"code": 20011, "message": "Invalid parameters", "error_detail": "query.sql"}
            )
        try:
            start = int(query.get("start_time") or 0)
            end = int(query.get("end_time") or 0) or self.now_us()
            offset = int(query.get("from") or 0)
            size = int(query.get("size", DEFAULT_QUERY_LIMIT))
        except (TypeError, ValueError):
            return _Reply.json(400, {"code": 20011, "message": "Invalid parameters"})
        try:
            prepared = prepare_query(query["sql"], start, end, offset, size)
        except UnsupportedSql as exc:
            return _Reply.json(
                400, {"code": 20001, "message": "Search SQL not valid", "error_detail": str(exc)}
            )
        stream = prepared.stream
        with self._lock:
            table = self._store.stream(org, stream)
            if table is None or req.arg("type") not in (None, "logs"):
                return _Reply.json(
                    400,
                    {
                        "code": 20002,
                        "message": f"Search stream not found: {stream}",
                        "error_detail": "",
                    },
                )
            try:
                hits = self._store.query(org, prepared)
            except sqlite3.Error as exc:
                text = str(exc)
                if text.startswith("no such column: "):
                    column = text.removeprefix("no such column: ")
                    return _Reply.json(
                        400,
                        {
                            "code": 20004,
                            "message": f"Search field not found: {column}",
                            "error_detail": column,
                        },
                    )
                return _Reply.json(
                    400,
                    {"code": 20008, "message": "Search SQL execute error", "error_detail": text},
                )
            scan_size = int(table.storage_bytes // MIB)
            scan_records = table.doc_num
        return _Reply.json(
            200,
            {
                "took": int((time.monotonic() - started) * 1000),
                "hits": hits,
                "total": len(hits),
                "from": offset,
                "size": size,
                "cached_ratio": 0,
                "scan_size": scan_size,
                "idx_scan_size": 0,
                "scan_records": scan_records,
                "is_partial": False,
                "result_cache_ratio": 0,
            },
        )

    # admin API -------------------------------------------------------------------------------
    def _admin(self, action: str, req: _Request) -> _Reply:
        try:
            if action == "admin_get_faults":
                return _Reply.json(200, self.describe_faults())
            if action == "admin_set_faults":
                self.apply_faults(req.json())
                return _Reply.json(200, self.describe_faults())
            if action == "admin_clear_faults":
                self.reset_faults()
                return _Reply.json(200, self.describe_faults())
            if action == "admin_reset":
                body = req.json() if req.body else {}
                if isinstance(body, dict) and body.get("data"):
                    self.reset()
                else:
                    self.reset_faults()
                return _Reply.json(200, {"reset": True})
            if action == "admin_clock":
                body = req.json()
                if not isinstance(body, dict) or "now_us" not in body:
                    return _Reply.json(400, {"error": 'expected {"now_us": int | null}'})
                now = body["now_us"]
                self.set_clock(None if now is None else int(now))
                return _Reply.json(200, {"now_us": self.now_us()})
            if action == "admin_records":
                org, stream = req.arg("org") or "default", req.arg("stream")
                if not stream:
                    return _Reply.json(400, {"error": "stream is required"})
                column, equals, prefix = req.arg("field"), req.arg("equals"), req.arg("prefix")
                where: tuple[str, str, bool] | None = None
                if column:
                    if (equals is None) == (prefix is None):
                        return _Reply.json(400, {"error": "field needs one of equals, prefix"})
                    if prefix is not None:
                        where = (column, prefix, True)
                    elif equals is not None:
                        where = (column, equals, False)
                elif equals is not None or prefix is not None:
                    return _Reply.json(400, {"error": "equals and prefix need field"})
                return _Reply.json(
                    200,
                    {
                        "org": org,
                        "stream": format_stream_name(stream),
                        "records": self.records(org, stream, where),
                    },
                )
            if action == "admin_requests":
                return _Reply.json(200, {"requests": self.requests()})
        except (BadRequest, FaultError, ValueError, TypeError) as exc:
            return _Reply.json(400, {"error": str(exc)})
        raise AssertionError(action)


class _TooLarge(Exception):
    pass


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # Idle keep-alive connections must not make server_close() wait for their threads.
    block_on_close = False
    contract: OpenObserveContractServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "OpenObserveContract/0.15"
    # An idle keep-alive connection gives up its thread after this long.
    timeout = 60
    # Headers and body go out in two writes; with Nagle on, the second waits ~40 ms for an ACK.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        # The request log (GET /_contract/requests) replaces per-request stderr lines.
        return

    def _read_body(self, limit: int) -> bytes | None:
        """The request body, or ``None`` (body discarded) when it is longer than ``limit``."""
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked(limit)
        length = int(self.headers.get("Content-Length") or 0)
        if length > limit:
            self._discard(length)
            return None
        return self.rfile.read(length) if length else b""

    def _discard(self, length: int) -> None:
        # Reading what the client still sends lets it see our answer instead of a reset
        # connection; past _DISCARD_MAX_BYTES closing the connection is cheaper.
        if length > _DISCARD_MAX_BYTES:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                break
            length -= len(chunk)

    def _read_chunked(self, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        total = 0
        while True:
            size_line = self.rfile.readline(1024)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks) if total <= limit else None
            total += size
            if total > _DISCARD_MAX_BYTES:
                self.close_connection = True
                return None
            if total > limit:
                chunks.clear()
                self._discard(size)
            else:
                chunks.append(self.rfile.read(size))
            self.rfile.readline(16)

    def _serve(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        consumed: list[bool] = []

        def read_body(limit: int) -> bytes | None:
            consumed.append(True)
            return self._read_body(limit)

        reply = self.server.contract.handle(self.command, self.path, headers, read_body)
        if not consumed:
            # Answered before reading the body (401, 404, bursts): drain it for keep-alive.
            self._read_body(0)
        self.send_response(reply.status, HTTPStatus(reply.status).phrase)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve


def main(argv: Sequence[str] | None = None) -> int:
    """Run the contract server until SIGTERM or SIGINT; returns the exit status (0)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.contract.openobserve_server", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the bound port here once listening")
    parser.add_argument("--user", default=DEFAULT_ROOT_EMAIL, help="root user's email")
    parser.add_argument("--password", default=DEFAULT_ROOT_PASSWORD)
    parser.add_argument("--org", action="append", default=[], help="an extra organisation")
    parser.add_argument("--ingest-allowed-upto-hours", type=int, default=5)
    parser.add_argument("--ingest-allowed-in-future-hours", type=int, default=24)
    parser.add_argument("--payload-limit-bytes", type=int, default=DEFAULT_PAYLOAD_LIMIT_BYTES)
    parser.add_argument("--ingestion-passcode", default=None)
    parser.add_argument("--zstd-unsupported", action="store_true", help="answer zstd with 415")
    parser.add_argument("--column-limit", type=int, default=1000)
    parser.add_argument("--max-rows", type=int, default=5_000_000)
    args = parser.parse_args(argv)

    server = OpenObserveContractServer(
        host=args.host,
        port=args.port,
        root_email=args.user,
        root_password=args.password,
        orgs=("default", *args.org),
        ingest_allowed_upto_hours=args.ingest_allowed_upto_hours,
        ingest_allowed_in_future_hours=args.ingest_allowed_in_future_hours,
        payload_limit_bytes=args.payload_limit_bytes,
        ingestion_passcode=args.ingestion_passcode,
        zstd_unsupported=args.zstd_unsupported,
        column_limit=args.column_limit,
        max_rows=args.max_rows,
    )
    server.bind()

    def on_signal(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever to return, so it must not run on its thread.
        threading.Thread(target=server.stop, name="contract-stop", daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.port_file is not None:
        tmp = args.port_file.with_name(args.port_file.name + ".tmp")
        tmp.write_text(str(server.port))
        os.replace(tmp, args.port_file)  # readers never see a half-written port
    print(f"openobserve contract server listening on {server.url}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
