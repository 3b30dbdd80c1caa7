"""The RDS source: DownloadDBLogFilePortion, repaired or replaced by the full-file download.

The portion API is cheap for small increments but fails in known ways
(``shared/reference/rds-logs.md``); each failure is detected and the read falls back to
``GET /v13/downloadCompleteLogFile/{instance}/{file}`` (SigV4, streamed, skipped to the
offset), which returns the file's exact bytes:

==========================================  ==============================================
what happens                                what the source does
==========================================  ==============================================
``[Your log message was truncated]``        fall back from the last good byte (``truncated``)
page overlaps the previous one              drop the repeated bytes (markers say by how much)
page skips bytes                            fall back from the last good byte (``gap``)
``InvalidParameterValue`` (binary data)     fall back (``binary_data``)
a line over 1 MB (never readable by pages)  shows up as truncation or an error: fall back
pending data but nothing comes              stop this round; the next event tries again
no marker for the offset / big catch-up     full download directly (``no_marker``, ``catch_up``)
==========================================  ==============================================

Markers are opaque to AWS's API contract; when one has the observed ``<segment>:<offset>``
shape its offset is used to check that pages join exactly, and otherwise pages are taken as
contiguous. Every call, the full download included, takes a token from the shared RDS budget.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING
from urllib.parse import quote

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from common.errors import (
    AccessDeniedError,
    NotFoundError,
    PermanentError,
    ThrottledError,
    UnavailableError,
)
from common.logs import get_logger
from common.ratelimit import RDS_CALLS, RdsCaller
from processor.metrics import SOURCE_FALLBACKS
from processor.sources import Chunk, FileRef, Position

if TYPE_CHECKING:
    import aioboto3
    from types_aiobotocore_rds.client import RDSClient

__all__ = ["TRUNCATION_MARK", "FullDownload", "RdsSource", "marker_offset"]

log = get_logger(__name__)

TRUNCATION_MARK = b"[Your log message was truncated]"
_MARKER = re.compile(r"^(?P<segment>[^:]*):(?P<offset>\d+)$")


def marker_offset(marker: str | None) -> tuple[str, int] | None:
    """(segment, byte offset) of a marker of the observed ``segment:offset`` shape, else None."""
    if marker is None:
        return None
    match = _MARKER.match(marker)
    if match is None:
        return None
    return match["segment"], int(match["offset"])


class _FallBack(Exception):
    def __init__(self, reason: str, offset: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset


class FullDownload:
    """``GET {path}`` on the RDS endpoint, SigV4-signed with the session's credentials."""

    def __init__(
        self,
        session: aioboto3.Session,
        caller: RdsCaller,
        *,
        region: str,
        endpoint_url: str | None,
        path_template: str,
        chunk_bytes: int,
        timeout_s: float,
    ) -> None:
        self._session = session
        self._caller = caller
        self._region = region
        self._endpoint = (endpoint_url or f"https://rds.{region}.amazonaws.com").rstrip("/")
        self._path_template = path_template
        self._chunk_bytes = chunk_bytes
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout_s, read=timeout_s * 4))

    async def _signed_headers(self, url: str) -> dict[str, str]:
        credentials = self._session.get_credentials()
        if credentials is None:
            raise AccessDeniedError("no AWS credentials for the full-file download")
        frozen = await credentials.get_frozen_credentials()
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(frozen, "rds", self._region).add_auth(request)
        return dict(request.headers.items())

    async def read(self, file: FileRef, offset: int) -> AsyncIterator[Chunk]:
        """The file's bytes from ``offset`` to its end, in chunks (no markers)."""
        path = self._path_template.format(
            instance=quote(file.instance_id, safe=""), file=quote(file.log_file, safe="/")
        )
        url = self._endpoint + path
        await self._caller.budget.acquire()
        headers = await self._signed_headers(url)
        try:
            async with self._http.stream("GET", url, headers=headers) as answer:
                if answer.status_code != 200:
                    RDS_CALLS.labels("DownloadCompleteDBLogFile", "error").inc()
                    await self._refused(answer)
                RDS_CALLS.labels("DownloadCompleteDBLogFile", "ok").inc()
                position = 0
                pending = b""
                async for data in answer.aiter_bytes(self._chunk_bytes):
                    if position + len(data) <= offset:
                        position += len(data)
                        continue
                    if position < offset:
                        data = data[offset - position :]
                        position = offset
                    pending += data
                    if len(pending) >= self._chunk_bytes:
                        yield Chunk(position, pending, Position(position + len(pending)))
                        position += len(pending)
                        pending = b""
                if pending:
                    yield Chunk(position, pending, Position(position + len(pending)))
        except httpx.TransportError as exc:
            raise UnavailableError(f"full download of {file.log_file}: {exc}") from exc

    async def _refused(self, answer: httpx.Response) -> None:
        body = (await answer.aread())[:500].decode("utf-8", errors="replace")
        status = answer.status_code
        if "Throttl" in body or status == 429:
            await self._caller.budget.report_throttled()
            raise ThrottledError(f"full download throttled: {body}")
        if status == 404 or "NotFound" in body:
            raise NotFoundError(f"full download: {status} {body}")
        if status in {401, 403}:
            raise AccessDeniedError(f"full download: {status} {body}")
        if status >= 500:
            raise UnavailableError(f"full download: {status} {body}", reason=f"http_{status}")
        raise PermanentError(f"full download: {status} {body}", reason=f"http_{status}")

    async def aclose(self) -> None:
        await self._http.aclose()


