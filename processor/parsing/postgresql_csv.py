"""PostgreSQL csvlog (``log_destination=csvlog``; the ``.csv`` twins of Aurora's log files).

One row per message, RFC 4180 quoting, and quoted fields may contain newlines: a row ends at a
newline outside quotes, found by counting quotes line by line (a doubled ``""`` counts twice,
so parity is right). The columns are positional (23 up to PG 12, ``backend_type`` from 13,
``leader_pid`` and ``query_id`` from 14); rows of any of these widths are read. A line that
looks like the start of a new row while a quote is still open closes the broken row, so one
stray quote cannot swallow the rest of the file.
"""

from __future__ import annotations

import csv
import io
import re
from typing import ClassVar

from processor.parsing.entries import EntryParser, set_if
from processor.parsing.fingerprint import redact_pg
from processor.parsing.postgresql import PG_LONG_FIELDS, client_fields
from processor.parsing.postgresql_messages import interpret
from processor.parsing.records import CheckpointState, Record

__all__ = ["PostgreSqlCsvParser"]

_ROW_START = re.compile(rb'"?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?[^,\n]*"?,')
_MIN_COLUMNS = 14
# Column positions of csvlog.
(
    LOG_TIME, USER, DATABASE, PID, CONNECTION_FROM, SESSION_ID, SESSION_LINE, COMMAND_TAG,
    SESSION_START, VXID, TXID, SEVERITY, SQLSTATE, MESSAGE, DETAIL, HINT, INTERNAL_QUERY,
    INTERNAL_QUERY_POS, CONTEXT, QUERY, QUERY_POS, LOCATION, APPLICATION_NAME, BACKEND_TYPE,
    LEADER_PID, QUERY_ID,
) = range(26)  # fmt: skip
_SECONDARY_COLUMNS = (
    (DETAIL, "DETAIL"), (HINT, "HINT"), (INTERNAL_QUERY, "QUERY"), (CONTEXT, "CONTEXT"),
    (LOCATION, "LOCATION"), (QUERY, "STATEMENT"),
)  # fmt: skip
_REDACTED_COLUMNS = (MESSAGE, DETAIL, INTERNAL_QUERY, CONTEXT, QUERY)


class PostgreSqlCsvParser(EntryParser):
    """Incremental parser of PostgreSQL csvlog files; see the module docstring."""

    record_type: ClassVar[str] = "postgresql"
    long_fields: ClassVar[tuple[str, ...]] = PG_LONG_FIELDS

    # Whether a quote is open at the buffer's start: only after an oversized row was cut there.
    _quoted_start = False
    _last_cut = -1

    def _load_state(self, state: CheckpointState) -> None:
        self._quoted_start = state.get("quoted") == 1

    def _save_state(self) -> CheckpointState:
        return {"quoted": 1} if self._quoted_start else {}

    def _after_cut(self, start: int, cut: int) -> None:
        if start == self._last_cut:
            quoted = self._quoted_start  # a later piece of the same row
        else:
            quoted = start == 0 and self._quoted_start  # a row start, or the carried start
        self._quoted_start = quoted != bool(self._buf.count(b'"', start, cut) & 1)
        self._last_cut = cut

    def _rebased(self, shift: int) -> None:
        if self._last_cut != shift:
            self._quoted_start = False  # the buffer now starts at a row boundary
        self._last_cut = -1

    def _boundaries(self, buf: bytearray, pos: int, end: int) -> list[int]:
        ends: list[int] = []
        open_quote = bool(buf.count(b'"', 0, pos) & 1) != self._quoted_start
        line = pos
        while line < end:
            if open_quote and _ROW_START.match(buf, line):
                ends.append(line)  # the row before never closed its quote
                open_quote = False
            newline = buf.find(b"\n", line, end)
            stop = end if newline < 0 else newline + 1
            if buf.count(b'"', line, stop) & 1:
                open_quote = not open_quote
            if not open_quote:
                ends.append(stop)
            line = stop
        return ends

    def _parse_entry(self, text: str, offset: int, length: int, dirty: bool) -> list[Record]:
        raw = text.rstrip("\r\n")
        if not raw.strip():
            return []
        # The first piece of a row cut at max_entry_bytes has an open quote: close it.
        raw_row = raw + '"' if raw.count('"') % 2 else raw
        try:
            row = next(csv.reader([raw_row], strict=True))
        except (csv.Error, StopIteration):
            return [self._error_record(text, offset, length)]
        if len(row) < _MIN_COLUMNS:
            return [self._error_record(text, offset, length)]
        row += [""] * (26 - len(row))
        ts_us = self._times.iso(row[LOG_TIME])
        if ts_us is None:
            return [self._error_record(text, offset, length)]
        redacting = self._settings.redact_literals
        message = _rewrite(row) if redacting else raw
        record = self._new_record(ts_us, offset, length, message)
        set_if(record, "user", row[USER])
        set_if(record, "database", row[DATABASE])
        if row[PID].isdigit():
            record["pid"] = int(row[PID])
        client_fields(record, row[CONNECTION_FROM], colon_port=True)
        set_if(record, "session_id", row[SESSION_ID])
        if row[SESSION_LINE].isdigit():
            record["session_line"] = int(row[SESSION_LINE])
        set_if(record, "command_tag", row[COMMAND_TAG])
        session_start = self._times.iso(row[SESSION_START]) if row[SESSION_START] else None
        if session_start is not None:
            record["session_start_us"] = session_start
        set_if(record, "virtual_transaction_id", row[VXID])
        if row[TXID].isdigit():
            record["transaction_id"] = int(row[TXID])
        set_if(record, "sqlstate", row[SQLSTATE])
        set_if(record, "application_name", row[APPLICATION_NAME])
        set_if(record, "backend_type", row[BACKEND_TYPE])
        if row[LEADER_PID].isdigit():
            record["leader_pid"] = int(row[LEADER_PID])
        if row[QUERY_ID].lstrip("-").isdigit():
            record["pg_query_id"] = int(row[QUERY_ID])
        secondary = {name: row[column] for column, name in _SECONDARY_COLUMNS if row[column]}
        interpret(record, row[SEVERITY] or "LOG", row[MESSAGE], secondary, redacting=redacting)
        return [record]


def _rewrite(row: list[str]) -> str:
    """The row with literals redacted in its free-text columns, in csvlog quoting."""
    redacted = list(row)
    for column in _REDACTED_COLUMNS:
        if column < len(redacted) and redacted[column]:
            redacted[column] = redact_pg(redacted[column])
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(redacted)
    return out.getvalue()
