"""MySQL error log: 8.0 / Aurora 3, 5.7 / Aurora 2, 5.6 and <= 5.5 line styles, mixed freely.

An entry starts at a line that begins with a timestamp in any of the styles; every other line
(InnoDB dumps, stack traces, ``Status information:`` blocks, ``Version: ...`` after "ready for
connections", Aurora's bare ``aurora_enable_das:0``) continues the entry before it, as the
server wrote it right after. Aurora 3 appends the source location ``(file.cc:N)`` to a message:
it becomes ``source_location``.
"""

from __future__ import annotations

import re
from typing import ClassVar

from processor.parsing.entries import EntryParser, entry_text, set_if
from processor.parsing.fingerprint import redact
from processor.parsing.records import Record

__all__ = ["MySqlErrorParser"]

_START = re.compile(rb"^(?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d|\d{6} +\d{1,2}:\d\d:\d\d)", re.M)
_ISO_TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"
_ERR80 = re.compile(
    rf"(?P<ts>{_ISO_TS}) (?P<thread>\d+) \[(?P<prio>\w+)\] \[(?P<code>MY-\d+)\] "
    r"\[(?P<subsys>[\w-]+)\] (?P<msg>.*)",
    re.S,
)
_ERR57 = re.compile(rf"(?P<ts>{_ISO_TS})\s+(?P<thread>\d+) \[(?P<prio>\w+)\] (?P<msg>.*)", re.S)
_ERR56 = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?P<thread>\d+) \[(?P<prio>\w+)\] (?P<msg>.*)", re.S
)
_DAS = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?P<thread>\d+):\[(?P<subsys>DAS)\]\[(?P<prio>\w+)\]: "
    r"(?P<msg>.*)",
    re.S,
)
_ERR55 = re.compile(r"(?P<ts>\d{6} +\d{1,2}:\d\d:\d\d) ?(?:\[(?P<prio>\w+)\] )?(?P<msg>.*)", re.S)
_SOURCE_LOCATION = re.compile(r"\s?\((?P<loc>[\w.-]+\.(?:cc|c|h|ic|cpp):\d+)\)\s*$")
_SEVERITIES = {
    "SYSTEM": "SYSTEM",
    "ERROR": "ERROR",
    "WARNING": "WARNING",
    "WARN": "WARNING",
    "NOTE": "NOTE",
    "INFO": "INFO",
}


class MySqlErrorParser(EntryParser):
    """Incremental parser of the MySQL error log; see the module docstring."""

    record_type: ClassVar[str] = "mysql_error"
    long_fields: ClassVar[tuple[str, ...]] = ("text",)

    def _boundaries(self, buf: bytearray, pos: int, end: int) -> list[int]:
        return [m.start() for m in _START.finditer(buf, pos, end)]

    def _parse_entry(self, text: str, offset: int, length: int, dirty: bool) -> list[Record]:
        entry = entry_text(text)
        if not entry.strip():
            return []
        times = self._times
        fields: Record = {}
        if (m := _ERR80.match(entry)) is not None:
            ts_us = times.iso(m["ts"])
            fields["error_code"] = m["code"]
            fields["subsystem"] = m["subsys"]
        elif (m := _ERR57.match(entry)) is not None:
            ts_us = times.iso(m["ts"])
        elif (m := _DAS.match(entry)) is not None:
            ts_us = times.iso(m["ts"])
            fields["subsystem"] = m["subsys"]
        elif (m := _ERR56.match(entry)) is not None:
            ts_us = times.iso(m["ts"])
        elif (m := _ERR55.match(entry)) is not None:
            ts_us = times.mysql_old(m["ts"])
        else:
            return [self._error_record(text, offset, length)]
        groups = m.groupdict()
        body: str = groups["msg"]
        severity = groups.get("prio")
        if severity:
            fields["severity"] = _SEVERITIES.get(severity.upper(), severity.upper())
        thread = groups.get("thread")
        if thread is not None:
            fields["thread_id"] = int(thread)
        location = _SOURCE_LOCATION.search(body)
        if location is not None:
            fields["source_location"] = location["loc"]
            body = body[: location.start()]
        head_len = m.start("msg")
        message = entry
        if self._settings.redact_literals:
            body = redact(body)
            message = entry[:head_len] + redact(entry[head_len:])
        record = self._new_record(ts_us, offset, length, message)
        record.update(fields)
        set_if(record, "text", body.strip())
        return [record]
