"""Log timestamps to microseconds since the epoch, UTC, without datetime on the hot path.

Every log line carries a timestamp, so converting them is a hot path: dates repeat for hours, so
the seconds at midnight of each date are computed once and cached, and the time of day is
integer arithmetic. Timestamps written without a zone (MySQL <= 5.6 ``YYMMDD H:MM:SS``, the
5.6 error log, the RDS MariaDB audit plugin) are read in :class:`Timestamps`' ``local_zone``
(Aurora and RDS always write UTC, the default). PostgreSQL's zone abbreviations are mapped by a
fixed table; an unknown abbreviation is read in ``local_zone``.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

__all__ = ["Timestamps"]

# Abbreviations PostgreSQL prints for %t/%m in common zones, in seconds east of UTC.
_ZONE_ABBREVIATIONS: dict[str, int] = {
    "UTC": 0, "GMT": 0, "Z": 0, "UT": 0, "WET": 0, "WEST": 3600, "BST": 3600, "IST": 3600,
    "CET": 3600, "CEST": 7200, "MET": 3600, "MEST": 7200, "EET": 7200, "EEST": 10800,
    "MSK": 10800, "MSD": 14400, "SAST": 7200, "CAT": 7200, "EAT": 10800, "WAT": 3600,
    "GST": 14400, "PKT": 18000, "NPT": 20700, "ICT": 25200, "WIB": 25200, "SGT": 28800,
    "HKT": 28800, "AWST": 28800, "PHT": 28800, "JST": 32400, "KST": 32400, "ACST": 34200,
    "ACDT": 37800, "AEST": 36000, "AEDT": 39600, "NZST": 43200, "NZDT": 46800,
    "HST": -36000, "AKST": -32400, "AKDT": -28800, "PST": -28800, "PDT": -25200,
    "MST": -25200, "MDT": -21600, "CST": -21600, "CDT": -18000, "EST": -18000,
    "EDT": -14400, "AST": -14400, "ADT": -10800, "NST": -12600, "NDT": -9000,
    "BRT": -10800, "ART": -10800, "CLT": -14400, "CLST": -10800,
}  # fmt: skip
_NUMERIC_ZONE = re.compile(r"^([+-])(\d\d):?(\d\d)?$")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MAX_CACHE = 4096


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    yoe = year - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _fraction_us(fraction: str) -> int:
    """``"123"`` (after the dot) in microseconds; digits past the sixth are dropped."""
    if not fraction:
        return 0
    return int((fraction + "000000")[:6])


class Timestamps:
    """Converts the timestamp spellings of MySQL and PostgreSQL logs; not thread-safe (caches).

    Every method returns None for text that is not a valid timestamp; none raises.
    """

    def __init__(self, local_zone: str = "UTC") -> None:
        self._zone = None if local_zone in ("UTC", "Etc/UTC", "GMT") else ZoneInfo(local_zone)
        self._midnights: dict[str, int] = {}
        self._minutes: dict[str, int | None] = {}
        self._seconds: dict[str, int] = {}
        # UTC microseconds at the start of each ``YYYY-MM-DDTHH:MM`` minute utc_us has read:
        # a grammar may look its minute up here first and spare the call (the dict is only
        # ever cleared, never replaced).
        self.z_minutes: dict[str, int] = {}
        self._whole_minutes: dict[str, int] = {}

    def _midnight_s(self, date: str, year: int, month: int, day: int) -> int | None:
        """UTC seconds at midnight of a date, cached by the date's spelling."""
        cached = self._midnights.get(date)
        if cached is None:
            if not (1 <= month <= 12 and 1 <= day <= 31):
                return None
            if len(self._midnights) >= _MAX_CACHE:
                self._midnights.clear()
            cached = self._midnights[date] = _days_from_civil(year, month, day) * 86400
        return cached

    def _local_offset_s(self, naive_utc_s: int) -> int:
        """Seconds east of UTC of ``local_zone`` at the given local wall-clock time."""
        if self._zone is None:
            return 0
        wall = _EPOCH + dt.timedelta(seconds=naive_utc_s)
        offset = wall.replace(tzinfo=None).replace(tzinfo=self._zone).utcoffset()
        return int(offset.total_seconds()) if offset is not None else 0

    def _compose(
        self, date: str, y: int, mo: int, d: int, h: int, mi: int, s: int, frac: str
    ) -> int | None:
        midnight = self._midnight_s(date, y, mo, d)
        if midnight is None or h > 23 or mi > 59 or s > 60:
            return None
        return (midnight + h * 3600 + mi * 60 + s) * 1_000_000 + _fraction_us(frac)

    def iso(self, text: str) -> int | None:
        """``2019-03-24T14:01:47.811234Z``, ``...+08:00``, or with a space; no zone = local."""
        # MySQL 5.7+ and Aurora MySQL stamp every entry with microseconds and Z.
        if len(text) == 27 and text[26] == "Z" and text[19] == "." and text[16] == ":":
            seconds = text[17:19]
            micros = text[20:26]
            if text.isascii() and seconds.isdigit() and micros.isdigit():
                return self.utc_us(text[:16], seconds, micros)
        if text[19:20] == ".":
            return self._iso(text)
        # Whole-second timestamps (PostgreSQL's %t) repeat line after line: remember them.
        us = self._seconds.get(text)
        if us is None:
            us = self._whole(text)
            if us is not None:
                if len(self._seconds) >= _MAX_CACHE:
                    self._seconds.clear()
                self._seconds[text] = us
        return us

    def utc_us(self, minute: str, seconds: str, micros: str) -> int | None:
        """What :meth:`iso` reads from ``{minute}:{seconds}.{micros}Z``, for parts whose digits
        are ASCII: ``YYYY-MM-DDTHH:MM``, two digits, six digits.

        The start of the minute is looked up (the same minute recurs entry after entry), the
        rest is integer arithmetic: the grammar whose regex already split a stamp this way
        (the slow log's) saves the checks :meth:`iso` makes.
        """
        start = self.z_minutes.get(minute)
        if start is None:
            try:
                start = self._minute_us(minute, "Z")
            except ValueError:
                return None
            if start is None:
                return None
            if len(self.z_minutes) >= _MAX_CACHE:
                self.z_minutes.clear()
            self.z_minutes[minute] = start
        # Two ASCII digits compare as their numbers do; one int() reads both parts.
        return None if seconds > "60" else start + int(seconds + micros)

    def _whole(self, text: str) -> int | None:
        """A whole-second stamp not seen before: the start of its minute in its zone is looked
        up by the text without the seconds, which stays the same while the seconds change.
        Only two ASCII digits of seconds: then :meth:`_iso` reads the same number."""
        seconds = text[17:19]
        if len(text) < 19 or not (seconds.isdigit() and seconds.isascii()):
            return self._iso(text)
        key = text[:17] + text[19:]
        minute = self._whole_minutes.get(key)
        if minute is None:
            minute = self._iso(text[:17] + "00" + text[19:])
            if minute is None:
                return None
            if len(self._whole_minutes) >= _MAX_CACHE:
                self._whole_minutes.clear()
            self._whole_minutes[key] = minute
        second = int(seconds)
        return None if second > 60 else minute + second * 1_000_000

    def _iso(self, text: str) -> int | None:
        try:
            if len(text) < 19 or text[16] != ":":
                return None
            rest = text[19:]
            zone = rest.lstrip(".0123456789")
            frac = rest[1 : len(rest) - len(zone)] if rest[:1] == "." else ""
            zone = zone.strip()
            # The same minute recurs on thousands of lines: its UTC start is computed once.
            key = text[:16] + zone
            minute = self._minutes.get(key)
            if minute is None:
                minute = self._minute_us(text, zone)
                if minute is None:
                    return None
                if len(self._minutes) >= _MAX_CACHE:
                    self._minutes.clear()
                self._minutes[key] = minute
            seconds = int(text[17:19])
            if seconds > 60:
                return None
            return minute + seconds * 1_000_000 + (_fraction_us(frac) if frac else 0)
        except ValueError:
            return None

    def _minute_us(self, text: str, zone: str) -> int | None:
        """UTC microseconds at the start of the minute ``text[:16]`` written in ``zone``."""
        date = text[:10]
        if text[4] != "-" or text[7] != "-" or text[13] != ":" or text[10] not in "T ":
            return None
        y, mo, d = int(date[:4]), int(date[5:7]), int(date[8:10])
        us = self._compose(date, y, mo, d, int(text[11:13]), int(text[14:16]), 0, "")
        return None if us is None else self._apply_zone(us, zone)

    def _apply_zone(self, us: int, zone: str) -> int | None:
        if zone in ("Z", "UTC", "GMT", "+00:00", "+00", "+0000"):
            return us
        if not zone:
            return us - self._local_offset_s(us // 1_000_000) * 1_000_000
        numeric = _NUMERIC_ZONE.match(zone)
        if numeric is not None:
            sign = 1 if numeric.group(1) == "+" else -1
            east = sign * (int(numeric.group(2)) * 3600 + int(numeric.group(3) or 0) * 60)
            return us - east * 1_000_000
        east_s = _ZONE_ABBREVIATIONS.get(zone)
        if east_s is None:
            return us - self._local_offset_s(us // 1_000_000) * 1_000_000
        return us - east_s * 1_000_000

    def mysql_old(self, text: str) -> int | None:
        """``071015 21:43:52`` / ``081127  8:51:20`` (server local time), optional fraction."""
        try:
            date, _, clock = text.strip().partition(" ")
            clock = clock.strip()
            if len(date) != 6 or not clock:
                return None
            hms, _, frac = clock.partition(".")
            h, mi, s = hms.split(":")
            yy = int(date[:2])
            year = 2000 + yy if yy < 70 else 1900 + yy
            us = self._compose(
                date, year, int(date[2:4]), int(date[4:6]), int(h), int(mi), int(s), frac
            )
            if us is None:
                return None
            return us - self._local_offset_s(us // 1_000_000) * 1_000_000
        except ValueError:
            return None

    def compact(self, text: str) -> int | None:
        """``20240323 13:36:07`` (RDS MariaDB audit plugin, server local time)."""
        if len(text) != 17 or text[8] != " ":
            return None
        return self.iso(f"{text[:4]}-{text[4:6]}-{text[6:8]}T{text[9:]}")

    def epoch_s(self, text: str) -> int | None:
        """Whole or fractional seconds since the epoch (``SET timestamp=``, CNPG ``ts``)."""
        try:
            whole, _, frac = text.partition(".")
            return int(whole) * 1_000_000 + _fraction_us(frac)
        except ValueError:
            return None
