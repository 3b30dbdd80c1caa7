"""Entry-start grammar of each log kind, from ../shared/reference/log-formats.md.

:func:`entry_problems` checks one written entry the way a line-based parser will split it:
its first line must start an entry of its kind, and none of its other lines may (or the
parser would cut the entry in two). It is not a parser; the parsers are tested on their own.
"""

from __future__ import annotations

import csv
import io
import re

# Slow and general logs (section 2, 3).
HDR = re.compile(
    r"^(?:.*(?:mysqld|mariadbd)(?:\.exe)?, Version: .*(?:started with:|embedded library)\s*"
    r"|T[cC][pP] [pP]ort: \d+,?\s+(?:Unix socket|Named Pipe): .*"
    r"|Time\s+Id\s+Command\s+Argument\s*)$"
)
TIME = re.compile(
    r"^# Time: (?:(?P<iso>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?)"
    r"|(?P<old>\d{6}\s+\d{1,2}:\d\d:\d\d(?:\.\d+)?))\s*(?:(?P<uh># User@Host: .*))?$"
)
UH = re.compile(
    r"^# User@Host: (?P<priv_user>[^\[]*?)(?:\[(?P<user>[^\]]*)\])? @ (?P<host>\S*) ?"
    r"\[(?P<ip>[^\]]*)\](?:\s+Id:\s*(?P<id>\d+))?\s*$"
)
QT = re.compile(
    r"^# Query_time: (?P<qt>[\d.]+)(?:\s+Lock_time: (?P<lt>[\d.]+))?"
    r"(?:\s+Rows_sent: (?P<rs>\d+))?(?:\s+Rows_examined: (?P<re>\d+))?(?P<rest>.*)$"
)
USE = re.compile(r"^use (`?)(?P<db>.+)\1;$", re.I)
SETTS = re.compile(r"^SET (?:last_insert_id=\d+,)?(?:insert_id=\d+,)?timestamp=(?P<ts>\d+);$")
SLOW_BOUNDARY = re.compile(r"^# (?:Time|User@Host|User|Query_time):")
CMDS = (
    r"Sleep|Quit|Init DB|Query|Field List|Create DB|Drop DB|Refresh|Shutdown|Statistics|"
    r"Processlist|Connect|Kill|Debug|Ping|Time|Delayed insert|Change user|Binlog Dump(?: GTID)?|"
    r"Table Dump|Connect Out|Register (?:Slave|Replica)|Prepare|Execute|Long Data|Close stmt|"
    r"Reset stmt|Set option|Fetch|Daemon|Reset Connection|Error"
)
GEN_NEW = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(?:Z|[+-]\d\d:\d\d))\s+(?P<id>\d+)\s"
    r"(?P<cmd>" + CMDS + r")(?:\t|\s+|$)(?P<arg>.*)$"
)
# Error log (section 4).
ERR80 = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(?:Z|[+-]\d\d:\d\d)) (?P<thread>\d+) "
    r"\[(?P<prio>System|ERROR|Error|Warning|Note)\] \[(?P<code>MY-\d+)\] \[(?P<subsys>[\w-]+)\] "
    r"(?P<msg>.*)$"
)
ERR57 = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(?:Z|[+-]\d\d:\d\d))\s+(?P<thread>\d+) "
    r"\[(?P<prio>\w+)\] (?P<msg>.*)$"
)
ERR55 = re.compile(r"^(?P<ts>\d{6}\s+\d{1,2}:\d\d:\d\d)\s*(?:\[(?P<prio>\w+)\]\s)?(?P<msg>.*)$")
DAS = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?P<tid>\d+):\[DAS\]\[(?P<prio>\w+)\]: (?P<msg>.*)$"
)
ERROR_STARTS = (ERR80, ERR57, ERR55, DAS)
# Audit (section 5).
AUDIT = re.compile(
    r"^(?P<ts>\d{16}|\d{8} \d\d:\d\d:\d\d),(?P<serverhost>[^,]*),(?P<user>[^,]*),(?P<host>[^,]*),"
    r"(?P<connid>\d+),(?P<queryid>\d+),(?P<op>[A-Z_]+),(?P<db>[^,]*),"
    r"(?P<object>'(?:[^'\\]|\\.)*'|[^,]*),(?P<retcode>-?\d*)(?P<extra>(?:,.*)?)$"
)
# PostgreSQL (section 6).
SEV = r"DEBUG[1-5]|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|QUERY|CONTEXT|LOCATION|STATEMENT"  # noqa: E501
RDS = re.compile(
    r"^(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{3})? (?:[A-Za-z]{2,5}|[+-]\d\d(?::?\d\d)?)):"
    r"(?P<remote>\[local\]|.*?\(\d+\)|[^:]*):(?P<user>[^@]*)@(?P<db>[^:]*):\[(?P<pid>\d+)\]:"
    r"(?P<sev>" + SEV + r"):\s+(?P<msg>.*)$"
)
PG_DEFAULT = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [A-Z]{2,5} \[(?P<pid>\d+)\] (?P<sev>" + SEV + r"):\s+"
)
PG_SECONDARY = {"DETAIL", "HINT", "QUERY", "CONTEXT", "LOCATION", "STATEMENT"}
CSV_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC$")
CSV_COLUMNS = 26


