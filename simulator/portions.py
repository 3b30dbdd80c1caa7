"""DownloadDBLogFilePortion's reading rules, on a file on disk (no moto, no HTTP).

- ``Marker="0"`` reads from the start; a marker returned earlier reads on from where that page
  ended. Markers look like ``<segment>:<byte offset>`` as on RDS (``17:13387550``,
  ``2024-01-04.9:0``) and must be treated as opaque by readers.
- No Marker and no NumberOfLines: the last ``tail_lines`` (10,000) lines. NumberOfLines
  without Marker: the last that many lines. NumberOfLines with Marker: at most that many lines
  from the marker.
- A page holds at most ``page_cap`` bytes (1 MB), cut after the last whole line that fits;
  ``AdditionalDataPending`` says whether the file goes on. A single line longer than the cap
  cannot be returned: the page holds its first part followed by
  `` [Your log message was truncated]`` and the next marker skips the rest of that line.
- A marker beyond the end of the file (the name now holds a shorter file) returns nothing.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import BinaryIO

__all__ = [
    "TRUNCATION_TEXT",
    "Portion",
    "clip_utf8",
    "lines_back",
    "lines_forward",
    "make_marker",
    "parse_marker",
    "read_page",
    "segment_of",
    "tail_offset",
    "truncate_page",
]

TRUNCATION_TEXT = b" [Your log message was truncated]"
_CHUNK = 1 << 16
_SEGMENT_SUFFIX = re.compile(r"\.log(?:\.(?P<suffix>.+))?$")


class MarkerError(ValueError):
    """A marker this API never handed out."""


@dataclass(frozen=True, slots=True)
class Portion:
    """One page: the bytes, where it began and ended, and whether the file goes on."""

    data: bytes
    start: int
    end: int  # offset of the first byte not returned: the next page starts here
    pending: bool
    truncated: bool = False


def parse_marker(marker: str) -> int:
    """The byte offset in a marker (``"0"`` or ``"<segment>:<offset>"``)."""
    if marker == "0":
        return 0
    _segment, sep, offset = marker.rpartition(":")
    if not sep or not offset.isdigit():
        raise MarkerError(f"Invalid marker: {marker}")
    return int(offset)


def segment_of(log_file_name: str, mtime_ns: int) -> str:
    """The segment part of a marker: the rotation suffix, or the UTC hour of an active file."""
    match = _SEGMENT_SUFFIX.search(log_file_name)
    if match and match["suffix"]:
        return match["suffix"]
    return str(mtime_ns // 3_600_000_000_000 % 24)


def make_marker(log_file_name: str, mtime_ns: int, offset: int) -> str:
    return f"{segment_of(log_file_name, mtime_ns)}:{offset}"


def clip_utf8(data: bytes, limit: int) -> bytes:
    """``data[:limit]`` without splitting a UTF-8 sequence."""
    if len(data) <= limit:
        return data
    cut = limit
    while cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return data[:cut]


def _pread(f: BinaryIO, offset: int, size: int) -> bytes:
    return os.pread(f.fileno(), size, offset)


def tail_offset(f: BinaryIO, size: int, lines: int) -> int:
    """Where the last ``lines`` lines of the first ``size`` bytes begin."""
    if size <= 0:
        return 0
    # A file ends with a newline: that one closes the last line and is not a boundary.
    position = size - 1 if _pread(f, size - 1, 1) == b"\n" else size
    remaining = lines
    while position > 0:
        start = max(0, position - _CHUNK)
        chunk = _pread(f, start, position - start)
        index = len(chunk)
        while True:
            index = chunk.rfind(b"\n", 0, index)
            if index < 0:
                break
            remaining -= 1
            if remaining == 0:
                return start + index + 1
        position = start
    return 0


def lines_back(f: BinaryIO, offset: int, lines: int) -> int:
    """The start of the line ``lines`` lines before the line that starts at ``offset``."""
    if offset <= 0:
        return 0
    return tail_offset(f, offset, lines)


def lines_forward(f: BinaryIO, offset: int, size: int, lines: int) -> int:
    """The offset just after ``lines`` more newlines from ``offset`` (at most ``size``)."""
    position = offset
    remaining = lines
    while position < size and remaining > 0:
        chunk = _pread(f, position, min(_CHUNK, size - position))
        index = -1
        while remaining > 0:
            index = chunk.find(b"\n", index + 1)
            if index < 0:
                break
            remaining -= 1
        if remaining == 0:
            return position + index + 1
        position += len(chunk)
    return min(position, size)


def read_page(
    f: BinaryIO, start: int, size: int, *, cap: int, max_lines: int | None = None
) -> Portion:
    """The page starting at ``start`` of a file of ``size`` bytes (see the module rules)."""
    if start >= size:
        return Portion(b"", start, start, False)
    available = size - start
    buffer = _pread(f, start, min(available, cap))
    if max_lines is not None:
        index = -1
        for _ in range(max_lines):
            index = buffer.find(b"\n", index + 1)
            if index < 0:
                break
        else:
            buffer = buffer[: index + 1]
            end = start + len(buffer)
            return Portion(buffer, start, end, end < size)
    if len(buffer) == available:
        return Portion(buffer, start, size, False)
    cut = buffer.rfind(b"\n")
    if cut >= 0:
        data = buffer[: cut + 1]
        end = start + len(data)
        return Portion(data, start, end, end < size)
    # One line longer than a page: its head, the RDS marker, and the rest of it is lost.
    data = clip_utf8(buffer, cap - len(TRUNCATION_TEXT)) + TRUNCATION_TEXT
    end = lines_forward(f, start, size, 1)
    return Portion(data, start, end, end < size, truncated=True)


def truncate_page(f: BinaryIO, start: int, *, cap: int) -> Portion:
    """The truncation fault: a page cut at the cap mid-line, marked, with nothing pending."""
    data = clip_utf8(_pread(f, start, cap), cap - len(TRUNCATION_TEXT))
    if data.endswith(b"\n"):
        data = data[:-1]  # the cap fell on a line end: cut inside that line, as the fault says
    return Portion(data + TRUNCATION_TEXT, start, start + len(data), False, True)
