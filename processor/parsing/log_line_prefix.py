"""Compile a PostgreSQL ``log_line_prefix`` into the regex that recognises a log line.

Each escape (``%t``, ``%r``, ``%u``...) becomes a named group whose name is the record key it
fills (``client``, ``user``...); literal text must match exactly, ``%q`` makes the rest of the
prefix optional (non-session processes print nothing after it) and padded escapes (``%-10u``)
accept surrounding blanks. The compiled line regex also matches PostgreSQL's default prefix
``%m [%p] `` used before the configuration is loaded (start-up lines, also on RDS), and an
optional CloudWatch export timestamp in front of the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

__all__ = ["SEVERITIES", "LinePattern", "compile_prefix"]

SEVERITIES = (
    "DEBUG1|DEBUG2|DEBUG3|DEBUG4|DEBUG5|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|"
    "DETAIL|HINT|QUERY|CONTEXT|LOCATION|STATEMENT"
)
_TS = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: ?(?:[A-Za-z]{1,6}|[+-]\d\d(?::?\d\d)?))?"
# escape letter -> (group name, pattern); None name = matched but not captured.
_ESCAPES: dict[str, tuple[str | None, str]] = {
    "a": ("application_name", r".*?"),
    "u": ("user", r"\[unknown\]|[^\s@]*?"),
    "d": ("database", r"\[unknown\]|\S*?"),
    "r": ("client", r"\[local\]|\S*?\(\d+\)|\S*?"),
    "h": ("client", r"\[local\]|\S*?"),
    "L": ("local_address", r"\S*?"),
    "b": ("backend_type", r".*?"),
    "p": ("pid", r"\d+"),
    "P": ("leader_pid", r"\d*"),
    "t": ("ts", _TS),
    "m": ("ts", _TS),
    "n": ("epoch", r"\d+(?:\.\d+)?"),
    "i": ("command_tag", r".*?"),
    "e": ("sqlstate", r"[0-9A-Z]{5}"),
    "c": ("session_id", r"[0-9a-f]+\.[0-9a-f]+"),
    "l": ("session_line", r"\d+"),
    "s": ("session_start", _TS),
    "v": ("virtual_transaction_id", r"\d*/\d*|"),
    "x": ("transaction_id", r"\d+"),
    "Q": ("pg_query_id", r"-?\d+"),
}
_TOKEN = re.compile(r"%(-?\d+)?(.)|[^%]+")
DEFAULT_PREFIX = "%m [%p] "
_CLOUDWATCH = r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z )?"


@dataclass(frozen=True)
class LinePattern:
    """A compiled prefix: ``line`` matches one log line with the configured prefix,
    ``default_line`` one with PostgreSQL's default prefix (None when they are the same).

    Group names are record keys; ``severity`` holds the level and ``body`` the text after it.
    """

    prefix: str
    line: re.Pattern[str]
    default_line: re.Pattern[str] | None
    # Both alternatives on bytes, up to the severity: finds entry starts in a buffer.
    boundary: re.Pattern[bytes]
    # The same on text, each line matched whole (configured prefix: the groups of ``line``,
    # the first line only; default prefix: groups suffixed ``_d``).
    scan: re.Pattern[str]

    def match(self, line: str) -> re.Match[str] | None:
        """The match of ``line`` against the configured prefix, else the default one."""
        found = self.line.match(line)
        if found is None and self.default_line is not None:
            found = self.default_line.match(line)
        return found


def _ascii_digits(pattern: str) -> str:
    """``pattern`` with ``[0-9]`` for ``\\d``: the same on ASCII text, where ``\\d`` calls a
    Unicode digit test per character. Only for this module's patterns (no escaped backslash)."""
    return pattern.replace(r"\d", "[0-9]")


def _render(prefix: str, suffix: str, *, ascii_only: bool = False) -> str:
    """The regex source of ``prefix`` with each group name suffixed by ``suffix``; with
    ``ascii_only``, for text that is all ASCII (digits as ``[0-9]``)."""
    parts: list[str] = []
    optional_from: int | None = None
    seen: set[str] = set()
    for token in _TOKEN.finditer(prefix):
        letter = token.group(2)
        if letter is None:
            parts.append(re.escape(token.group(0)))
            continue
        if letter == "%":
            parts.append("%")
        elif letter == "q":
            optional_from = len(parts)
        elif letter in _ESCAPES:
            name, pattern = _ESCAPES[letter]
            if ascii_only:
                pattern = _ascii_digits(pattern)
            if name is None or name in seen:
                group = f"(?:{pattern})"
            else:
                seen.add(name)
                group = f"(?P<{name}{suffix}>{pattern})"
            parts.append(rf"\s*{group}\s*" if token.group(1) else group)
        else:
            raise ValueError(f"log_line_prefix escape %{letter} is not supported")
    if optional_from is not None:
        parts[optional_from:] = [f"(?:{''.join(parts[optional_from:])})?"]
    return "".join(parts)


@cache
def compile_prefix(prefix: str) -> LinePattern:
    """The :class:`LinePattern` of ``prefix``; raises ValueError for an unknown escape."""
    body = f"(?P<severity>{SEVERITIES}):[ \t]*(?P<body>.*)"
    line = re.compile(_CLOUDWATCH + _render(prefix, "") + body, re.S)
    boundary = [f"{_render(prefix, '')}(?P<severity>{SEVERITIES}):"]
    # The scan runs on ASCII pages only (see PostgreSqlParser._scan).
    scan = [
        f"{_render(prefix, '', ascii_only=True)}(?P<severity>{SEVERITIES}):[ \t]*(?P<body>[^\n]*)"
    ]
    default_line = None
    if prefix != DEFAULT_PREFIX:
        default_line = re.compile(_CLOUDWATCH + _render(DEFAULT_PREFIX, "") + body, re.S)
        default = f"{_render(DEFAULT_PREFIX, '_d')}(?P<severity_d>{SEVERITIES}):"
        boundary.append(default)
        scan.append(
            f"{_render(DEFAULT_PREFIX, '_d', ascii_only=True)}(?P<severity_d>{SEVERITIES}):"
        )
    else:
        boundary.append("(?P<severity_d>(?!))")  # keeps the group for uniform lookups
        scan.append("(?P<severity_d>(?!))")
    starts = re.compile(f"^{_CLOUDWATCH}(?:{'|'.join(boundary)})".encode(), re.M)
    scanner = re.compile(f"^{_ascii_digits(_CLOUDWATCH)}(?:{'|'.join(scan)})", re.M)
    return LinePattern(
        prefix=prefix, line=line, default_line=default_line, boundary=starts, scan=scanner
    )
