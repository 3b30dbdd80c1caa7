"""Which grammar a log file needs: from its Aurora/RDS file name, else from its first bytes."""

from __future__ import annotations

import re

from processor.parsing.log_line_prefix import SEVERITIES
from processor.parsing.records import LogType

__all__ = ["detect_type", "sniff_type"]

# Aurora/RDS file names (folder optional), with rotation suffixes: `.N`, `.YYYY-MM-DD.H`,
# `.YYYY-MM-DD-HH[MM]`; local copies may add `.gz`/`.bz2` or `.log`.
_NAMES: tuple[tuple[re.Pattern[str], LogType], ...] = (
    (re.compile(r"(?:^|/)mysql-slowquery\.log(?:\.[\w.-]*)?$"), LogType.MYSQL_SLOW),
    (re.compile(r"(?:^|/)mysql-error(?:-running)?\.log(?:\.[\w.-]*)?$"), LogType.MYSQL_ERROR),
    (re.compile(r"(?:^|/)mysql-general\.log(?:\.[\w.-]*)?$"), LogType.MYSQL_GENERAL),
    (re.compile(r"(?:^|/)(?:server_)?audit\.log(?:\.[\w.-]*)?$"), LogType.MYSQL_AUDIT),
    (re.compile(r"(?:^|/)postgres(?:ql)?\.log(?:\.[\w-]+)?\.csv$"), LogType.POSTGRESQL_CSV),
    (re.compile(r"(?:^|/)postgres(?:ql)?\.log(?:\.[\w-]+)?\.json$"), LogType.POSTGRESQL_JSON),
    (re.compile(r"(?:^|/)postgres(?:ql)?\.log(?:\.[\w-]+)?$"), LogType.POSTGRESQL),
)
_COMPRESSION = re.compile(r"\.(?:gz|bz2|xz|zst)$")

_ISO = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(?:Z|[+-]\d\d:\d\d)?"
_AUDIT_FIELDS = r",[^,\n]*,[^,\n]*,[^,\n]*,\d+,\d+,[A-Z_]+,"
# (signature, type), most distinctive first.
_SNIFFS: tuple[tuple[str, LogType], ...] = (
    (r"^# (?:Time|User@Host|Query_time): ", LogType.MYSQL_SLOW),
    (r"^\{\s*\"timestamp\"\s*:", LogType.POSTGRESQL_JSON),
    (r"^(?:\d{16}|\d{8} \d\d:\d\d:\d\d)" + _AUDIT_FIELDS, LogType.MYSQL_AUDIT),
    (
        r"^\"?\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} [^,\n]*\"?,[^\n]*,(?:" + SEVERITIES + "),",
        LogType.POSTGRESQL_CSV,
    ),
    (r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[^\n]*?(?:" + SEVERITIES + r"):  ", LogType.POSTGRESQL),
    (r"^" + _ISO + r"\s+\d+ \[", LogType.MYSQL_ERROR),
    (
        r"^(?:" + _ISO + r"|\d{6} +\d\d?:\d\d:\d\d|)[ \t]+\d+ "
        r"(?:Query|Connect|Quit|Init DB|Prepare|Execute)\b",
        LogType.MYSQL_GENERAL,
    ),
    (r"^(?:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \d+ \[|\d{6} +\d\d?:\d\d:\d\d ?)", LogType.MYSQL_ERROR),
)
_SNIFF_PATTERNS = tuple((re.compile(source, re.M), log_type) for source, log_type in _SNIFFS)


def detect_type(file_name: str) -> LogType | None:
    """The grammar of an Aurora/RDS log file by its name (``slowquery/mysql-slowquery.log.
    2026-11-26.9``, ``error/postgresql.log.2026-11-26-0900.csv``...); None when unknown."""
    name = _COMPRESSION.sub("", file_name.strip().replace("\\", "/"))
    for pattern, log_type in _NAMES:
        if pattern.search(name):
            return log_type
    return None


def sniff_type(head: bytes) -> LogType:
    """The grammar that best fits the first bytes of a file (a few KB are plenty).

    A fallback for files whose name says nothing: the first signature that matches wins, in an
    order that puts distinctive formats first; text matching none is read as an error log,
    whose parser keeps every line (as continuations or ``parse_error`` records).
    """
    text = head.decode("utf-8", "replace")
    for pattern, log_type in _SNIFF_PATTERNS:
        if pattern.search(text):
            return log_type
    return LogType.MYSQL_ERROR
