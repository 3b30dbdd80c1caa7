"""How OpenObserve turns one posted JSON document into one stored row.

Pure functions, no state: stream-name and key formatting, flattening, ``_timestamp`` parsing and
the exact wording of the per-record errors. The facts come from OpenObserve v0.15.3
(``config/src/utils/flatten.rs``, ``config/src/utils/time.rs``, ``service/schema.rs``) and from
``shared/reference/openobserve.md``; where the two disagree the reference wins and the
difference is noted where it matters.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

__all__ = [
    "FLATTEN_LEVEL",
    "TimestampError",
    "flatten_record",
    "format_key",
    "format_stream_name",
    "future_discard_error",
    "parse_timestamp_us",
    "scale_epoch_to_us",
    "upto_discard_error",
]

FLATTEN_LEVEL: Final = 3
"""``ZO_INGEST_FLATTEN_LEVEL`` default: objects nested deeper become JSON strings."""

_STREAM_NAME_RUNS = re.compile(r"[^a-zA-Z0-9_:]+")
_KEY_OK = re.compile(r"^[a-z0-9_]*$")
_KEY_BAD_CHARS = re.compile(r"[^a-z0-9_]")

# 1971-01-01T00:00:00Z in s, ms, µs and ns: OpenObserve guesses a number's unit by which of
# these it exceeds (``parse_i64_to_timestamp_micros``).
_BASE_S: Final = 31_536_000
_BASE_MS: Final = _BASE_S * 1_000
_BASE_US: Final = _BASE_S * 1_000_000
_BASE_NS: Final = _BASE_S * 1_000_000_000

_INT_TEXT = re.compile(r"^[+-]?[0-9]+$")
_FLOAT_TEXT = re.compile(r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)
_NAIVE_FRACTION = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d+)$")
_RFC2822 = re.compile(
    r"^(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s*)?(\d{1,2})\s+"
    r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{4})\s+"
    r"(\d{2}):(\d{2})(?::(\d{2}))?\s+([+-]\d{4}|UT|GMT|[ECMP][SD]T)$"
)
_MONTHS: Final = {
    m: i + 1
    for i, m in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    )
}
_RFC2822_ZONES: Final = {
    "UT": 0,
    "GMT": 0,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class TimestampError(ValueError):
    """``_timestamp`` holds a value OpenObserve cannot read as a time."""


def format_stream_name(name: str) -> str:
    """Return the stream name OpenObserve stores: runs outside ``[a-zA-Z0-9_:]`` become one
    ``_``, then ASCII letters are lowercased."""
    return _STREAM_NAME_RUNS.sub("_", name).lower()


@functools.lru_cache(maxsize=65536)
def format_key(key: str) -> str:
    """Return a column name: ASCII upper to lower, every character outside ``[a-z0-9_]``
    becomes ``_`` (one per character).

    Deviation, following the reference: OpenObserve itself keeps non-ASCII lowercase letters
    and digits (``Café`` -> ``café``); the reference says they become ``_`` (``caf_``).
    """
    if _KEY_OK.match(key):
        return key
    lowered = "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in key)
    return _KEY_BAD_CHARS.sub("_", lowered)


def _compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def flatten_record(record: Mapping[str, Any], max_level: int = FLATTEN_LEVEL) -> dict[str, Any]:
    """Flatten one document the way OpenObserve does before it infers a schema.

    Keys are formatted with :func:`format_key` and joined with ``_``; objects nested
    ``max_level`` deep or more become compact JSON strings, arrays always do; ``null``, empty
    objects and empty arrays are dropped. A later key that formats to an earlier one wins.
    """
    flat: dict[str, Any] = {}
    _flatten_object(record, "", max_level, 0, flat)
    return flat


def _flatten_object(
    obj: Mapping[str, Any], parent: str, max_level: int, depth: int, out: dict[str, Any]
) -> None:
    if not obj:
        return
    if max_level > 0 and depth >= max_level:
        out[parent] = _compact_json(obj)
        return
    for raw_key, value in obj.items():
        key = format_key(raw_key)
        path = f"{parent}_{key}" if depth > 0 else key
        if isinstance(value, dict):
            _flatten_object(value, path, max_level, depth + 1, out)
        elif isinstance(value, list):
            if value:
                out[path] = _compact_json(value)
        elif value is not None:
            out[path] = value


def scale_epoch_to_us(value: int, now_us: int) -> int:
    """Read an epoch number as s, ms, µs or ns by its magnitude and return µs; 0 means now."""
    if value == 0:
        return now_us
    if value > _BASE_NS:
        return value // 1000
    if value > _BASE_US:
        return value
    if value > _BASE_MS:
        return value * 1000
    return value * 1_000_000


def _datetime_us(dt: datetime) -> int:
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _fraction_us(digits: str | None) -> int:
    if not digits:
        return 0
    return int((digits + "000000")[:6])


def _naive_us(y: str, mo: str, d: str, h: str, mi: str, s: str, frac: str | None) -> int:
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=UTC)
    except ValueError as exc:
        raise TimestampError(str(exc)) from exc
    return _datetime_us(dt) + _fraction_us(frac)


def _parse_rfc3339(text: str) -> int:
    m = _RFC3339.match(text)
    if m is None:
        raise TimestampError(f"not RFC 3339: {text!r}")
    y, mo, d, h, mi, s, frac, zulu, sign, oh, om = m.groups()
    offset = timedelta(0)
    if not zulu:
        offset = timedelta(hours=int(oh), minutes=int(om))
        if sign == "-":
            offset = -offset
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=timezone(offset))
    except ValueError as exc:
        raise TimestampError(str(exc)) from exc
    return _datetime_us(dt) + _fraction_us(frac)


def _parse_rfc2822(text: str) -> int:
    m = _RFC2822.match(text.strip())
    if m is None:
        raise TimestampError(f"not RFC 2822: {text!r}")
    d, mon, y, h, mi, s, zone = m.groups()
    if zone in _RFC2822_ZONES:
        offset = timedelta(hours=_RFC2822_ZONES[zone])
    else:
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[3:5]))
        if zone[0] == "-":
            offset = -offset
    try:
        dt = datetime(
            int(y), _MONTHS[mon], int(d), int(h), int(mi), int(s or 0), tzinfo=timezone(offset)
        )
    except ValueError as exc:
        raise TimestampError(str(exc)) from exc
    return _datetime_us(dt)


def _parse_time_text(text: str, now_us: int) -> int:
    """OpenObserve's ``parse_str_to_time``: the branch taken depends on length and on which of
    ``' '``, ``'T'`` and ``'.'`` the text contains, so a PostgreSQL-style
    ``2024-05-01 12:34:56 UTC`` falls through to RFC 2822 and fails."""
    if _FLOAT_TEXT.match(text):
        number = float(text)
        if not math.isfinite(number):
            raise TimestampError(f"not a finite number: {text!r}")
        return scale_epoch_to_us(int(number), now_us)
    if " " in text and len(text) == 19:
        try:
            dt = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
        except ValueError as exc:
            raise TimestampError(str(exc)) from exc
        return _datetime_us(dt)
    if "T" in text and " " not in text:
        if len(text) == 19:
            try:
                dt = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
            except ValueError as exc:
                raise TimestampError(str(exc)) from exc
            return _datetime_us(dt)
        if "." in text and len(text.rsplit(".", 1)[1]) in (3, 6):
            m = _NAIVE_FRACTION.match(text)
            if m is None:
                raise TimestampError(f"not a naive timestamp: {text!r}")
            return _naive_us(*m.groups())
        return _parse_rfc3339(text)
    return _parse_rfc2822(text)


def parse_timestamp_us(value: Any, now_us: int) -> int:
    """Return ``_timestamp`` in µs UTC, or raise :class:`TimestampError`.

    Numbers (a float is truncated) and integer strings are scaled by magnitude; other strings
    go through OpenObserve's format ladder (naive ``YYYY-MM-DD HH:MM:SS``, naive ISO with 0, 3
    or 6 fraction digits, RFC 3339, RFC 2822). Booleans fail.
    """
    if isinstance(value, bool):
        raise TimestampError("Invalid time format [type]")
    if isinstance(value, int):
        return scale_epoch_to_us(value, now_us)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TimestampError("Invalid time format [timestamp]")
        return scale_epoch_to_us(int(value), now_us)
    if isinstance(value, str):
        if _INT_TEXT.match(value):
            return scale_epoch_to_us(int(value), now_us)
        return _parse_time_text(value, now_us)
    raise TimestampError("Invalid time format [type]")


def upto_discard_error(hours: int) -> str:
    """The per-record error for a record older than the ingestion window."""
    return (
        f"Too old data, only last {hours} hours data can be ingested. Data discarded. "
        "You can adjust ingestion max time by setting the environment variable "
        "ZO_INGEST_ALLOWED_UPTO=<max_hours>"
    )


def future_discard_error(hours: int) -> str:
    """The per-record error for a record too far in the future."""
    return (
        f"Too far data, only future {hours} hours data can be ingested. Data discarded. "
        "You can adjust ingestion max time by setting the environment variable "
        "ZO_INGEST_ALLOWED_IN_FUTURE=<max_hours>"
    )
