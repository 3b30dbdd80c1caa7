"""Log files on disk: naming, rotation and retention exactly as Aurora does them.

A :class:`FileSeries` is the succession of files one log kind writes on one instance
(``slowquery/mysql-slowquery.log`` and its hourly ``.YYYY-MM-DD.H`` predecessors, the four-file
audit sets, ...). It appends entries, rotates, deletes by retention, and records every step in
the :class:`~simulator.truth.Truth`. Four strategies cover Aurora:

- :class:`HourlyRenamedSeries`: MySQL error/slow/general. At each UTC hour the active file is
  renamed to ``.N`` (hour, reused daily: the old content is replaced), ``.YYYY-MM-DD.H`` or
  ``.YYYY-MM-DD.HH`` and a new one is opened.
- :class:`AuditSetSeries`: Aurora Advanced Auditing. Four files written at once,
  ``audit/audit.log.<0-3>.<YYYY-MM-DD-HH-MM>.<n>``, a new set when one reaches a size.
- :class:`RenameChainSeries`: RDS for MySQL's ``audit/server_audit.log``: at a size, ``.8`` ->
  ``.9``, ..., ``.1`` -> ``.2``, the active file -> ``.1``; the oldest falls off.
- :class:`NewNameSeries`: PostgreSQL. Every rotation (age or size) opens a file with a new
  name, ``error/postgresql.log.YYYY-MM-DD-HHMM`` (or ``-HH``, or ``YYYY-MM-DD``); nothing is
  renamed; a rotation onto the current name keeps appending, as PostgreSQL does.

On disk a file is ``<instance dir>/<LogFileName>``. Its mtime is set to the simulated time of
its last entry, which is how ``LastWritten`` reaches the RDS API in another process. Renames
never leave a moment in which a live name is missing (hard link, then atomic replace), so a
concurrent reader sees the old or the new file, never neither.
"""

from __future__ import annotations

import fcntl
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from simulator.generators import Entry
from simulator.generators.mysql_audit import AURORA_AUDIT_STRIPES
from simulator.truth import Truth

__all__ = [
    "AuditSetSeries",
    "FileSeries",
    "HourlyRenamedSeries",
    "LiveFile",
    "NewNameSeries",
    "RenameChainSeries",
    "SeriesContext",
]

HOUR_US = 3_600_000_000
MINUTE_US = 60_000_000

# (event, fields) -> None: what a series tells its observer (the CLI prints it).
Observer = Callable[..., None]


@dataclass
class LiveFile:
    """A file of a series as it is now."""

    content_id: str
    name: str  # LogFileName, relative to the instance directory
    path: Path
    created_us: int
    size: int = 0
    last_write_us: int = 0


@dataclass
class SeriesContext:
    """What every series of one instance shares."""

    instance_id: str
    directory: Path  # <data_dir>/<instance_id>
    truth: Truth
    content_ids: count[int]
    observer: Observer | None = None

    def new_content_id(self) -> str:
        return f"{self.instance_id}#{next(self.content_ids)}"

    def notify(self, event: str, **fields: object) -> None:
        if self.observer is not None:
            self.observer(event, instance=self.instance_id, **fields)


