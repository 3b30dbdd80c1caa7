"""The log writers of one instance: a generator, a rate and file series per log kind.

:class:`InstanceLogs` is the writer side of one simulated instance, usable without moto (the
format tests and :mod:`simulator.samples` use it directly). :meth:`InstanceLogs.advance_to`
writes every entry with a timestamp between the last call and the given time, rotating each
series at its scheduled moments and applying retention, so a simulated hour becomes one call.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable, Sequence
from itertools import count
from pathlib import Path

from simulator.files import (
    AuditSetSeries,
    FileSeries,
    HourlyRenamedSeries,
    NewNameSeries,
    Observer,
    RenameChainSeries,
    SeriesContext,
)
from simulator.generators import Entry, Generator
from simulator.generators.mysql_audit import MysqlAuditGenerator
from simulator.generators.mysql_error import MysqlErrorGenerator
from simulator.generators.mysql_query_logs import MysqlGeneralGenerator, MysqlSlowGenerator
from simulator.generators.postgresql import PostgresqlGenerator
from simulator.profiles import Engine, LogOptions, LogProfile, Rate
from simulator.truth import Truth

__all__ = ["InstanceLogs", "LogStream"]

# Long steps are cut into pieces of at most this much simulated time, so one call never holds
# more than a minute of a busy instance's entries in memory.
MAX_STEP_US = 60_000_000


class LogStream:
    """One log kind of one instance: decides how many entries, generates and writes them."""

    def __init__(
        self,
        kind: str,
        generator: Generator,
        rate: Rate,
        series: Sequence[FileSeries],
        rng: random.Random,
    ) -> None:
        if len(series) != generator.outputs:
            raise ValueError("one file series per generator output")
        self.kind = kind
        self.generator = generator
        self.rate = rate
        self.series = list(series)
        self._rng = rng
        self._carry = 0.0  # entries (rate in entries) or bytes (rate in bytes) owed
        self._mean_bytes = float(generator.typical_entry_bytes)
        self.pending_huge: list[int] = []  # line sizes of >1 MB lines to write next
        self.pending_garbage: list[int] = []  # non-UTF-8 byte counts for the next entries

    @property
    def primary(self) -> FileSeries:
        return self.series[0]

    def _count(self, span_us: int) -> int:
        seconds = span_us / 1_000_000
        if self.rate.entries_per_s:
            owed = self.rate.entries_per_s * seconds + self._carry
            number = int(owed)
            self._carry = owed - number
            return number
        if self.rate.bytes_per_min:
            owed = self.rate.bytes_per_min / 60 * seconds + self._carry
            self._carry = owed  # settled against the bytes written in _settle
            return max(0, int(owed / self._mean_bytes))
        return 0

    def _settle(self, entries: list[Entry], wanted: int) -> None:
        if not self.rate.bytes_per_min:
            return
        written = sum(len(entry.data) for entry in entries)
        self._carry -= written
        if wanted:
            # Entries are multi-line and vary in size: learn the mean so the rate holds.
            self._mean_bytes = 0.8 * self._mean_bytes + 0.2 * max(written / wanted, 16.0)

    def start(self, at_us: int) -> None:
        for series in self.series:
            series.start(at_us)

    def write(self, start_us: int, end_us: int) -> None:
        """Entries with timestamps in ``[start_us, end_us)``, rotating at scheduled moments."""
        cursor = start_us
        for boundary in self.primary.boundaries(start_us, end_us):
            self._write_span(cursor, boundary)
            self.rotate(boundary)
            cursor = boundary
        self._write_span(cursor, end_us)

    def _write_span(self, start_us: int, end_us: int) -> None:
        if end_us <= start_us:
            return
        number = self._count(end_us - start_us)
        if self.pending_huge:
            self._write_outputs(self.generator.huge(start_us, self.pending_huge.pop(0)))
        if number <= 0:
            return
        rng = self._rng
        span = end_us - start_us
        stamps = sorted(start_us + int(rng.random() * span) for _ in range(number))
        outputs = self.generator.generate(stamps)
        self._settle(outputs[0], number)
        self._spoil(outputs[0])
        self._write_outputs(outputs)

    def _spoil(self, entries: list[Entry]) -> None:
        """Put the pending garbage bytes into the first entries that are records."""
        records = (i for i, entry in enumerate(entries) if not entry.header)
        for index in records:
            if not self.pending_garbage:
                return
            size = self.pending_garbage.pop(0)
            garbage = bytes(self._rng.randrange(0x80, 0x100) for _ in range(size - 1)) + b"\xff"
            entry = entries[index]
            body = entry.data[:-1] if entry.data.endswith(b"\n") else entry.data
            entries[index] = entry._replace(data=body + b" " + garbage + b"\n")

    def _write_outputs(self, outputs: list[list[Entry]]) -> None:
        for series, entries in zip(self.series, outputs, strict=True):
            series.append(entries)

    def rotate(self, at_us: int) -> None:
        for series in self.series:
            series.rotate(at_us)

    def restart(self, at_us: int) -> None:
        self._write_outputs(self.generator.restart(at_us))

    def expire(self, now_us: int) -> None:
        for series in self.series:
            series.expire(now_us)


def _streams(
    engine: Engine,
    profile: LogProfile,
    context: SeriesContext,
    rng: random.Random,
) -> dict[str, LogStream]:
    options: LogOptions = profile.options
    streams: dict[str, LogStream] = {}
    for kind in engine.kinds:
        rate = profile.rate_for(kind)
        if rate.idle:
            continue
        kind_rng = random.Random(rng.random())
        retention = options.retention_for(kind)
        generator: Generator
        series: list[FileSeries]
        if kind == "error":
            generator = MysqlErrorGenerator(kind_rng, major=engine.major)
            series = [
                HourlyRenamedSeries(
                    context,
                    kind,
                    "error/mysql-error-running.log",
                    options.error_naming,
                    retention_s=retention,
                )
            ]
        elif kind in ("slowquery", "general"):
            if kind == "slowquery":
                generator = MysqlSlowGenerator(
                    kind_rng, major=engine.major, log_slow_extra=options.log_slow_extra
                )
                base = "slowquery/mysql-slowquery.log"
            else:
                generator = MysqlGeneralGenerator(kind_rng, major=engine.major)
                base = "general/mysql-general.log"
            opened = generator.file_opened

            def header(
                at_us: int, opened: Callable[[int, int], list[Entry]] = opened
            ) -> list[Entry]:
                return opened(0, at_us)

            series = [
                HourlyRenamedSeries(
                    context,
                    kind,
                    base,
                    options.query_log_naming,
                    retention_s=retention,
                    header=header,
                )
            ]
        elif kind == "audit":
            generator = MysqlAuditGenerator(
                kind_rng, instance_id=context.instance_id, style=options.audit_style
            )
            if options.audit_style == "aurora":
                series = [
                    AuditSetSeries(
                        context, set_bytes=options.audit_set_bytes, retention_s=retention
                    )
                ]
            else:
                series = [
                    RenameChainSeries(
                        context,
                        base="audit/server_audit.log",
                        rotate_bytes=options.server_audit_rotate_bytes,
                        rotations=options.server_audit_rotations,
                        retention_s=retention,
                    )
                ]
        else:
            generator = PostgresqlGenerator(kind_rng, version=engine.version, csvlog=options.csvlog)
            suffixes = ["", ".csv"] if options.csvlog else [""]
            series = [
                NewNameSeries(
                    context,
                    base="error/postgresql.log",
                    naming=options.postgresql_naming,
                    suffix=suffix,
                    rotation_age_s=options.postgresql_rotation_age_s,
                    rotation_bytes=options.postgresql_rotation_bytes,
                    retention_s=retention,
                )
                for suffix in suffixes
            ]
        streams[kind] = LogStream(kind, generator, rate, series, kind_rng)
    return streams


class InstanceLogs:
    """Every log file of one instance under ``<data_dir>/<instance_id>/``. Not thread-safe."""

    def __init__(
        self,
        instance_id: str,
        engine: Engine,
        profile: LogProfile,
        data_dir: Path,
        *,
        truth: Truth,
        start_us: int,
        seed: int | str = 0,
        observer: Observer | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.engine = engine
        self.profile = profile
        self.directory = data_dir / instance_id
        self.directory.mkdir(parents=True, exist_ok=True)
        self.context = SeriesContext(instance_id, self.directory, truth, count(1), observer)
        self._rng = random.Random(f"{seed}:{instance_id}")
        self.streams = _streams(engine, profile, self.context, self._rng)
        self.now_us = start_us
        for stream in self.streams.values():
            stream.start(start_us)

    def advance_to(self, end_us: int) -> None:
        """Write everything from the last call up to ``end_us``, then apply retention."""
        while self.now_us < end_us:
            step_end = min(end_us, self.now_us + MAX_STEP_US)
            for stream in self.streams.values():
                stream.write(self.now_us, step_end)
            self.now_us = step_end
            for stream in self.streams.values():
                stream.expire(step_end)

    def stream(self, kind: str) -> LogStream:
        try:
            return self.streams[kind]
        except KeyError:
            raise KeyError(f"{self.instance_id} writes no {kind!r} log") from None

    def rotate(self, kind: str) -> None:
        """Rotate ``kind`` now (as a reboot or FLUSH LOGS would)."""
        self.stream(kind).rotate(self.now_us)

    def restart(self) -> None:
        """The server restarted: start-up lines in the error log, banners in slow/general."""
        for stream in self.streams.values():
            stream.restart(self.now_us)

    def inject_huge_line(self, kind: str, line_bytes: int) -> None:
        """The next write of ``kind`` includes an entry with a line of ``line_bytes`` or more."""
        self.stream(kind).pending_huge.append(line_bytes)

    def series_for(self, name: str) -> FileSeries | None:
        """The series that owns the file called ``name`` now."""
        for stream in self.streams.values():
            for series in stream.series:
                if series.owns(name):
                    return series
        return None

    def stream_for(self, name: str) -> LogStream | None:
        for stream in self.streams.values():
            if any(series.owns(name) for series in stream.series):
                return stream
        return None

    def delete_file(self, name: str, reason: str = "deleted") -> bool:
        """Delete the rotated-out file ``name`` now; False if no closed file has that name."""
        series = self.series_for(name)
        return series is not None and series.delete(name, self.now_us, reason)

    def names(self) -> list[str]:
        """Every file name the instance has now."""
        return sorted(
            name
            for stream in self.streams.values()
            for series in stream.series
            for name in series.names()
        )

    def remove(self, reason: str = "instance_removed") -> None:
        """Delete every file and the instance's directory (the instance was deleted)."""
        for stream in self.streams.values():
            for series in stream.series:
                series.remove_all(self.now_us, reason)
        shutil.rmtree(self.directory, ignore_errors=True)
