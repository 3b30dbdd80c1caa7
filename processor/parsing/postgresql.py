"""PostgreSQL stderr log (Aurora/RDS prefix ``%t:%r:%u@%d:[%p]:`` or any ``log_line_prefix``).

An entry is one message: its prefixed primary line, the lines PostgreSQL continued (it writes a
TAB after every embedded newline; any line without a prefix is taken as a continuation, since
copies of logs often turn TABs into spaces) and the prefixed secondary lines (DETAIL, HINT,
QUERY, CONTEXT, LOCATION, STATEMENT) that follow it: the server writes a message and its
secondary lines as one chunk, so they are contiguous.
"""

from __future__ import annotations

import re
from typing import ClassVar, NamedTuple, Self

from processor.parsing.entries import EntryParser
from processor.parsing.fingerprint import redact_pg
from processor.parsing.log_line_prefix import compile_prefix
from processor.parsing.options import ParsingSettings
from processor.parsing.postgresql_messages import SECONDARY_SEVERITIES, interpret
from processor.parsing.records import ParserCheckpoint, Record

__all__ = ["PG_LONG_FIELDS", "PostgreSqlParser", "client_fields"]

PG_LONG_FIELDS = (
    "statement", "text", "detail", "hint", "context", "internal_query", "parameters", "plan"
)  # fmt: skip
_SECONDARY_BYTES = frozenset(s.encode() for s in SECONDARY_SEVERITIES)


def client_fields(record: Record, client: str | None, *, colon_port: bool = False) -> None:
    """``client`` as written plus its ``host`` and ``port``.

    stderr's ``%r`` writes ``host(port)`` (``[local]`` for a Unix socket, IPv6 hosts contain
    colons), csvlog writes ``host:port``: ``colon_port`` selects the latter.
    """
    if not client:
        return
    record["client"] = client
    if colon_port:
        host, colon, port = client.rpartition(":")
    elif client[-1:] == ")":
        host, colon, port = client[:-1].rpartition("(")
    else:
        host, colon, port = client, "", ""
    if colon and port.isdigit():
        record["port"] = int(port)
    else:
        host = client
    if host:
        record["host"] = host


