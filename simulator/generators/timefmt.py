"""Timestamp spellings of the Aurora logs, from µs since the epoch (always UTC).

Formatting is on the hot path (a busy fleet writes thousands of entries a second), so the
per-second part of each spelling is computed once and cached; only the fraction is formatted
per entry.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = [
    "das_time",
    "iso_us",
    "mysql_old_time",
    "pg_csv_time",
    "pg_time",
    "rds_audit_time",
]


def _cached(pattern: str, fix: Callable[[str], str] | None = None) -> Callable[[int], str]:
    cache: dict[int, str] = {}

    def second(seconds: int) -> str:
        text = cache.get(seconds)
        if text is None:
            if len(cache) > 4096:
                cache.clear()  # sim time moves forward; old seconds are not needed again
            text = time.strftime(pattern, time.gmtime(seconds))
            if fix is not None:
                text = fix(text)
            cache[seconds] = text
        return text

    return second


def _space_padded_hour(text: str) -> str:
    # `YYMMDD HH:MM:SS` with the hour padded by a space, as MySQL <= 5.5 and server_audit print it.
    day, clock = text.split(" ")
    hour, rest = clock.split(":", 1)
    return f"{day} {int(hour):2d}:{rest}"


_iso_second = _cached("%Y-%m-%dT%H:%M:%S")
_plain_second = _cached("%Y-%m-%d %H:%M:%S")
_compact_second = _cached("%Y%m%d %H:%M:%S")
_old_second = _cached("%y%m%d %H:%M:%S", _space_padded_hour)


def iso_us(us: int) -> str:
    """``2024-01-04T09:17:00.123456Z``: MySQL 5.7/8.0 error, slow and general logs."""
    return f"{_iso_second(us // 1_000_000)}.{us % 1_000_000:06d}Z"


def pg_time(us: int) -> str:
    """``2024-01-04 09:17:00 UTC``: PostgreSQL ``%t``."""
    return f"{_plain_second(us // 1_000_000)} UTC"


def pg_csv_time(us: int) -> str:
    """``2024-01-04 09:17:00.123 UTC``: PostgreSQL csvlog ``log_time``."""
    return f"{_plain_second(us // 1_000_000)}.{us // 1000 % 1000:03d} UTC"


def rds_audit_time(us: int) -> str:
    """``20240104 09:17:00``: the MariaDB audit plugin of RDS for MySQL."""
    return _compact_second(us // 1_000_000)


def mysql_old_time(us: int) -> str:
    """``240104  9:17:00``: foreign lines in Aurora 3 error logs (``server_audit:``)."""
    return _old_second(us // 1_000_000)


def das_time(us: int) -> str:
    """``2024-01-04 09:17:00``: Aurora 3 ``[DAS]`` lines."""
    return _plain_second(us // 1_000_000)
