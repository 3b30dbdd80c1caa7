"""PostgreSQL jsonlog (``log_destination=jsonlog``, PostgreSQL 15+, Aurora PostgreSQL 15+).

One JSON object per line; keys are omitted when empty, and ``state_code`` is omitted for
``00000`` (restored here so the column reads the same as csvlog's). A line that is not a JSON
object with ``timestamp`` and ``message`` is a ``parse_error`` record.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import orjson

from processor.parsing.entries import EntryParser, set_if
from processor.parsing.fingerprint import redact_pg
from processor.parsing.postgresql import PG_LONG_FIELDS
from processor.parsing.postgresql_messages import interpret
from processor.parsing.records import Record

__all__ = ["PostgreSqlJsonParser"]

_SECONDARY_KEYS = (
    ("detail", "DETAIL"), ("hint", "HINT"), ("internal_query", "QUERY"),
    ("context", "CONTEXT"), ("statement", "STATEMENT"),
)  # fmt: skip
_REDACTED_KEYS = ("message", "detail", "internal_query", "context", "statement")


class PostgreSqlJsonParser(EntryParser):
    """Incremental parser of PostgreSQL jsonlog files; see the module docstring."""

    record_type: ClassVar[str] = "postgresql"
    long_fields: ClassVar[tuple[str, ...]] = PG_LONG_FIELDS

    def _boundaries(self, buf: bytearray, pos: int, end: int) -> list[int]:
        ends: list[int] = []
        newline = buf.find(b"\n", pos, end)
        while newline >= 0:
            ends.append(newline + 1)
            newline = buf.find(b"\n", newline + 1, end)
        if not ends or ends[-1] != end:
            ends.append(end)  # flush: the last line has no newline
        return ends

    def _parse_entry(self, text: str, offset: int, length: int, dirty: bool) -> list[Record]:
        raw = text.rstrip("\r\n")
        if not raw.strip():
            return []
        try:
            # orjson refuses the surrogates that stand for undecodable bytes; json takes them.
            data: Any = json.loads(raw) if dirty else orjson.loads(raw)
        except ValueError:
            return [self._error_record(text, offset, length)]
        if not isinstance(data, dict) or not isinstance(data.get("message"), str):
            return [self._error_record(text, offset, length)]
        stamp = data.get("timestamp")
        ts_us = self._times.iso(stamp) if isinstance(stamp, str) else None
        if ts_us is None:
            return [self._error_record(text, offset, length)]
        redacting = self._settings.redact_literals
        if redacting:
            shown = {
                k: redact_pg(v) if k in _REDACTED_KEYS and isinstance(v, str) else v
                for k, v in data.items()
            }
            raw = orjson.dumps(shown).decode()
        record = self._new_record(ts_us, offset, length, raw)
        _text(record, "user", data.get("user"))
        _text(record, "database", data.get("dbname"))
        _int(record, "pid", data.get("pid"))
        host = data.get("remote_host")
        if isinstance(host, str) and host:
            record["host"] = host
            port = data.get("remote_port")
            if isinstance(port, int):
                record["port"] = port
                record["client"] = f"{host}({port})"
            else:
                record["client"] = host
        _text(record, "session_id", data.get("session_id"))
        _int(record, "session_line", data.get("line_num"))
        _text(record, "command_tag", data.get("ps"))
        start = data.get("session_start")
        if isinstance(start, str) and (start_us := self._times.iso(start)) is not None:
            record["session_start_us"] = start_us
        _text(record, "virtual_transaction_id", data.get("vxid"))
        _int(record, "transaction_id", data.get("txid"))
        state = data.get("state_code")
        record["sqlstate"] = state if isinstance(state, str) and state else "00000"
        _text(record, "application_name", data.get("application_name"))
        _text(record, "backend_type", data.get("backend_type"))
        _int(record, "leader_pid", data.get("leader_pid"))
        _int(record, "pg_query_id", data.get("query_id"))
        secondary = {
            name: value
            for key, name in _SECONDARY_KEYS
            if isinstance(value := data.get(key), str) and value
        }
        function = data.get("func_name")
        if isinstance(function, str) and function:
            secondary["LOCATION"] = (
                f"{function}, {data.get('file_name')}:{data.get('file_line_num')}"
            )
        severity = data.get("error_severity")
        interpret(
            record,
            severity if isinstance(severity, str) and severity else "LOG",
            data["message"],
            secondary,
            redacting=redacting,
        )
        return [record]


def _text(record: Record, key: str, value: object) -> None:
    if isinstance(value, str):
        set_if(record, key, value)


def _int(record: Record, key: str, value: object) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        record[key] = value