def entry_problems(kind: str, name: str, data: bytes, *, header: bool) -> list[str]:
    """What a line-based reader would get wrong about this entry (empty: nothing)."""
    if not data.endswith(b"\n"):
        return ["does not end with a newline"]
    text = data.decode("utf-8")
    lines = text[:-1].split("\n")
    if header:
        return [f"header line {line!r}" for line in lines if not HDR.match(line)]
    if kind == "error":
        return _error(lines)
    if kind == "slowquery":
        return _slow(lines)
    if kind == "general":
        return _general(lines)
    if kind == "audit":
        if len(lines) != 1:
            return ["an audit event spans lines"]
        return [] if AUDIT.match(lines[0]) else [f"not an audit line: {lines[0][:120]!r}"]
    if name.endswith(".csv"):
        return _csv(text)
    return _postgresql(lines)


def _starts(line: str, patterns: tuple[re.Pattern[str], ...]) -> bool:
    return any(pattern.match(line) for pattern in patterns)


def _error(lines: list[str]) -> list[str]:
    problems = []
    if not _starts(lines[0], ERROR_STARTS):
        problems.append(f"does not start an error entry: {lines[0][:120]!r}")
    problems += [
        f"continuation starts an entry: {line[:120]!r}"
        for line in lines[1:]
        if _starts(line, ERROR_STARTS)
    ]
    return problems


def _slow(lines: list[str]) -> list[str]:
    if len(lines) < 5:
        return [f"too short for a slow entry: {lines!r}"]
    expected = [(TIME, "# Time"), (UH, "# User@Host"), (QT, "# Query_time")]
    problems = [
        f"line {index} is not {label}: {lines[index][:120]!r}"
        for index, (pattern, label) in enumerate(expected)
        if not pattern.match(lines[index])
    ]
    rest = lines[3:]
    if USE.match(rest[0]):
        rest = rest[1:]
    if not SETTS.match(rest[0]):
        problems.append(f"no SET timestamp: {rest[0][:120]!r}")
    statement = rest[1:]
    if not statement:
        problems.append("no statement")
    problems += [
        f"statement line ends the entry: {line[:120]!r}"
        for line in statement
        if SLOW_BOUNDARY.match(line) or HDR.match(line)
    ]
    return problems


def _general(lines: list[str]) -> list[str]:
    problems = [] if GEN_NEW.match(lines[0]) else [f"not a general line: {lines[0][:120]!r}"]
    problems += [
        f"continuation starts an entry: {line[:120]!r}"
        for line in lines[1:]
        if GEN_NEW.match(line) or HDR.match(line)
    ]
    return problems


def _postgresql(lines: list[str]) -> list[str]:
    first = RDS.match(lines[0])
    if first is None:
        default = PG_DEFAULT.match(lines[0])
        if default is None:
            return [f"not a PostgreSQL line: {lines[0][:120]!r}"]
        if len(lines) != 1:
            return ["a default-prefix start-up line with continuations"]
        return []
    problems = []
    if first["sev"] in PG_SECONDARY:
        problems.append(f"starts with a secondary field: {first['sev']}")
    for line in lines[1:]:
        if line.startswith("\t"):
            continue
        match = RDS.match(line)
        if match is None:
            problems.append(f"neither TAB continuation nor prefixed: {line[:120]!r}")
        elif match["sev"] not in PG_SECONDARY or match["pid"] != first["pid"]:
            problems.append(f"a second message inside the entry: {line[:120]!r}")
    return problems


def _csv(text: str) -> list[str]:
    records = list(csv.reader(io.StringIO(text)))
    if len(records) != 1:
        return [f"{len(records)} csv records in one entry"]
    record = records[0]
    problems = []
    if len(record) != CSV_COLUMNS:
        problems.append(f"{len(record)} columns, not {CSV_COLUMNS}")
    if not CSV_TIME.match(record[0]):
        problems.append(f"log_time {record[0]!r}")
    return problems