class RdsSource:
    name = "rds"

    def __init__(
        self,
        client: RDSClient,
        caller: RdsCaller,
        full: FullDownload,
        *,
        full_download_threshold_bytes: int,
    ) -> None:
        self._client = client
        self._caller = caller
        self._full = full
        self._threshold = full_download_threshold_bytes

    async def read(self, file: FileRef, start: Position, *, size_hint: int) -> AsyncIterator[Chunk]:
        if start.offset > 0 and start.marker is None:
            reason: str | None = "no_marker"
        elif size_hint - start.offset >= self._threshold:
            reason = "catch_up"
        else:
            reason = None
        if reason is None:
            try:
                async for chunk in self._pages(file, start):
                    yield chunk
                return
            except _FallBack as fallback:
                reason, offset = fallback.reason, fallback.offset
        else:
            offset = start.offset
        SOURCE_FALLBACKS.labels(reason).inc()
        log.info(
            "full_download_started",
            instance=file.instance_id,
            log_file=file.log_file,
            reason=reason,
            offset=offset,
        )
        async for chunk in self._full.read(file, offset):
            yield chunk

    async def _page(self, file: FileRef, marker: str) -> tuple[bytes, str | None, bool]:
        async def request() -> tuple[bytes, str | None, bool]:
            answer = await self._client.download_db_log_file_portion(
                DBInstanceIdentifier=file.instance_id, LogFileName=file.log_file, Marker=marker
            )
            data = answer.get("LogFileData") or ""
            return (
                data.encode("utf-8", errors="surrogateescape"),
                answer.get("Marker"),
                bool(answer.get("AdditionalDataPending")),
            )

        return await self._caller.call("DownloadDBLogFilePortion", request)

    async def _pages(self, file: FileRef, start: Position) -> AsyncIterator[Chunk]:
        marker = start.marker or "0"
        expected = start.marker_offset if start.marker else 0  # where the page for `marker` begins
        needed = start.offset  # the next byte the caller wants (never before `expected`)
        empty_pages = 0
        while True:
            try:
                data, next_marker, pending = await self._page(file, marker)
            except PermanentError as exc:
                if isinstance(exc, NotFoundError | AccessDeniedError):
                    raise
                # InvalidParameterValue "This file contains binary data..." and the like.
                reason = "binary_data" if "binary" in str(exc) else "portion_error"
                raise _FallBack(reason, needed) from exc
            if TRUNCATION_MARK in data:
                raise _FallBack("truncated", needed)
            usable = next_marker if next_marker and next_marker != "0" else None
            parsed = marker_offset(usable)
            page_start = parsed[1] - len(data) if parsed is not None else expected
            page_end = page_start + len(data)
            if page_start > needed:
                raise _FallBack("gap", needed)  # bytes we need were skipped
            fresh = data[needed - page_start :] if needed < page_end else b""
            if fresh:
                needed += len(fresh)
                yield Chunk(needed - len(fresh), fresh, Position(needed, usable, page_end))
                empty_pages = 0
            else:
                empty_pages += 1
            expected = max(expected, page_end)
            if not pending or usable is None:
                return
            if empty_pages >= 3:
                # Pending data that never comes: a known RDS behaviour; the next event retries.
                log.warning("portion_stalled", instance=file.instance_id, log_file=file.log_file)
                return
            marker = usable
