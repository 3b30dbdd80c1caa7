"""MySQL audit logs: Aurora Advanced Auditing and the RDS MariaDB audit plugin.

One event per line: ``timestamp,serverhost,username,host,connectionid,queryid,operation,
database,object,retcode`` (+ trailing fields in newer plugins). Aurora writes the timestamp as
Unix microseconds, the plugin as ``YYYYMMDD HH:MM:SS``. For QUERY events ``object`` is the
statement in single quotes with ``\\'`` and ``\\\\`` (and, in newer plugins, ``\\n`` ``\\t``...)
escaped; table events (READ, WRITE, CREATE...) carry the table and an empty retcode.

A line that does not start with a timestamp continues the event before it (a raw newline in a
statement from a writer that did not escape it); if the joined text still fits no event, the
first line is parsed alone and the rest becomes a ``parse_error`` record.
"""

from __future__ import annotations

import re
from typing import ClassVar

from processor.parsing.entries import EntryParser, entry_text, set_if
from processor.parsing.fingerprint import cached_fingerprint, redact
from processor.parsing.records import Record

__all__ = ["MySqlAuditParser"]

_START = re.compile(rb"^(?:\d{16},|\d{8} \d\d:\d\d:\d\d,)", re.M)
_EVENT = re.compile(
    r"(?P<ts>\d{16}|\d{8} \d\d:\d\d:\d\d),(?P<serverhost>[^,]*),(?P<user>[^,]*),(?P<host>[^,]*),"
    r"(?P<connid>\d+),(?P<queryid>\d+),(?P<op>[A-Z_]+),(?P<db>[^,]*),"
    r"(?P<object>'(?:[^'\\]|\\.)*'|[^,]*),(?P<retcode>-?\d*)(?P<extra>(?:,.*)?)",
    re.S,
)
_UNESCAPE = re.compile(r"\\(.)", re.S)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "\\": "\\", "'": "'"}


def _unescape(quoted: str) -> str:
    body = quoted[1:-1]
    if "\\" not in body:
        return body
    return _UNESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)


class MySqlAuditParser(EntryParser):
    """Incremental parser of Aurora / RDS MySQL audit logs; see the module docstring."""

    record_type: ClassVar[str] = "mysql_audit"
    long_fields: ClassVar[tuple[str, ...]] = ("statement", "object")

    def _boundaries(self, buf: bytearray, pos: int, end: int) -> list[int]:
        return [m.start() for m in _START.finditer(buf, pos, end)]

    def _parse_entry(self, text: str, offset: int, length: int, dirty: bool) -> list[Record]:
        entry = entry_text(text)
        if not entry.strip():
            return []
        record = self._event(entry, offset, length)
        if record is not None:
            return [record]
        first, newline, rest = text.partition("\n")
        first_len = len(first.encode("utf-8", "surrogateescape")) + len(newline)
        record = self._event(first.rstrip("\r"), offset, first_len) if rest.strip() else None
        if record is None:
            return [self._error_record(text, offset, length)]
        return [record, self._error_record(rest, offset + first_len, length - first_len)]

    def _event(self, entry: str, offset: int, length: int) -> Record | None:
        m = _EVENT.fullmatch(entry)
        if m is None:
            return None
        ts = m["ts"]
        ts_us = int(ts) if len(ts) == 16 else self._times.compact(ts)
        obj = m["object"]
        operation = m["op"]
        statement = None
        if obj.startswith("'") and len(obj) >= 2:
            statement = _unescape(obj)
        message = entry
        if self._settings.redact_literals and statement is not None:
            quoted = "'" + redact(statement) + "'"
            message = entry[: m.start("object")] + quoted + entry[m.end("object") :]
        record = self._new_record(ts_us, offset, length, message)
        set_if(record, "server_host", m["serverhost"])
        set_if(record, "user", m["user"])
        set_if(record, "host", m["host"])
        record["connection_id"] = int(m["connid"])
        record["audit_query_id"] = int(m["queryid"])
        record["operation"] = operation
        set_if(record, "database", m["db"])
        if m["retcode"]:
            record["retcode"] = int(m["retcode"])
        if statement is not None:
            if statement:
                fp, qid = cached_fingerprint(statement)
                redacted = redact(statement) if self._settings.redact_literals else statement
                # The quoted object of a QUERY event is the statement: shipped once, there.
                record["statement"] = redacted
                record["fingerprint"] = fp
                record["query_id"] = qid
        else:
            set_if(record, "object", obj)
        return record
