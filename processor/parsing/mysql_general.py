"""MySQL general query log, 5.7/8.0 (Aurora 2 and 3) and <= 5.6 styles.

5.7+ writes ``<ISO time>\\t<id> <Command>\\t<argument>`` on every entry. <= 5.6 writes
``YYMMDD H:MM:SS\\t<id> <Command> <argument>`` only when the second changed and starts the
other entries with whitespace, so the last timestamp is carried (through checkpoints too). An
entry starts at a line with a thread id followed by a command from MySQL's fixed list, so the
lines of a multi-line query never split it. The server's start-up banner yields no record.
"""

from __future__ import annotations

import re
from typing import ClassVar

from processor.parsing.entries import EntryParser, entry_text, set_if, without_rds_marker
from processor.parsing.fingerprint import cached_fingerprint, redact
from processor.parsing.records import CheckpointState, Record

__all__ = ["COMMANDS", "MySqlGeneralParser"]

COMMANDS = (
    "Sleep|Quit|Init DB|Query|Field List|Create DB|Drop DB|Refresh|Shutdown|Statistics|"
    "Processlist|Connect|Kill|Debug|Ping|Time|Delayed insert|Change user|Binlog Dump(?: GTID)?|"
    "Table Dump|Connect Out|Register (?:Slave|Replica)|Prepare|Execute|Long Data|Close stmt|"
    "Reset stmt|Set option|Fetch|Daemon|Reset Connection|Error"
)
_ISO_TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"
_OLD_TS = r"\d{6}\s+\d{1,2}:\d\d:\d\d"
_START = re.compile(
    rf"^(?:{_ISO_TS}|{_OLD_TS}|[ \t]*)[ \t]+\d+ (?:{COMMANDS})(?:[ \t]|$)".encode(), re.M
)
_BANNER = re.compile(
    rb"^(?:[^\n]*(?:mysqld|mariadbd)(?:\.exe)?, Version: |T[cC][pP] [pP]ort: \d"
    rb"|Time\s+Id\s+Command\s+Argument)",
    re.M,
)
_ENTRY = re.compile(
    rf"(?:(?P<iso>{_ISO_TS})|(?P<old>{_OLD_TS}))?[ \t]+(?P<id>\d+) (?P<cmd>{COMMANDS})"
    r"(?:[ \t]+|$)(?P<arg>.*)",
    re.S,
)
# Commands whose argument is SQL text.
_SQL_COMMANDS = frozenset({"Query", "Prepare", "Execute"})
_CONNECT = re.compile(r"(?P<user>[^@\s]*)@(?P<host>\S*) (?:as \S* )?on ?(?P<db>\S*)")


class MySqlGeneralParser(EntryParser):
    """Incremental parser of the MySQL general query log; see the module docstring."""

    record_type: ClassVar[str] = "mysql_general"

    _carried_ts: int | None = None

    def _load_state(self, state: CheckpointState) -> None:
        carried = state.get("ts_us")
        self._carried_ts = carried if isinstance(carried, int) else None

    def _save_state(self) -> CheckpointState:
        return {"ts_us": self._carried_ts}

    def _boundaries(self, buf: bytearray, pos: int, end: int) -> list[int]:
        starts = [m.start() for m in _START.finditer(buf, pos, end)]
        if buf.find(b"Version: ", pos, end) >= 0 or buf.find(b"Command", pos, end) >= 0:
            banners = [m.start() for m in _BANNER.finditer(buf, pos, end)]
            starts = sorted({*starts, *banners})
        return starts

    def _parse_entry(self, text: str, offset: int, length: int, dirty: bool) -> list[Record]:
        entry = entry_text(text)
        if not entry.strip():
            return []
        m = _ENTRY.match(entry)
        if m is None:
            if _BANNER.match(entry.encode("utf-8", "surrogateescape")):
                return []
            return [self._error_record(text, offset, length)]
        if m["iso"] is not None:
            ts_us = self._times.iso(m["iso"])
        elif m["old"] is not None:
            ts_us = self._carried_ts = self._times.mysql_old(m["old"])
        else:
            ts_us = self._carried_ts
        command = m["cmd"]
        argument = without_rds_marker(m["arg"])
        if argument.endswith((" ", "\t")) and "\n" not in argument:
            argument = argument.rstrip()
        redacting = self._settings.redact_literals
        message = entry
        if redacting:
            message = entry[: m.start("arg")] + redact(argument)
        record = self._new_record(ts_us, offset, length, message)
        record["thread_id"] = int(m["id"])
        record["command"] = command
        if command in _SQL_COMMANDS and argument.strip():
            fp, qid = cached_fingerprint(argument)
            record["statement"] = redact(argument) if redacting else argument
            record["fingerprint"] = fp
            record["query_id"] = qid
        elif command == "Connect":
            connect = _CONNECT.match(argument)
            if connect is not None:
                set_if(record, "user", connect["user"])
                set_if(record, "host", connect["host"])
                set_if(record, "database", connect["db"])
            set_if(record, "argument", argument)
        elif command == "Init DB":
            set_if(record, "database", argument.strip())
        else:
            set_if(record, "argument", redact(argument) if redacting else argument)
        return [record]
