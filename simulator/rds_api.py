"""The moto extension: RDS log-file API served from the simulator's data directory.

``python -m devstack.moto_server --extension simulator.rds_api:install`` (the local stack
always loads it) calls :func:`install` once before the server starts. It changes moto in
memory only, in that process:

- ``RDSResponse.describe_db_log_files`` lists the real files of
  ``<data_dir>/<instance>/`` with real ``Size`` and ``LastWritten`` (mtime rounded down to
  ``last_written_granularity_ms``), honouring ``FilenameContains``, ``FileLastWritten``
  (files whose reported LastWritten is at or after it), ``FileSize`` (files larger than it),
  ``MaxRecords`` and ``Marker``; ``DBInstanceNotFound`` for an instance moto does not know.
- ``RDSResponse.download_db_log_file_portion`` (moto has none) follows
  :mod:`simulator.portions`; ``DBLogFileNotFoundFault`` for a missing file; a page that ends
  a rotated file returns Marker ``"0"`` (``zero_marker_at_segment_end``); a page that is not
  UTF-8 text that XML can carry is refused as binary data, as RDS does.
- ``RDSResponse.call_action`` is wrapped for every RDS action: the request log, throttling
  (:class:`~simulator.faults.Throttle`, :class:`~simulator.faults.Budget`) and the other
  faults. Calls signed with :data:`~simulator.requestlog.SIMULATOR_ACCESS_KEY_ID` pass
  untouched.
- The WSGI dispatcher gains two routes ahead of moto's own: the admin API under
  ``/_simulator/`` (:mod:`simulator.admin`) and the REST download
  ``GET {prefix}downloadCompleteLogFile/{instance}/{LogFileName}`` for each configured prefix
  (``/v13/``, ``/v19/``), which streams the whole file. Like moto, it does not verify
  signatures, but it requires a SigV4 ``Authorization`` header (or presigned query) and
  answers 403 ``MissingAuthenticationToken`` without one.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from simulator.faults import (
    BinaryData,
    Gap,
    Latency,
    Overlap,
    RotateMidRead,
    Throttle,
    Truncate,
)
from simulator.files import stat_settled
from simulator.portions import (
    MarkerError,
    lines_back,
    lines_forward,
    make_marker,
    parse_marker,
    read_page,
    tail_offset,
    truncate_page,
)
from simulator.requestlog import RequestRecord, access_key_id_of
from simulator.server import RotationRequest, SimulatorServer, set_server
from simulator.settings import load_server_settings

__all__ = ["BINARY_DATA_MESSAGE", "install"]

BINARY_DATA_MESSAGE = "This file contains binary data and should be downloaded instead of viewed."
_XML_NAMESPACE = "http://rds.amazonaws.com/doc/2014-10-31/"
# Characters XML 1.0 cannot carry (and that botocore's parser would reject).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ERROR_CODE = re.compile(r"<Code>([^<]+)</Code>")
_STREAM_CHUNK = 1 << 16

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


@dataclass
class _Notes:
    """What a handler tells the request log about the answer it gave."""

    fault: str | None = None
    bytes: int = 0
    next_marker: str | None = None
    pending: bool | None = None


def error_xml(code: str, message: str) -> str:
    """An RDS (query protocol) error document."""
    return (
        f'<ErrorResponse xmlns="{_XML_NAMESPACE}"><Error><Type>Sender</Type>'
        f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )


# moto's classes are imported inside install(): importing this module must not need moto's
# server extras (the writer side imports simulator.* without them).


def install() -> None:
    """Load the simulator into this moto process (idempotent per process)."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.rds.exceptions import DBInstanceNotFoundError, InvalidParameterValue, RDSClientError
    from moto.rds.responses import RDSResponse

    from simulator.admin import admin_app

    if getattr(RDSResponse, "_aurora_simulator_installed", False):
        return
    server = SimulatorServer(load_server_settings())
    set_server(server)

    class DBLogFileNotFoundFault(RDSClientError):
        def __init__(self, name: str, instance: str) -> None:
            super().__init__(
                "DBLogFileNotFoundFault",
                f"DBLog File: {name}, is not found on the DB instance, {instance}",
            )

    def require_instance(response: Any, instance: str) -> None:
        if instance not in response.backend.databases:
            raise DBInstanceNotFoundError(instance)

    def describe_db_log_files(response: Any) -> Any:
        from moto.core.responses import ActionResult

        params = response.params
        instance = params["DBInstanceIdentifier"]
        require_instance(response, instance)
        config = server.config
        granularity = config.last_written_granularity_ms
        contains = params.get("FilenameContains")
        since_ms = params.get("FileLastWritten")
        larger_than = params.get("FileSize")
        notes: _Notes = getattr(response, "_simulator_notes", None) or _Notes()
        rows = []
        for info in server.list_files(instance):
            size, mtime_ns = info.size, info.mtime_ns
            snapshot = server.faults.stale_snapshot(instance, info.name, (size, mtime_ns))
            if snapshot is not None:
                size, mtime_ns = snapshot
                notes.fault = "stale"
            last_written = mtime_ns // 1_000_000 // granularity * granularity
            if contains is not None and contains not in info.name:
                continue
            if since_ms is not None and last_written < since_ms:
                continue
            if larger_than is not None and size <= larger_than:
                continue
            rows.append((info.name, last_written, size))
        after = _decode_page_marker(params.get("Marker"))
        if after is not None:
            rows = [row for row in rows if row[0] > after]
        limit = min(int(params.get("MaxRecords") or config.describe_page_size), 1000)
        page, rest = rows[:limit], rows[limit:]
        result: dict[str, Any] = {
            "DescribeDBLogFiles": [
                {"LogFileName": name, "LastWritten": written, "Size": size}
                for name, written, size in page
            ]
        }
        if rest:
            result["Marker"] = _encode_page_marker(page[-1][0])
        return ActionResult(result)

    def download_db_log_file_portion(response: Any) -> Any:
        from moto.core.responses import ActionResult

        params = response.params
        instance = params["DBInstanceIdentifier"]
        name = params["LogFileName"]
        marker = params.get("Marker")
        lines = params.get("NumberOfLines")
        notes: _Notes = getattr(response, "_simulator_notes", None) or _Notes()
        require_instance(response, instance)
        path = server.path_for(instance, name)
        if path is None or not path.is_file():
            raise DBLogFileNotFoundFault(name, instance)
        config = server.config
        action = "DownloadDBLogFilePortion"
        faults = server.faults
        try:
            f = path.open("rb")
        except FileNotFoundError:
            raise DBLogFileNotFoundFault(name, instance) from None
        with f:
            stat = stat_settled(f.fileno())
            size, mtime_ns = stat.st_size, stat.st_mtime_ns
            snapshot = faults.stale_snapshot(instance, name, (size, mtime_ns))
            if snapshot is not None:
                size, mtime_ns = min(size, snapshot[0]), snapshot[1]
                notes.fault = "stale"
            if faults.fire(BinaryData, instance=instance, file=name, action=action):
                notes.fault = "binary_data"
                raise InvalidParameterValue(BINARY_DATA_MESSAGE)
            max_lines = None
            if marker is None:
                start = tail_offset(f, size, lines if lines is not None else config.tail_lines)
            else:
                try:
                    start = parse_marker(marker)
                except MarkerError as exc:
                    raise InvalidParameterValue(str(exc)) from None
                max_lines = lines
                if start > 0:
                    moved = _shift_for_fault(server, f, start, size, instance, name)
                    if moved is not None:
                        start, notes.fault = moved
            page = read_page(f, start, size, cap=config.page_cap_bytes, max_lines=max_lines)
            if page.pending and faults.fire(Truncate, instance=instance, file=name, action=action):
                page = truncate_page(f, start, cap=config.page_cap_bytes)
                notes.fault = "truncate"
        try:
            text = page.data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidParameterValue(BINARY_DATA_MESSAGE) from None
        if _NOT_XML.search(text):
            raise InvalidParameterValue(BINARY_DATA_MESSAGE)
        if (
            not page.pending
            and page.end >= size
            and config.zero_marker_at_segment_end
            and server.is_rotated(instance, name)
        ):
            next_marker = "0"
        else:
            next_marker = make_marker(name, mtime_ns, page.end)
        if page.pending:
            rotate = faults.fire(RotateMidRead, instance=instance, file=name, action=action)
            if rotate is not None:
                server.request_rotation(RotationRequest(instance, name, rotate.id))
        notes.bytes = len(page.data)
        notes.next_marker = next_marker
        notes.pending = page.pending
        return ActionResult(
            {"LogFileData": text, "Marker": next_marker, "AdditionalDataPending": page.pending}
        )

    original_call_action = RDSResponse.call_action

    def call_action(response: Any) -> Any:
        authorization = response.headers.get("Authorization")
        key = access_key_id_of(authorization)
        if key in server.exempt_access_key_ids:
            return original_call_action(response)
        received = time.time()
        started = time.perf_counter()
        action = response._get_action()
        params = getattr(response, "params", None) or {}
        instance = params.get("DBInstanceIdentifier")
        file = params.get("LogFileName")
        notes = _Notes()
        response._simulator_notes = notes
        refused = server.faults.over_budget(instance=instance, file=file, action=action)
        if refused is None:
            refused = server.faults.fire(Throttle, instance=instance, file=file, action=action)
        _delay(server, instance=instance, file=file, action=action)
        if refused is not None:
            status: int = 400
            headers: Any = {"Content-Type": "text/xml"}
            body: str | bytes = error_xml("Throttling", "Rate exceeded")
            outcome, code = "throttled", "Throttling"
            fault: str | None = refused.fault.type
        else:
            status, headers, body = original_call_action(response)
            code = None
            if int(status) >= 400:
                text = body if isinstance(body, str) else body.decode("utf-8", "replace")
                match = _ERROR_CODE.search(text)
                code = match.group(1) if match else str(status)
            fault = notes.fault
            outcome = "fault" if fault else ("error" if code else "ok")
        server.requests.add(
            RequestRecord(
                seq=server.requests.next_seq(),
                wall_time=received,
                action=action,
                access_key_id=key,
                instance=instance,
                file=file,
                marker=params.get("Marker"),
                number_of_lines=params.get("NumberOfLines"),
                outcome=outcome,  # type: ignore[arg-type]
                status=int(status),
                error_code=code,
                fault=fault,
                bytes=notes.bytes,
                next_marker=notes.next_marker,
                pending=notes.pending,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        )
        return status, headers, body

    def download_app(
        environ: dict[str, Any], start_response: StartResponse, prefix: str
    ) -> Iterable[bytes]:
        from moto.iam.models import get_account_id_from
        from moto.rds.models import rds_backends

        received = time.time()
        started = time.perf_counter()
        path_info: str = environ.get("PATH_INFO", "")
        rest = path_info[len(prefix) + len("downloadCompleteLogFile/") :]
        instance, _, name = rest.partition("/")
        authorization = environ.get("HTTP_AUTHORIZATION")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        credential = (query.get("X-Amz-Credential") or [None])[0]
        key = access_key_id_of(authorization, credential)
        exempt = key in server.exempt_access_key_ids
        action = "DownloadCompleteDBLogFile"

        def record(
            outcome: str, status: int, code: str | None, fault: str | None, size: int
        ) -> None:
            if exempt:
                return
            server.requests.add(
                RequestRecord(
                    seq=server.requests.next_seq(),
                    wall_time=received,
                    action=action,
                    access_key_id=key,
                    instance=instance or None,
                    file=name or None,
                    marker=None,
                    number_of_lines=None,
                    outcome=outcome,  # type: ignore[arg-type]
                    status=status,
                    error_code=code,
                    fault=fault,
                    bytes=size,
                    duration_ms=(time.perf_counter() - started) * 1000,
                )
            )

        def fail(
            status: int,
            reason: str,
            code: str,
            message: str,
            outcome: str = "error",
            fault: str | None = None,
        ) -> Iterable[bytes]:
            record(outcome, status, code, fault, 0)
            body = error_xml(code, message).encode()
            start_response(
                f"{status} {reason}",
                [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))],
            )
            return [body]

        if key is None:
            return fail(
                403,
                "Forbidden",
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            )
        if not exempt:
            refused = server.faults.over_budget(instance=instance, file=name, action=action)
            if refused is None:
                refused = server.faults.fire(Throttle, instance=instance, file=name, action=action)
            _delay(server, instance=instance, file=name, action=action)
            if refused is not None:
                return fail(
                    400,
                    "Bad Request",
                    "Throttling",
                    "Rate exceeded",
                    "throttled",
                    refused.fault.type,
                )
        region = _region_of(authorization, credential)
        backend = rds_backends[get_account_id_from(key)][region]
        if instance not in backend.databases:
            return fail(404, "Not Found", "DBInstanceNotFound", f"DBInstance {instance} not found.")
        path = server.path_for(instance, name)
        try:
            if path is None:
                raise FileNotFoundError(name)
            f = path.open("rb")
        except (FileNotFoundError, IsADirectoryError):
            return fail(
                404,
                "Not Found",
                "DBLogFileNotFoundFault",
                f"DBLog File: {name}, is not found on the DB instance, {instance}",
            )
        stat = stat_settled(f.fileno())
        size = stat.st_size
        fault = None
        if not exempt:
            snapshot = server.faults.stale_snapshot(instance, name, (size, stat.st_mtime_ns))
            if snapshot is not None:
                size, fault = min(size, snapshot[0]), "stale"
        record("fault" if fault else "ok", 200, None, fault, size)
        start_response(
            "200 OK",
            [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))],
        )
        return _FileBody(f, size)

    original_dispatch = DomainDispatcherApplication.__call__

    def dispatch(
        self: Any, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        path_info: str = environ.get("PATH_INFO", "")
        if path_info.startswith("/_simulator/"):
            return admin_app(server, environ, start_response)
        if environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            for prefix in server.config.download_path_prefixes:
                if path_info.startswith(f"{prefix}downloadCompleteLogFile/"):
                    return download_app(environ, start_response, prefix)
        result: Iterable[bytes] = original_dispatch(self, environ, start_response)
        return result

    setattr(RDSResponse, "describe_db_log_files", describe_db_log_files)  # noqa: B010
    setattr(RDSResponse, "download_db_log_file_portion", download_db_log_file_portion)  # noqa: B010
    setattr(RDSResponse, "call_action", call_action)  # noqa: B010
    setattr(DomainDispatcherApplication, "__call__", dispatch)  # noqa: B010
    setattr(RDSResponse, "_aurora_simulator_installed", True)  # noqa: B010
    print(f"aurora simulator: serving log files from {server.data_dir}", flush=True)


def _delay(
    server: SimulatorServer, *, instance: str | None, file: str | None, action: str | None
) -> None:
    """Hold the answer back while a matching Latency fault says (the server answers each
    request on a thread of its own, so others are not held up)."""
    late = server.faults.fire(Latency, instance=instance, file=file, action=action)
    if late is not None:
        assert isinstance(late.fault, Latency)
        time.sleep(late.fault.seconds)


def _shift_for_fault(
    server: SimulatorServer, f: Any, start: int, size: int, instance: str, name: str
) -> tuple[int, str] | None:
    """Where a page starts under an Overlap or Gap fault, and which one fired (None: none)."""
    action = "DownloadDBLogFilePortion"
    overlap = server.faults.fire(Overlap, instance=instance, file=name, action=action)
    if overlap is not None and isinstance(overlap.fault, Overlap):
        return lines_back(f, start, overlap.fault.lines), "overlap"
    gap = server.faults.fire(Gap, instance=instance, file=name, action=action)
    if gap is not None and isinstance(gap.fault, Gap):
        return lines_forward(f, start, size, gap.fault.lines), "gap"
    return None


def _region_of(authorization: str | None, credential: str | None) -> str:
    scope = None
    if authorization:
        match = re.search(r"Credential=[^/]+/\d{8}/([^/]+)/", authorization)
        scope = match.group(1) if match else None
    elif credential:
        parts = credential.split("/")
        scope = parts[2] if len(parts) > 2 else None
    return scope or "us-east-1"


def _encode_page_marker(last_name: str) -> str:
    return base64.urlsafe_b64encode(last_name.encode()).decode()


def _decode_page_marker(marker: str | None) -> str | None:
    if not marker:
        return None
    try:
        return base64.urlsafe_b64decode(marker.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        from moto.rds.exceptions import InvalidParameterValue

        raise InvalidParameterValue(f"Invalid marker: {marker}") from None


class _FileBody:
    """A WSGI body streaming the first ``size`` bytes of an open file, then closing it."""

    def __init__(self, f: Any, size: int) -> None:
        self._f = f
        self._size = size

    def __iter__(self) -> Iterator[bytes]:
        remaining = self._size
        while remaining > 0:
            chunk = self._f.read(min(_STREAM_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self._f.close()
