"""Aurora log file names and what they say about their content.

RDS names log files by path, but a path does not always name content: Aurora renames the
active file at rotation, reuses hourly names every day and shifts ``server_audit.log.N``
chains. Both services need to know which names are which: discovery to follow content through
renames, the processor to know when the bytes under a name may be other content than those it
read before.

Roles (:class:`Role`)::

    ACTIVE   written now, starts again small after rotation: mysql-error-running.log,
             mysql-slowquery.log, mysql-general.log, server_audit.log (and mysql-error.log)
    RENAMED  reusable rotated names, final content: legacy hourly ``.N`` (reused daily),
             ``server_audit.log.N`` (shifted one step deeper at each rotation)
    DATED    unique rotated names ``.YYYY-MM-DD.H``: final content, named once
    SERIES   unique names, one per rotation, never renamed: PostgreSQL
             ``postgresql.log.<time>[.csv]``, Aurora audit ``audit.log.<stripe>.<time>.<n>``
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from common.events import LogKind

__all__ = ["HOURLY_BASES", "LogName", "Role", "Style", "parse_log_name", "reused"]


class Role(enum.Enum):
    ACTIVE = "active"
    RENAMED = "renamed"
    DATED = "dated"
    SERIES = "series"


class Style(enum.Enum):
    """How content moves between the names of a family."""

    HOURLY = "hourly"  # the active name is renamed to .N or .YYYY-MM-DD.H
    CHAIN = "chain"  # logrotate-style: name -> name.1 -> name.2 ...
    SERIES = "series"  # a new unique name per rotation


@dataclass(frozen=True)
class LogName:
    """What a log file name says about its content."""

    name: str
    kind: LogKind
    family: str
    style: Style
    role: Role
    # CHAIN: 0 for the active name, N for name.N. SERIES: sortable age within the family.
    position: int = 0
    order: str = ""
    # The active name of an hourly-rotated MySQL log: rotation happens at the top of the hour.
    rotates_hourly: bool = False


HOURLY_BASES: dict[str, LogKind] = {
    "error/mysql-error-running.log": "error",
    "slowquery/mysql-slowquery.log": "slowquery",
    "general/mysql-general.log": "general",
}
_PLAIN_ACTIVE: dict[str, LogKind] = {"error/mysql-error.log": "error"}
_DATED = re.compile(r"^(?P<base>.+)\.(?P<date>\d{4}-\d{2}-\d{2})\.(?P<hour>\d{1,2})$")
_NUMBERED = re.compile(r"^(?P<base>.+)\.(?P<n>\d{1,2})$")
_SERVER_AUDIT = re.compile(r"^(?P<base>audit/server_audit\.log)(?:\.(?P<n>\d{1,4}))?$")
_AURORA_AUDIT = re.compile(
    r"^(?P<base>audit/audit\.log\.\d+)\.(?P<ts>\d{4}-\d{2}-\d{2}-\d{2}-\d{2})\.(?P<n>\d+)$"
)
_POSTGRES = re.compile(
    r"^(?P<base>error/postgresql\.log)\.(?P<ts>\d{4}-\d{2}-\d{2}(?:-\d{2}(?:\d{2})?)?)"
    r"(?P<csv>\.csv)?$"
)


def _digits(text: str, width: int) -> str:
    return "".join(ch for ch in text if ch.isdigit()).ljust(width, "0")


def parse_log_name(name: str) -> LogName | None:
    """Classify an RDS ``LogFileName``; None for files this pipeline does not follow."""
    if name in HOURLY_BASES:
        return LogName(
            name, HOURLY_BASES[name], name, Style.HOURLY, Role.ACTIVE, rotates_hourly=True
        )
    if name in _PLAIN_ACTIVE:
        return LogName(name, _PLAIN_ACTIVE[name], name, Style.HOURLY, Role.ACTIVE)
    if match := _DATED.match(name):
        base = match["base"]
        if base in HOURLY_BASES and int(match["hour"]) < 24:
            return LogName(name, HOURLY_BASES[base], base, Style.HOURLY, Role.DATED)
    if match := _SERVER_AUDIT.match(name):
        position = int(match["n"]) if match["n"] else 0
        role = Role.ACTIVE if match["n"] is None else Role.RENAMED
        return LogName(name, "audit", match["base"], Style.CHAIN, role, position=position)
    if match := _NUMBERED.match(name):
        base = match["base"]
        if base in HOURLY_BASES and int(match["n"]) < 24:
            return LogName(name, HOURLY_BASES[base], base, Style.HOURLY, Role.RENAMED)
    if match := _AURORA_AUDIT.match(name):
        order = _digits(match["ts"], 12) + match["n"].rjust(6, "0")
        return LogName(name, "audit", match["base"], Style.SERIES, Role.SERIES, order=order)
    if match := _POSTGRES.match(name):
        family = match["base"] + (match["csv"] or "")
        order = _digits(match["ts"], 12)
        return LogName(name, "postgresql", family, Style.SERIES, Role.SERIES, order=order)
    return None


def reused(name: str) -> bool:
    """Whether ``name`` can hold different content over time (ACTIVE or RENAMED names)."""
    parsed = parse_log_name(name)
    return parsed is not None and parsed.role in {Role.ACTIVE, Role.RENAMED}
