"""MySQL slow query log (Aurora MySQL 2 and 3, MySQL 5.0-8.x, Percona Server, MariaDB).

An entry is a block of ``#`` header lines (``# Time``, ``# User@Host``, ``# Query_time`` and
the extra lines of ``log_slow_extra``, Percona and MariaDB), then optional ``use db;`` and
``SET timestamp=N;`` lines, then the statement (or ``# administrator command: X;``). A new
entry starts at a ``# Time:``, ``# User@Host:`` (``# User:``) or ``# Query_time:`` line that
follows a statement line (``# Time:`` always does), so header lines inside one block never
split it. The server's
start-up banner (``mysqld, Version: ...``, ``Tcp port: ...``, ``Time Id Command Argument``)
may appear anywhere, repeatedly: it ends the entry before it, resets the ``use`` context, and
yields no record.

``use db;`` is written only when the schema differs from the last one written to the file, so
the last one is carried forward (and through checkpoints); an entry's ``database`` is its
``Schema:`` (Percona/MariaDB), else the database it switched to, else the carried one.
"""

from __future__ import annotations

import re
from typing import ClassVar

from processor.parsing.entries import (
    RDS_TRUNCATION_MARKER,
    EntryParser,
    entry_text,
    set_if,
    without_rds_marker,
)
from processor.parsing.fingerprint import cached_fingerprint, redact
from processor.parsing.options import ParsingSettings
from processor.parsing.records import CheckpointState, ParserCheckpoint, Record

__all__ = ["MySqlSlowParser"]

