"""The RDS source: DownloadDBLogFilePortion, verified, repaired or replaced by the full download.

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
a line over 1 MB (never readable by pages)  arrives truncated: fall back (``truncated``)
pending data but nothing comes              stop this round; the next event tries again
the name now holds other content            stop before it (see "Same content" below)
a big catch-up                              full download directly (``catch_up``)
==========================================  ==============================================

Same content. A reused name (``mysql-slowquery.log``, ``server_audit.log.1``) can rotate
between two reads, or between two pages of one read, and a marker then points into other
content. So every read goes on from a known line: each page is requested from the start of
the previous page's last line and must begin with exactly those bytes, and a read resumed
from a checkpoint first re-reads the line recorded there (its :class:`Anchor`). Requesting
from a line start means building a marker: RDS markers are opaque by contract but observed as
``<segment>:<byte offset>``, and a changed segment also means other content. When a built
marker does not give the expected bytes, the full download settles it: its exact bytes either
confirm the anchor (reading goes on from there) or prove the content changed, and then the
read stops, to be continued under the file's rotated name from the same checkpoint.

Every call, the full download included, takes a token from the shared RDS budget.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
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
from processor.metrics import READS_CUT_SHORT, SOURCE_FALLBACKS
from processor.sources import (
    Anchor,
    Chunk,
    ContentChangedError,
    FileRef,
    FileStat,
    Position,
    anchor_of,
    digest,
)

if TYPE_CHECKING:
    import aioboto3
    from types_aiobotocore_rds.client import RDSClient

__all__ = ["TRUNCATION_MARK", "FullDownload", "RdsSource"]

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


class _PortionRefused(Exception):
    """The portion API refused the file (binary data and the like): only the full download
    can read it."""


class _FallBack(Exception):
    def __init__(self, reason: str, offset: int, anchor: Anchor | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset
        self.anchor = anchor


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
        # aioboto3's stubs call this synchronous; the library's own session makes it a coroutine.
        credentials: Any = self._session.get_credentials()
        if inspect.isawaitable(credentials):
            credentials = await credentials
        if credentials is None:
            raise AccessDeniedError("no AWS credentials for the full-file download")
        frozen = await credentials.get_frozen_credentials()
        request = AWSRequest(method="GET", url=url)
        SigV4Auth(frozen, "rds", self._region).add_auth(request)
        return dict(request.headers.items())

    async def read(
        self, file: FileRef, offset: int, *, anchor: Anchor | None = None
    ) -> AsyncIterator[Chunk]:
        """The file's bytes from ``offset`` to its end, in chunks (no markers).

        With ``anchor`` (ending at or before ``offset``), its bytes are compared first and
        :class:`ContentChangedError` is raised before anything is yielded if they differ.
        """
        path = self._path_template.format(
            instance=quote(file.instance_id, safe=""), file=quote(file.log_file, safe="/")
        )
        url = self._endpoint + path
        await self._caller.budget.acquire()
        headers = await self._signed_headers(url)
        check_from = anchor.end - anchor.length if anchor is not None else offset
        begin = min(offset, check_from)
        try:
            async with self._http.stream("GET", url, headers=headers) as answer:
                if answer.status_code != 200:
                    RDS_CALLS.labels("DownloadCompleteDBLogFile", "error").inc()
                    await self._refused(answer)
                RDS_CALLS.labels("DownloadCompleteDBLogFile", "ok").inc()
                kept = bytearray()  # bytes from `begin` on, not yet yielded
                position = 0  # absolute offset of the next byte the stream gives
                async for data in answer.aiter_bytes():
                    if position + len(data) <= begin:
                        position += len(data)
                        continue
                    kept += data[max(0, begin - position) :]
                    position += len(data)
                    if anchor is not None:
                        if position < anchor.end:
                            continue
                        seen = bytes(kept[anchor.end - anchor.length - begin : anchor.end - begin])
                        if digest(seen) != anchor.digest:
                            raise ContentChangedError(f"{file.log_file} before {anchor.end}")
                        anchor = None
                    ready = position - offset
                    if ready >= self._chunk_bytes:
                        chunk = bytes(kept[offset - begin :])
                        yield Chunk(offset, chunk, self._position(offset + len(chunk), chunk))
                        offset, begin, kept = offset + len(chunk), offset + len(chunk), bytearray()
                if anchor is not None and position < anchor.end:
                    raise ContentChangedError(f"{file.log_file} is shorter than {anchor.end}")
                rest = bytes(kept[offset - begin :]) if position > offset else b""
                if rest:
                    yield Chunk(offset, rest, self._position(offset + len(rest), rest))
        except httpx.TransportError as exc:
            raise UnavailableError(f"full download of {file.log_file}: {exc}") from exc

    @staticmethod
    def _position(end: int, data: bytes) -> Position:
        return Position(end, None, end, anchor_of(data, end))

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
        offset, anchor = start.offset, start.anchor
        reason = "catch_up" if size_hint - start.offset >= self._threshold else None
        if reason is None:
            try:
                async for chunk in self._pages(file, start):
                    yield chunk
                return
            except _FallBack as fallback:
                reason, offset, anchor = fallback.reason, fallback.offset, fallback.anchor
        SOURCE_FALLBACKS.labels(reason).inc()
        log.info(
            "full_download_started",
            instance=file.instance_id,
            log_file=file.log_file,
            reason=reason,
            offset=offset,
        )
        async for chunk in self._full.read(file, offset, anchor=anchor):
            yield chunk

    async def listing(self, instance_id: str, contains: str) -> dict[str, FileStat]:
        files: dict[str, FileStat] = {}
        marker: str | None = None
        while True:

            async def request(marker: str | None = marker) -> Any:
                return await self._client.describe_db_log_files(
                    DBInstanceIdentifier=instance_id, FilenameContains=contains, Marker=marker or ""
                )

            answer = await self._caller.call("DescribeDBLogFiles", request)
            for entry in answer.get("DescribeDBLogFiles", []):
                name = entry.get("LogFileName")
                if name and contains in name:
                    files[name] = FileStat(
                        int(entry.get("Size", 0)), int(entry.get("LastWritten", 0))
                    )
            marker = answer.get("Marker")
            if not marker:
                return files

    async def _page(
        self, file: FileRef, marker: str, lines: int | None = None
    ) -> tuple[bytes, str | None, bool]:
        async def request() -> tuple[bytes, str | None, bool]:
            kwargs = {"NumberOfLines": lines} if lines is not None else {}
            answer = await self._client.download_db_log_file_portion(
                DBInstanceIdentifier=file.instance_id,
                LogFileName=file.log_file,
                Marker=marker,
                **kwargs,
            )
            data = answer.get("LogFileData") or ""
            return (
                data.encode("utf-8", errors="surrogateescape"),
                answer.get("Marker"),
                bool(answer.get("AdditionalDataPending")),
            )

        try:
            return await self._caller.call("DownloadDBLogFilePortion", request)
        except PermanentError as exc:
            if isinstance(exc, NotFoundError | AccessDeniedError):
                raise
            # InvalidParameterValue "This file contains binary data..." and the like.
            raise _PortionRefused(
                "binary_data" if "binary" in str(exc) else "portion_error"
            ) from exc

    async def _segment(self, file: FileRef) -> str | None:
        """The segment of the file's markers, from a one-line read at its start."""
        _data, marker, _pending = await self._page(file, "0", lines=1)
        parsed = marker_offset(marker if marker != "0" else None)
        return parsed[0] if parsed is not None else None

    async def _pages(self, file: FileRef, start: Position) -> AsyncIterator[Chunk]:
        needed = start.offset  # the next byte the caller wants
        anchor = start.anchor if start.anchor is not None and start.anchor.end <= needed else None

        async def page(marker: str) -> tuple[bytes, str | None, bool]:
            try:
                return await self._page(file, marker)
            except _PortionRefused as refused:
                raise _FallBack(str(refused), needed, anchor) from refused

        stored = marker_offset(start.marker)
        if needed == 0:
            marker, verify, page_from = "0", b"", 0
        else:
            # Go on from a recorded line: the anchor's, else the stored marker's position.
            try:
                segment = stored[0] if stored is not None else await self._segment(file)
            except _PortionRefused as refused:
                raise _FallBack(str(refused), needed, anchor) from refused
            if segment is None:
                raise _FallBack("no_marker", needed, anchor)
            if anchor is not None:
                page_from = anchor.end - anchor.length
            elif start.marker is not None and start.marker_offset <= needed:
                page_from = start.marker_offset
            else:
                raise _FallBack("no_marker", needed, None)
            marker, verify = f"{segment}:{page_from}", b""
        expected_digest = anchor.digest if anchor is not None else None
        empty_pages = 0
        while True:
            data, next_marker, pending = await page(marker)
            if TRUNCATION_MARK in data:
                raise _FallBack("truncated", needed, anchor)
            usable = next_marker if next_marker and next_marker != "0" else None
            parsed = marker_offset(usable)
            sent = marker_offset(marker)
            page_start = parsed[1] - len(data) if parsed is not None else page_from
            if sent is not None and parsed is not None and parsed[0] != sent[0]:
                raise _FallBack("segment_changed", needed, anchor)
            if page_start > page_from:
                raise _FallBack("gap", needed, anchor)
            # The page must begin with the line we asked it to repeat.
            if expected_digest is not None and anchor is not None:
                repeat = data[page_from - page_start : page_from - page_start + anchor.length]
                if digest(repeat) != expected_digest:
                    raise _FallBack("unverified", needed, anchor)
            elif verify:
                repeat = data[page_from - page_start : page_from - page_start + len(verify)]
                if repeat != verify:
                    raise _FallBack("unverified", needed, anchor)
            page_end = page_start + len(data)
            fresh = data[needed - page_start :] if needed < page_end else b""
            if data:
                anchor = anchor_of(data, page_end) or anchor
            if fresh:
                needed += len(fresh)
                resume = Position(needed, usable, page_end, anchor)
                yield Chunk(needed - len(fresh), fresh, resume)
                empty_pages = 0
            else:
                empty_pages += 1
            if not pending or usable is None:
                return
            if empty_pages >= 3:
                # Pending data that never comes: a known RDS behaviour; the next event retries.
                READS_CUT_SHORT.labels("stalled").inc()
                log.warning("portion_stalled", instance=file.instance_id, log_file=file.log_file)
                return
            expected_digest = None
            if parsed is not None and fresh and anchor is not None:
                # Ask for the next page from the start of this page's last line.
                page_from = anchor.end - anchor.length
                verify = data[len(data) - anchor.length :]
                marker = f"{parsed[0]}:{page_from}"
            else:
                # Nothing new on this page (it held only the repeated line: the next one did not
                # fit, e.g. a line over 1 MB), or a marker of unknown shape: go on from where
                # the API says; the content was just verified, or a resumed read verifies it.
                page_from, verify, marker = page_end, b"", usable