class PostgreSqlParser(EntryParser):
    """Incremental parser of PostgreSQL stderr logs; see the module docstring."""

    record_type: ClassVar[str] = "postgresql"
    long_fields: ClassVar[tuple[str, ...]] = PG_LONG_FIELDS

    def __init__(
        self,
        settings: ParsingSettings,
        *,
        checkpoint: ParserCheckpoint | None = None,
        fallback_timestamp_us: int | None = None,
    ) -> None:
        super().__init__(
            settings, checkpoint=checkpoint, fallback_timestamp_us=fallback_timestamp_us
        )
        self._pattern = compile_prefix(settings.postgresql_log_line_prefix)
        # Only the groups this prefix has: the record is built from them on every line.
        names = set(self._pattern.line.groupindex)
        ints = tuple(g for g in _INT_GROUPS if g in names or g == "pid")
        texts = tuple(g for g in _TEXT_GROUPS if g in names)
        # Where they are in the groups() of a match, for each pattern a first line's match
        # comes from. Keyed by id(): hashing a Pattern hashes its whole program.
        patterns = (self._pattern.scan, self._pattern.line, self._pattern.default_line)
        self._layouts = {
            id(pattern): _Layout.of(pattern, ints, texts)
            for pattern in patterns
            if pattern is not None
        }
        # Microseconds of the stamps (%t, %m) read recently, by their text.
        self._stamps: dict[str, int] = {}
        # First-line matches found while scanning an ASCII page, by absolute offset.
        self._first_lines: dict[int, re.Match[str]] = {}

    def _boundaries(self, buf: bytearray, pos: int, end: int) -> list[int]:
        if self._ascii is not None:
            return self._scan(self._ascii, pos, end)
        starts: list[int] = []
        for match in self._pattern.boundary.finditer(buf, pos, end):
            severity = match.group("severity")
            if severity is None:
                severity = match.group("severity_d")
            # PostgreSQL writes a message and its secondary lines as one chunk, so a DETAIL or
            # STATEMENT line continues the message before it (unless nothing precedes it).
            if severity in _SECONDARY_BYTES and match.start() > 0:
                continue
            starts.append(match.start())
        return starts

    def _scan(self, text: str, pos: int, end: int) -> list[int]:
        """:meth:`_boundaries` on an ASCII page's text (same starts), keeping each entry's
        first-line match so that parsing does not match the line a second time."""
        starts: list[int] = []
        first_lines = self._first_lines
        base = self._base
        scan = self._pattern.scan
        severity_group, default_group = scan.groupindex["severity"], scan.groupindex["severity_d"]
        body_group = scan.groupindex["body"]
        # A first line ending in CR (CRLF files) is matched again, its CR dropped: one look
        # at the page says whether any line might.
        crlf = "\r" in text
        for match in scan.finditer(text, pos, end):
            severity = match[severity_group]
            at = match.start()
            if severity is None:
                severity = match[default_group]
            elif not crlf or not match[body_group].endswith("\r"):
                first_lines[base + at] = match
            if severity in SECONDARY_SEVERITIES and at > 0:
                first_lines.pop(base + at, None)
                continue
            starts.append(at)
        return starts

    def _parse_entry(self, text: str, offset: int, length: int, dirty: bool) -> list[Record]:
        entry = text.rstrip("\r\n")  # entry_text(text), without the call for LF-only text
        if "\r" in entry:
            entry = entry.replace("\r\n", "\n")
        multiline = "\n" in entry
        first = self._first_lines.pop(offset, None)
        if first is None:
            first = self._pattern.match(entry[: entry.find("\n")] if multiline else entry)
        if first is None:
            if not entry.strip():
                return []
            return [self._error_record(text, offset, length)]
        # groups() and the layout's indexes, not groupdict(): that built a dict of every
        # group of the pattern on every line, and cost more than reading them.
        layout = self._layouts[id(first.re)]
        groups = first.groups()
        redacting = self._settings.redact_literals
        if multiline:
            body, secondaries, message = self._lines(first, entry.split("\n"), redacting)
        else:
            body = groups[layout.body]
            secondaries = _NO_SECONDARIES
            message = _redact_line(first, entry) if redacting else entry
        ts = groups[layout.ts] if layout.ts is not None else None
        ts_us = None
        if ts is not None:
            # Stamps recur line after line: a stamp read before is looked up without a call.
            ts_us = self._stamps.get(ts)
            if ts_us is None:
                ts_us = self._times.iso(ts)
                if ts_us is not None:
                    stamps = self._stamps
                    if len(stamps) >= _STAMPS:
                        stamps.clear()
                    stamps[ts] = ts_us
        if ts_us is None and layout.epoch is not None and groups[layout.epoch]:
            ts_us = self._times.epoch_s(groups[layout.epoch])
        # What _new_record does, without the call.
        if ts_us is None:
            ts_us = self._last_ts_us if self._last_ts_us is not None else self._fallback_us
        else:
            self._last_ts_us = ts_us
        record = {
            "_timestamp": ts_us,
            "log_type": self.record_type,
            "offset": offset,
            "length": length,
            "message": message,
        }
        for key, index in layout.ints:
            value = groups[index]
            if value:
                record[key] = int(value)
        for key, index in layout.texts:
            value = groups[index]
            if value:
                record[key] = value
        client = groups[layout.client] if layout.client is not None else None
        if client:
            client_fields(record, client)
        interpret(record, groups[layout.severity], body, secondaries, redacting=redacting)
        return [record]

    def _lines(
        self, first: re.Match[str], lines: list[str], redacting: bool
    ) -> tuple[str, dict[str, str], str]:
        """A multi-line message: its primary text, its secondary fields, its shown text."""
        parts: list[tuple[str, list[str]]] = [("", [first.group("body")])]
        shown = [_redact_line(first, lines[0]) if redacting else lines[0]]
        for line in lines[1:]:
            secondary = None if line.startswith("\t") else self._pattern.match(line)
            if secondary is not None:
                parts.append((secondary.group("severity"), [secondary.group("body")]))
                if redacting:
                    shown.append(_redact_line(secondary, line))
            else:
                # PostgreSQL wrote a TAB after the newline; the TAB is not part of the text.
                parts[-1][1].append(line[1:] if line.startswith("\t") else line)
                if redacting:
                    shown.append(redact_pg(line))
        secondaries: dict[str, str] = {}
        for severity, part in parts[1:]:
            value = "\n".join(part)
            previous = secondaries.get(severity)
            secondaries[severity] = value if previous is None else f"{previous}\n{value}"
        return (
            "\n".join(parts[0][1]),
            secondaries,
            "\n".join(shown) if redacting else "\n".join(lines),
        )


class _Layout(NamedTuple):
    """Where the groups of one line pattern are in ``Match.groups()``; None: not in it."""

    ts: int | None
    epoch: int | None
    client: int | None
    severity: int
    body: int
    # (record key, index) of the prefix's integer and text groups, in record key order.
    ints: tuple[tuple[str, int], ...]
    texts: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, pattern: re.Pattern[str], ints: tuple[str, ...], texts: tuple[str, ...]) -> Self:
        index = {name: number - 1 for name, number in pattern.groupindex.items()}
        return cls(
            ts=index.get("ts"),
            epoch=index.get("epoch"),
            client=index.get("client"),
            severity=index["severity"],
            body=index["body"],
            ints=tuple((key, index[key]) for key in ints if key in index),
            texts=tuple((key, index[key]) for key in texts if key in index),
        )


def _redact_line(match: re.Match[str], line: str) -> str:
    start = match.start("body") - match.start()  # the match may be on a whole page's text
    return line[:start] + redact_pg(line[start:])


_STAMPS = 4096
# The secondary fields of a one-line message (read, never written).
_NO_SECONDARIES: dict[str, str] = {}
_INT_GROUPS = ("pid", "session_line", "transaction_id", "leader_pid", "pg_query_id")
_TEXT_GROUPS = (
    "user", "database", "application_name", "session_id", "command_tag", "sqlstate",
    "backend_type", "virtual_transaction_id",
)  # fmt: skip