# A line that may start an entry, with the header lines after it: one match per header block,
# so the lines inside a block are never candidates (the statement line ends the block). The
# server writes `# Time:` only as an entry's first line, so it always starts a new block.
_CANDIDATE = re.compile(
    rb"^# (?:Time|User@Host|User|Query_time): [^\n]*\n"
    rb"(?:#(?! administrator command: | Time: )[^\n]*\n)*",
    re.M,
)
# The same blocks, each found from the newline before it, and ending before its last newline
# (where the next may begin): searching for a newline is a fast loop, where `^` made the
# engine try a match at every byte of the statements.
_NEXT_CANDIDATE = re.compile(
    rb"\n# (?:Time|User@Host|User|Query_time): [^\n]*(?=\n)"
    rb"(?:\n#(?! administrator command: | Time: )[^\n]*(?=\n))*"
)
_BANNER_HINT = b", Version: "
_BANNER = re.compile(
    r"^(?:.*(?:mysqld|mariadbd)(?:\.exe)?, Version: .*(?:started with:|embedded library)\s*"
    r"|T[cC][pP] [pP]ort: \d+,?\s+(?:Unix socket|Named Pipe): .*"
    r"|Time\s+Id\s+Command\s+Argument\s*)$"
)
_BANNER_START = re.compile(rb"^[^\n]*(?:mysqld|mariadbd)(?:\.exe)?, Version: ", re.M)
_USER_HOST = re.compile(
    r"# User(?:@Host)?: (?P<priv>[^\[]*?)(?:\[(?P<user>[^\]]*)\])? @ (?P<host>\S*) ?"
    r"\[(?P<ip>[^\]]*)\](?:\s+Id:\s*(?P<id>\d+))?\s*$"
)
_QUERY_TIME = re.compile(
    r"# Query_time: (?P<qt>\S+)(?:\s+Lock_time: (?P<lt>\S+))?(?:\s+Rows_sent: (?P<rs>\d+))?"
    r"(?:\s+Rows_examined: (?P<re>\d+))?(?P<rest>.*)$"
)
_KEY_VALUE = re.compile(r"(\w+): (\S*)")
_USE = re.compile(r"use (`?)(.+)\1;$", re.I)
_SET_TIMESTAMP = re.compile(r"SET (?:last_insert_id=\d+,)?(?:insert_id=\d+,)?timestamp=(\d+);$")
_NUMBER = re.compile(r"\d+(?:\.\d+)?$")
_ADMIN = "# administrator command: "
# The entry MySQL 5.7+/8.0 and Aurora write; anything else takes the general path.
_STANDARD = re.compile(
    # The first alternative is the stamp MySQL 5.7+ and Aurora write, split for
    # Timestamps.utc_us; the second (the general form) matches all it matches, so the match
    # is the same as with the second alone.
    r"# Time: (?:(?P<minute>[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}):"
    r"(?P<sec>[0-9]{2})\.(?P<us>[0-9]{6})Z|(?P<time>\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:\d\d)?))\n"
    # The User@Host line is read by _USER_HOST_LINE (see _user_host_fields), once per distinct
    # line: connections keep theirs entry after entry.
    r"# User@Host: (?P<uh>[^\n]*)\n"
    r"(?P<pre>(?:# (?!Query_time: |Time: |User@Host: |User: |administrator command: )[^\n]*\n)*)"
    # [0-9], not \d: \d tests each character for a Unicode digit through a function call. A
    # number with other digits is no match (a literal or [0-9] cannot follow it; (?!\d) where
    # anything could), so the general path reads it, as before.
    r"# Query_time: (?P<qt>[0-9]+\.[0-9]+)[ \t]+Lock_time: (?P<lt>[0-9]+\.[0-9]+)"
    r"[ \t]+Rows_sent: (?P<rs>[0-9]+)[ \t]+Rows_examined: (?P<re>[0-9]+)(?!\d)(?P<rest>[^\n]*)\n"
    r"(?P<post>(?:#(?! administrator command: | Time: | User@Host: | User: | Query_time: )"
    r"[^\n]*\n)*)"
    r"(?:use (?P<q>`?)(?P<db>[^\n`]+)(?P=q);\n)?"
    r"(?:SET timestamp=(?P<set>[0-9]+);\n)?"
    # Statements that start like a preamble line or a header line are left to the general
    # path, which decides what they are. (Only ASCII letters lower to "use ".)
    r"(?P<stmt>(?!#|SET |[Uu][Ss][Ee] )[^\n].*)",
    re.S,
)
# The User@Host line of _STANDARD, after "# User@Host: ".
_USER_HOST_LINE = re.compile(
    r"(?P<priv>[^\[\n]*)\[(?P<user>[^\]\n]*)\] @ (?P<host>\S*) ?\[(?P<ip>[^\]\n]*)\]"
    r"(?:[ \t]+Id:[ \t]*(?P<id>\d+))?[ \t]*"
)
_SLOW_EXTRA_KEYS = (
    "thread_id", "errno", "killed", "bytes_received", "bytes_sent", "read_first", "read_last",
    "read_key", "read_next", "read_prev", "read_rnd", "read_rnd_next", "sort_merge_passes",
    "sort_range_count", "sort_rows", "sort_scan_count", "tmp_disk_tables", "tmp_tables",
)  # fmt: skip
# [0-9], not \d (see _STANDARD): when it does not match, _key_values reads the pairs, as the
# general path always does.
_SLOW_EXTRA = re.compile(
    r" Thread_id: ([0-9]+) Errno: ([0-9]+) Killed: ([0-9]+) Bytes_received: ([0-9]+)"
    r" Bytes_sent: ([0-9]+) Read_first: ([0-9]+) Read_last: ([0-9]+) Read_key: ([0-9]+)"
    r" Read_next: ([0-9]+) Read_prev: ([0-9]+) Read_rnd: ([0-9]+) Read_rnd_next: ([0-9]+)"
    r" Sort_merge_passes: ([0-9]+) Sort_range_count: ([0-9]+) Sort_rows: ([0-9]+)"
    r" Sort_scan_count: ([0-9]+) Created_tmp_disk_tables: ([0-9]+) Created_tmp_tables: ([0-9]+)"
    r"(?: Count_hit_tmp_table_size: ([0-9]+))?\s+Start: (\S*)\s+End: (\S*)"
    r"\s*$"
)