def _utc(us: int) -> time.struct_time:
    return time.gmtime(us // 1_000_000)


def _write(path: Path, data: bytes, at_us: int) -> None:
    """Append ``data`` and set the file's mtime to ``at_us``, as one step for readers.

    The kernel stamps every write with the wall clock, and a large append lands in pieces; a
    reader that stats the file in between would see a LastWritten hours away from the
    simulated clock (and a size inside an entry). Readers take the same lock
    (:func:`stat_settled`), so they see the file before or after, never during.
    """
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        ns = at_us * 1000
        os.utime(fd, ns=(ns, ns))
    finally:
        os.close(fd)


def stat_settled(fd: int) -> os.stat_result:
    """``fstat`` of an open log file, between two of the writer's appends (see
    :func:`_write`); blocks while one is under way."""
    fcntl.flock(fd, fcntl.LOCK_SH)
    try:
        return os.fstat(fd)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _touch(path: Path, at_us: int) -> None:
    ns = at_us * 1000
    os.utime(path, ns=(ns, ns))


class FileSeries(ABC):
    """The files of one log kind of one instance. Not thread-safe: one writer drives it."""

    def __init__(
        self,
        context: SeriesContext,
        kind: str,
        *,
        retention_s: float,
        header: Callable[[int], list[Entry]] | None = None,
    ) -> None:
        self.context = context
        self.kind = kind
        self.retention_us = int(retention_s * 1_000_000)
        self._header = header
        self.active: list[LiveFile] = []
        self.closed: list[LiveFile] = []
        #: Delete this many files the moment they are rotated out (delete-before-read fault);
        #: ``deleted_on_close`` counts the files so deleted.
        self.delete_on_close = 0
        self.deleted_on_close = 0

    # Template parts.

    @abstractmethod
    def start(self, at_us: int) -> None:
        """Open the first file(s); called once."""

    @abstractmethod
    def rotate(self, at_us: int) -> None:
        """Rotate now, whatever the schedule says."""

    def boundaries(self, start_us: int, end_us: int) -> list[int]:
        """Scheduled (time-based) rotations in ``(start_us, end_us]``."""
        return []

    def append(self, entries: Sequence[Entry]) -> None:
        """Write ``entries`` (sorted by time) to the active file."""
        if entries:
            self._write_entries(self.active[0], entries)

    # Shared machinery.

    def _open(self, name: str, at_us: int) -> LiveFile:
        """Create an empty file ``name`` (replacing what holds the name) with its header."""
        ctx = self.context
        path = ctx.directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        live = LiveFile(ctx.new_content_id(), name, path, at_us, 0, at_us)
        self._evict_name(name, at_us)
        temporary = path.with_name(f".new-{live.content_id.replace('#', '-')}")
        temporary.write_bytes(b"")
        _touch(temporary, at_us)  # before it shows, never with the wall clock's mtime
        os.replace(temporary, path)
        ctx.truth.file_created(ctx.instance_id, self.kind, live.content_id, name, at_us)
        ctx.notify("file_created", kind=self.kind, name=name)
        if self._header is not None:
            header = self._header(at_us)
            if header:
                self._write_entries(live, header)
        return live

    def _evict_name(self, name: str, at_us: int) -> None:
        """A closed file that holds ``name`` is about to be replaced: it is gone."""
        for old in list(self.closed):
            if old.name == name:
                self.closed.remove(old)
                self.context.truth.file_deleted(old.content_id, at_us, "replaced")
                self.context.notify("file_deleted", kind=self.kind, name=name, reason="replaced")

    def _rename(self, live: LiveFile, name: str, at_us: int) -> None:
        """Give ``live`` the name ``name`` (replacing what held it).

        The old name keeps pointing at the same content until the caller re-points it, so no
        reader ever finds a live name missing.
        """
        ctx = self.context
        target = ctx.directory / name
        self._evict_name(name, at_us)
        link = target.with_name(f".link-{live.content_id.replace('#', '-')}")
        os.link(live.path, link)
        os.replace(link, target)
        old = live.name
        live.name, live.path = name, target
        ctx.truth.file_renamed(live.content_id, name, at_us)
        ctx.notify("file_renamed", kind=self.kind, name=old, new_name=name)

    def _write_entries(self, live: LiveFile, entries: Sequence[Entry]) -> None:
        offset = live.size
        spans = []
        last = live.last_write_us
        for entry in entries:
            spans.append((offset, entry.data, entry.ts_us, entry.header))
            offset += len(entry.data)
            if entry.ts_us > last:
                last = entry.ts_us
        _write(live.path, b"".join(entry.data for entry in entries), last)
        live.size = offset
        live.last_write_us = last
        ctx = self.context
        ctx.truth.entries_written(ctx.instance_id, self.kind, live.content_id, live.name, spans)

    def _close(self, live: LiveFile, at_us: int) -> None:
        if self.delete_on_close > 0:
            self.delete_on_close -= 1
            self.deleted_on_close += 1
            self._delete(live, at_us, "deleted_before_read")
        else:
            self.closed.append(live)

    def _delete(self, live: LiveFile, at_us: int, reason: str) -> None:
        live.path.unlink(missing_ok=True)
        self.context.truth.file_deleted(live.content_id, at_us, reason)
        self.context.notify("file_deleted", kind=self.kind, name=live.name, reason=reason)

    def expire(self, now_us: int) -> None:
        """Delete closed files last written more than the retention period ago."""
        # Files are closed in the order they were written, so the oldest come first.
        while self.closed and self.closed[0].last_write_us + self.retention_us <= now_us:
            self._delete(self.closed.pop(0), now_us, "retention")

    def delete(self, name: str, at_us: int, reason: str = "deleted") -> bool:
        """Delete the closed file called ``name``; False if no closed file has that name."""
        for live in self.closed:
            if live.name == name:
                self.closed.remove(live)
                self._delete(live, at_us, reason)
                return True
        return False

    def remove_all(self, at_us: int, reason: str) -> None:
        """Delete every file of the series (the instance is gone)."""
        for live in [*self.closed, *self.active]:
            self._delete(live, at_us, reason)
        self.closed, self.active = [], []

    def names(self) -> list[str]:
        return [live.name for live in (*self.active, *self.closed)]

    def owns(self, name: str) -> bool:
        return name in self.names()


class HourlyRenamedSeries(FileSeries):
    """MySQL error, slow and general logs: renamed at every UTC hour."""

    def __init__(
        self,
        context: SeriesContext,
        kind: str,
        base: str,
        naming: str,
        *,
        retention_s: float,
        header: Callable[[int], list[Entry]] | None = None,
    ) -> None:
        super().__init__(context, kind, retention_s=retention_s, header=header)
        if naming not in ("hour", "dated", "dated_padded"):
            raise ValueError(f"unknown hourly naming {naming!r}")
        self.base = base
        self.naming = naming

    def rotated_name(self, hour_start_us: int) -> str:
        """The name the content of the hour starting at ``hour_start_us`` is rotated to."""
        t = _utc(hour_start_us)
        if self.naming == "hour":
            return f"{self.base}.{t.tm_hour}"
        day = time.strftime("%Y-%m-%d", t)
        hour = f"{t.tm_hour:02d}" if self.naming == "dated_padded" else str(t.tm_hour)
        return f"{self.base}.{day}.{hour}"

    def start(self, at_us: int) -> None:
        self.active = [self._open(self.base, at_us)]

    def boundaries(self, start_us: int, end_us: int) -> list[int]:
        first = (start_us // HOUR_US + 1) * HOUR_US
        return list(range(first, end_us + 1, HOUR_US))

    def rotate(self, at_us: int) -> None:
        old = self.active[0]
        # The content is named after the hour it was written in: the hour before the boundary.
        hour_start = (at_us - 1) // HOUR_US * HOUR_US
        self._rename(old, self.rotated_name(hour_start), at_us)
        # Opening the new file replaces the active name, which until now also named the old one.
        self.active = [self._open(self.base, at_us)]
        self.context.notify("file_rotated", kind=self.kind, name=self.base, rotated_to=old.name)
        self._close(old, at_us)


class AuditSetSeries(FileSeries):
    """Aurora Advanced Auditing: four files at once, a new set at ``set_bytes``."""

    def __init__(self, context: SeriesContext, *, set_bytes: int, retention_s: float) -> None:
        super().__init__(context, "audit", retention_s=retention_s)
        self.set_bytes = set_bytes
        self._last_stamp = ""
        self._sequence = 0

    def _set_names(self, at_us: int) -> list[str]:
        stamp = time.strftime("%Y-%m-%d-%H-%M", _utc(at_us))
        self._sequence = self._sequence + 1 if stamp == self._last_stamp else 0
        self._last_stamp = stamp
        return [
            f"audit/audit.log.{stripe}.{stamp}.{self._sequence}"
            for stripe in range(AURORA_AUDIT_STRIPES)
        ]

    def start(self, at_us: int) -> None:
        self.active = [self._open(name, at_us) for name in self._set_names(at_us)]

    def rotate(self, at_us: int) -> None:
        old = self.active
        self.active = [self._open(name, at_us) for name in self._set_names(at_us)]
        self.context.notify(
            "file_rotated", kind=self.kind, name=old[0].name, rotated_to=self.active[0].name
        )
        for live in old:
            self._close(live, at_us)

    def append(self, entries: Sequence[Entry]) -> None:
        pending: list[list[Entry]] = [[] for _ in range(AURORA_AUDIT_STRIPES)]
        sizes = [live.size for live in self.active]
        for entry in entries:
            stripe = entry.stripe % AURORA_AUDIT_STRIPES
            if sizes[stripe] >= self.set_bytes:
                self._flush(pending)
                self.rotate(entry.ts_us)
                pending = [[] for _ in range(AURORA_AUDIT_STRIPES)]
                sizes = [live.size for live in self.active]
            pending[stripe].append(entry)
            sizes[stripe] += len(entry.data)
        self._flush(pending)

    def _flush(self, pending: list[list[Entry]]) -> None:
        for live, entries in zip(self.active, pending, strict=True):
            if entries:
                self._write_entries(live, entries)


class RenameChainSeries(FileSeries):
    """RDS for MySQL's ``server_audit.log``: renamed ``.1`` -> ``.2`` ... at a size."""

    def __init__(
        self,
        context: SeriesContext,
        *,
        base: str,
        rotate_bytes: int,
        rotations: int,
        retention_s: float,
    ) -> None:
        super().__init__(context, "audit", retention_s=retention_s)
        self.base = base
        self.rotate_bytes = rotate_bytes
        self.rotations = rotations

    def start(self, at_us: int) -> None:
        self.active = [self._open(self.base, at_us)]

    def rotate(self, at_us: int) -> None:
        by_number = {int(live.name.rsplit(".", 1)[1]): live for live in self.closed}
        # The oldest falls off. Its name is taken over by the next one down (an atomic replace),
        # so it is only unlinked when nothing takes it over.
        for number in [n for n in by_number if n >= self.rotations]:
            oldest = by_number.pop(number)
            self.closed.remove(oldest)
            self.context.truth.file_deleted(oldest.content_id, at_us, "rotated_out")
            self.context.notify(
                "file_deleted", kind=self.kind, name=oldest.name, reason="rotated_out"
            )
            if number - 1 not in by_number:
                oldest.path.unlink(missing_ok=True)
        # Highest first, each name re-pointed at the next older content: between two steps a
        # name may show the same content as its neighbour, never nothing.
        for number in sorted(by_number, reverse=True):
            live = by_number[number]
            stale = live.path
            self._rename(live, f"{self.base}.{number + 1}", at_us)
            if number > 1 and number - 1 not in by_number:
                # Nothing moves into this name (the file before it was deleted): it must not
                # keep showing the content that moved on, as no RDS rename would.
                stale.unlink(missing_ok=True)
        current = self.active[0]
        self._rename(current, f"{self.base}.1", at_us)
        self.active = [self._open(self.base, at_us)]
        self.context.notify("file_rotated", kind=self.kind, name=self.base, rotated_to=current.name)
        self._close(current, at_us)

    def append(self, entries: Sequence[Entry]) -> None:
        batch: list[Entry] = []
        size = self.active[0].size
        for entry in entries:
            if size >= self.rotate_bytes:
                if batch:
                    self._write_entries(self.active[0], batch)
                    batch = []
                self.rotate(entry.ts_us)
                size = self.active[0].size
            batch.append(entry)
            size += len(entry.data)
        if batch:
            self._write_entries(self.active[0], batch)


class NewNameSeries(FileSeries):
    """PostgreSQL: each rotation (age or size) writes to a new name; nothing is renamed."""

    def __init__(
        self,
        context: SeriesContext,
        *,
        base: str,
        naming: str,
        suffix: str,
        rotation_age_s: int,
        rotation_bytes: int,
        retention_s: float,
    ) -> None:
        super().__init__(context, "postgresql", retention_s=retention_s)
        if naming not in ("minute", "hour", "day"):
            raise ValueError(f"unknown PostgreSQL naming {naming!r}")
        self.base = base
        self.naming = naming
        self.suffix = suffix  # "" or ".csv"
        self.rotation_age_us = rotation_age_s * 1_000_000
        self.rotation_bytes = rotation_bytes

    def name_at(self, at_us: int) -> str:
        pattern = {"minute": "%Y-%m-%d-%H%M", "hour": "%Y-%m-%d-%H", "day": "%Y-%m-%d"}
        return f"{self.base}.{time.strftime(pattern[self.naming], _utc(at_us))}{self.suffix}"

    def start(self, at_us: int) -> None:
        self.active = [self._open(self.name_at(at_us), at_us)]

    def boundaries(self, start_us: int, end_us: int) -> list[int]:
        # PostgreSQL schedules the next rotation at the next multiple of log_rotation_age.
        step = self.rotation_age_us
        first = (start_us // step + 1) * step
        return list(range(first, end_us + 1, step))

    def rotate(self, at_us: int) -> None:
        name = self.name_at(at_us)
        current = self.active[0]
        if name == current.name:
            return  # same name: PostgreSQL reopens it and keeps appending
        self.active = [self._open(name, at_us)]
        self.context.notify("file_rotated", kind=self.kind, name=current.name, rotated_to=name)
        self._close(current, at_us)

    def append(self, entries: Sequence[Entry]) -> None:
        batch: list[Entry] = []
        size = self.active[0].size
        for entry in entries:
            if size >= self.rotation_bytes:
                if batch:
                    self._write_entries(self.active[0], batch)
                    batch = []
                before = self.active[0]
                self.rotate(entry.ts_us)
                # Same name again: append on until the next age rotation makes a new one.
                same = self.active[0] is before
                size = -(1 << 62) if same else self.active[0].size
            batch.append(entry)
            size += len(entry.data)
        if batch:
            self._write_entries(self.active[0], batch)