# Header keys users query, with the record key and type they get. Keys not listed stay in
# `message` only: typing an unknown key by its first value would break type stability.
_INT, _FLOAT, _BOOL, _STR, _TIME = range(5)
_LINE_CACHE_ENTRIES = 1024
_FIELDS: dict[str, tuple[str, int]] = {
    "Query_time": ("query_time_s", _FLOAT),
    "Lock_time": ("lock_time_s", _FLOAT),
    "Rows_sent": ("rows_sent", _INT),
    "Rows_examined": ("rows_examined", _INT),
    "Rows_affected": ("rows_affected", _INT),
    "Rows_read": ("rows_read", _INT),
    "Thread_id": ("thread_id", _INT),
    "Id": ("thread_id", _INT),
    "Schema": ("database", _STR),
    "Last_errno": ("errno", _INT),
    "Errno": ("errno", _INT),
    "Killed": ("killed", _INT),
    "Bytes_sent": ("bytes_sent", _INT),
    "Bytes_received": ("bytes_received", _INT),
    "Tmp_tables": ("tmp_tables", _INT),
    "Tmp_disk_tables": ("tmp_disk_tables", _INT),
    "Tmp_table_sizes": ("tmp_table_sizes", _INT),
    "Created_tmp_tables": ("tmp_tables", _INT),
    "Created_tmp_disk_tables": ("tmp_disk_tables", _INT),
    "Count_hit_tmp_table_size": ("count_hit_tmp_table_size", _INT),
    "Read_first": ("read_first", _INT),
    "Read_last": ("read_last", _INT),
    "Read_key": ("read_key", _INT),
    "Read_next": ("read_next", _INT),
    "Read_prev": ("read_prev", _INT),
    "Read_rnd": ("read_rnd", _INT),
    "Read_rnd_next": ("read_rnd_next", _INT),
    "Merge_passes": ("sort_merge_passes", _INT),
    "Sort_merge_passes": ("sort_merge_passes", _INT),
    "Sort_range_count": ("sort_range_count", _INT),
    "Sort_rows": ("sort_rows", _INT),
    "Sort_scan_count": ("sort_scan_count", _INT),
    "QC_Hit": ("qc_hit", _BOOL),
    "QC_hit": ("qc_hit", _BOOL),
    "Full_scan": ("full_scan", _BOOL),
    "Full_join": ("full_join", _BOOL),
    "Tmp_table": ("tmp_table", _BOOL),
    "Tmp_table_on_disk": ("tmp_table_on_disk", _BOOL),
    "Filesort": ("filesort", _BOOL),
    "Filesort_on_disk": ("filesort_on_disk", _BOOL),
    "Priority_queue": ("priority_queue", _BOOL),
    "InnoDB_IO_r_ops": ("innodb_io_r_ops", _INT),
    "InnoDB_IO_r_bytes": ("innodb_io_r_bytes", _INT),
    "InnoDB_IO_r_wait": ("innodb_io_r_wait_s", _FLOAT),
    "InnoDB_rec_lock_wait": ("innodb_rec_lock_wait_s", _FLOAT),
    "InnoDB_queue_wait": ("innodb_queue_wait_s", _FLOAT),
    "InnoDB_pages_distinct": ("innodb_pages_distinct", _INT),
    "InnoDB_trx_id": ("innodb_trx_id", _STR),
    "Log_slow_rate_type": ("log_slow_rate_type", _STR),
    "Log_slow_rate_limit": ("log_slow_rate_limit", _FLOAT),
    "Start": ("start_time_us", _TIME),
    "End": ("end_time_us", _TIME),
}


class MySqlSlowParser(EntryParser):
    """Incremental parser of the MySQL slow query log; see the module docstring."""

    record_type: ClassVar[str] = "mysql_slow"

    _db: str | None = None

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
        self._z_minutes = self._times.z_minutes
        # Fields of the header lines seen recently (see _header_lines).
        self._line_fields: dict[str, Record] = {}
        # Fields of the key-value pairs after Rows_examined seen recently, when they are not
        # log_slow_extra's (see _parse_standard).
        self._rest_fields: dict[str, Record] = {}
        # Fields of the standard entry's User@Host lines seen recently (see _user_host_fields).
        self._user_hosts: dict[str, Record | None] = {}

    def _load_state(self, state: CheckpointState) -> None:
        db = state.get("db")
        self._db = db if isinstance(db, str) else None

    def _save_state(self) -> CheckpointState:
        return {"db": self._db}

    def _boundaries(self, buf: bytearray, pos: int, end: int) -> list[int]:
        candidates = _candidates(buf, pos, end)
        # Every complete `# Time:` line is a candidate, and starts an entry. Aurora and MySQL
        # 5.7+ begin every entry with one: when there are as many `# Time:` lines as
        # candidates, all candidates start entries, which one count says for the whole page.
        lines_end = buf.rfind(b"\n", pos, end) + 1
        times = buf.count(b"\n# Time: ", max(pos - 1, 0), lines_end)
        if pos == 0 and lines_end and buf.startswith(b"# Time: "):
            times += 1
        if times == len(candidates):
            starts = candidates
        else:
            starts = []
            for at in candidates:
                if at == 0 or buf.startswith(b"# Time: ", at):
                    starts.append(at)
                    continue
                # Inside a header block the previous line is a "#" line too; the administrator
                # command line is the statement of the entry before, so it does end that entry.
                prev = buf.rfind(b"\n", 0, at - 1) + 1
                if buf[prev] != 0x23 or buf.startswith(b"# administrator command: ", prev):
                    starts.append(at)
        if buf.find(_BANNER_HINT, pos, end) >= 0:
            banners = [m.start() for m in _BANNER_START.finditer(buf, pos, end)]
            starts = sorted({*starts, *banners})
        return starts

    def _parse_entry(self, text: str, offset: int, length: int, dirty: bool) -> list[Record]:
        if text.startswith("# Time: 2"):
            record = self._parse_standard(text, offset, length)
            if record is not None:
                return [record]
        return self._parse_general(text, offset, length)

    def _parse_standard(self, text: str, offset: int, length: int) -> Record | None:
        """The fast path for the entry MySQL 5.7+ and Aurora write by default; None when the
        entry has any other shape (the general path then gives the same result, slower)."""
        m = _STANDARD.match(text)
        if m is None:
            return None
        (minute, seconds, micros, when, user_host, pre, qt, lt, rs, rows_examined, rest, post, _,
         db, set_ts, statement) = m.groups()  # fmt: skip
        who = self._user_hosts.get(user_host)
        if who is None:
            who = self._user_host_fields(user_host)
            if who is None:
                return None
        if RDS_TRUNCATION_MARKER in statement:
            statement = without_rds_marker(statement)
        if statement[-2:] == ";\n":  # the usual end, for which the rule below comes to this
            statement = statement[:-2]
        else:
            statement = statement.rstrip()
            if statement[-1:] == ";":
                statement = statement[:-1]
        if not statement or "\r" in statement:
            return None
        if db is not None:
            self._db = db
        message = text.rstrip("\r\n")
        redacting = self._settings.redact_literals
        if redacting:
            message = message[: m.start("stmt")] + redact(message[m.start("stmt") :])
        # What _new_record does, without the call; the minute's start is looked up here,
        # as utc_us would (seconds past 60 are no time).
        if minute is None:
            ts_us = self._times.iso(when)
        elif (start := self._z_minutes.get(minute)) is not None and seconds <= "60":
            ts_us = start + int(seconds + micros)
        else:
            ts_us = self._times.utc_us(minute, seconds, micros)
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
        if who:
            record.update(who)
        # Same order as the general path, so a key written twice ends with the same value.
        if pre:
            self._header_lines(record, pre)
        record["query_time_s"] = float(qt)
        record["lock_time_s"] = float(lt)
        record["rows_sent"] = int(rs)
        record["rows_examined"] = int(rows_examined)
        if rest:
            # The fields after Rows_examined: log_slow_extra's (with times, new each entry),
            # else key-value pairs that repeat like header lines and are read once each.
            fields = self._rest_fields.get(rest)
            if fields is None:
                fields = self._extra(rest)
                if fields is None:
                    fields = {}
                    self._key_values(fields, rest)
                    known = self._rest_fields
                    if len(known) >= _LINE_CACHE_ENTRIES:
                        known.clear()
                    known[rest] = fields
            if fields:
                record.update(fields)
        if post:
            self._header_lines(record, post)
        if set_ts is not None and "start_time_us" not in record:
            record["start_time_us"] = int(set_ts) * 1_000_000
        if "database" not in record and self._db is not None:
            record["database"] = self._db
        fp, qid = cached_fingerprint(statement)
        record["statement"] = redact(statement) if redacting else statement
        record["fingerprint"] = fp
        record["query_id"] = qid
        return record

    def _user_host_fields(self, line: str) -> Record | None:
        """The fields of a User@Host line (after its label) as the general path reads them,
        remembered; None when the standard entry's line has another shape."""
        m = _USER_HOST_LINE.fullmatch(line)
        if m is None:
            return None
        priv, user, host, ip, thread = m.groups()
        fields: Record = {}
        if user or priv:
            fields["user"] = user or priv
        if host:
            fields["host"] = host
        if ip:
            fields["ip"] = ip
        if thread is not None:
            fields["thread_id"] = int(thread)
        known = self._user_hosts
        if len(known) >= _LINE_CACHE_ENTRIES:
            known.clear()
        known[line] = fields
        return fields

    def _extra(self, rest: str) -> Record | None:
        """The log_slow_extra fields of MySQL 8.0 in their fixed order, or None."""
        m = _SLOW_EXTRA.match(rest)
        if m is None:
            return None
        counters = m.groups()
        fields: Record = dict(zip(_SLOW_EXTRA_KEYS, map(int, counters[:18]), strict=True))
        if counters[18] is not None:
            fields["count_hit_tmp_table_size"] = int(counters[18])
        start, end = counters[19], counters[20]
        if start and (us := self._times.iso(start)) is not None:
            fields["start_time_us"] = us
        if end and (us := self._times.iso(end)) is not None:
            fields["end_time_us"] = us
        return fields

    def _parse_general(self, text: str, offset: int, length: int) -> list[Record]:
        """Any entry shape: header lines one by one, then preamble, then the statement."""
        lines = text.split("\n")
        if lines and not lines[-1]:
            lines.pop()
        if lines and not lines[0].startswith("#"):
            return self._banner_or_garbage(lines, text, offset, length)
        fields: Record = {}
        ts_us: int | None = None
        have_query_time = False
        i = 0
        n = len(lines)
        while i < n:
            line = lines[i].rstrip("\r")
            if not line.startswith("#") or line.startswith(_ADMIN):
                break
            if line.startswith("# Time: "):
                value, _, user_host = line[8:].partition(" # User@Host: ")
                value = value.strip()
                ts_us = (
                    self._times.iso(value) if value[4:5] == "-" else self._times.mysql_old(value)
                )
                if user_host:
                    _user_host(fields, "# User@Host: " + user_host)
            elif line.startswith(("# User@Host: ", "# User: ")):
                _user_host(fields, line)
            elif line.startswith("# Query_time: "):
                have_query_time = self._query_time(fields, line)
            else:
                self._key_values(fields, line)
            i += 1
        if not have_query_time:
            return [self._error_record(text, offset, length)]
        # `use db;` and `SET timestamp=N;` precede the statement; the last line is always the
        # statement, so a client's own `use x` or `SET timestamp` is never mistaken for them.
        entry_db: str | None = None
        set_ts_us: int | None = None
        while i < n - 1:
            line = lines[i].rstrip("\r")
            if line[:4].lower() == "use ":
                use = _USE.match(line)
                if use is None:
                    break
                entry_db = use.group(2)
            elif line.startswith("SET ") and "timestamp=" in line:
                set_ts = _SET_TIMESTAMP.match(line)
                if set_ts is None:
                    break
                set_ts_us = int(set_ts.group(1)) * 1_000_000
            else:
                break
            i += 1
        statement = without_rds_marker("\n".join(lines[i:])).rstrip()
        if "\r" in statement:
            statement = statement.replace("\r\n", "\n")
        if statement.endswith(";"):
            statement = statement[:-1]
        if statement.startswith(_ADMIN):
            statement = statement[2:]  # pt-query-digest's form: "administrator command: Quit"
        if entry_db is not None:
            self._db = entry_db
        if ts_us is None:
            ts_us = set_ts_us
        if set_ts_us is not None and "start_time_us" not in fields:
            fields["start_time_us"] = set_ts_us

        message = entry_text(text)
        if self._settings.redact_literals:
            head = "\n".join(lines[:i])
            body = redact("\n".join(lines[i:]))
            message = entry_text(f"{head}\n{body}" if head else body)
        record = self._new_record(ts_us, offset, length, message)
        record.update(fields)
        if statement.startswith(_ADMIN[2:]):
            record["admin_command"] = statement[len(_ADMIN) - 2 :].strip()
        elif statement[:4].lower() == "use " and (use := _USE.match(statement + ";")):
            record["database"] = use.group(2)
        if "database" not in record and self._db is not None:
            record["database"] = self._db
        if statement:
            fp, qid = cached_fingerprint(statement)
            record["statement"] = redact(statement) if self._settings.redact_literals else statement
            record["fingerprint"] = fp
            record["query_id"] = qid
        return [record]

    def _banner_or_garbage(
        self, lines: list[str], text: str, offset: int, length: int
    ) -> list[Record]:
        """A start-up banner (no record), or text before the first entry (one error record)."""
        consumed = 0
        for line in lines:
            if not _BANNER.match(line.rstrip("\r")):
                break
            consumed += len(line) + 1
        if consumed:
            self._db = None  # a new server log session: the file's `use` cache starts empty
        rest = text[consumed:]
        if not rest.strip():
            return []
        start = offset + len(text[:consumed].encode("utf-8", "surrogateescape"))
        return [self._error_record(rest, start, length - (start - offset))]

    def _query_time(self, fields: Record, line: str) -> bool:
        match = _QUERY_TIME.match(line)
        if match is None:
            return False
        qt, lt, rs, rows_examined, rest = match.groups()
        if _NUMBER.match(qt):
            fields["query_time_s"] = float(qt)
        if lt is not None and _NUMBER.match(lt):
            fields["lock_time_s"] = float(lt)
        if rs is not None:
            fields["rows_sent"] = int(rs)
        if rows_examined is not None:
            fields["rows_examined"] = int(rows_examined)
        if rest:
            self._key_values(fields, rest)
        return True

    def _header_lines(self, record: Record, lines: str) -> None:
        """:meth:`_key_values` of each of ``lines``, read once per distinct line.

        Servers repeat the same extra header lines (``# Schema: shop  Last_errno: 0``,
        ``# QC_Hit: No  Full_scan: No ...``) entry after entry. Updating with a line's fields
        gives the same record as setting them one by one: keys new to the record in their
        order on the line, each with its last valid value.
        """
        known = self._line_fields
        for line in lines.split("\n"):
            fields = known.get(line)
            if fields is None:
                fields = {}
                self._key_values(fields, line)
                if len(known) >= _LINE_CACHE_ENTRIES:
                    known.clear()
                known[line] = fields
            if fields:
                record.update(fields)

    def _key_values(self, fields: Record, line: str) -> None:
        for key, value in _KEY_VALUE.findall(line):
            spec = _FIELDS.get(key)
            if spec is None:
                continue
            name, kind = spec
            if kind == _INT:
                if value.isdigit():
                    fields[name] = int(value)
            elif kind == _FLOAT:
                if _NUMBER.match(value):
                    fields[name] = float(value)
            elif kind == _BOOL:
                if value in ("Yes", "No"):
                    fields[name] = value == "Yes"
            elif kind == _TIME:
                us = self._times.iso(value) if value else None
                if us is not None:
                    fields[name] = us
            elif value:
                fields[name] = value


def _candidates(buf: bytearray, pos: int, end: int) -> list[int]:
    """Where the ``_CANDIDATE`` blocks in ``buf[pos:end]`` start (``pos`` is a line start)."""
    found: list[int] = []
    if pos == 0:  # the one line start without a newline before it
        first = _CANDIDATE.match(buf, 0, end)
        if first is not None:
            found.append(0)
            pos = first.end()
    found += [match.start() + 1 for match in _NEXT_CANDIDATE.finditer(buf, max(pos - 1, 0), end)]
    return found


def _user_host(fields: Record, line: str) -> None:
    match = _USER_HOST.match(line.rstrip())
    if match is None:
        return
    priv, user, host, ip, thread = match.groups()
    set_if(fields, "user", user or priv)
    set_if(fields, "host", host)
    set_if(fields, "ip", ip)
    if thread is not None:
        fields["thread_id"] = int(thread)
