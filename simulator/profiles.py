"""What an instance is and what it logs: engines, log rates and the options of each log kind.

Every knob carries its unit in its name. Defaults follow Aurora's own (hourly rotation,
retention of 24 h for slow/general/audit, 30 days for the MySQL error log, 3 days for
PostgreSQL, a new audit set at 100 MB, PostgreSQL rotation at 60 min or 100,000 kB).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Literal

from common.events import LogKind

__all__ = [
    "AURORA_MYSQL_2",
    "AURORA_MYSQL_3",
    "AURORA_POSTGRESQL",
    "ENGINES",
    "Engine",
    "LogKind",
    "LogOptions",
    "LogProfile",
    "Rate",
    "Skew",
]

HOUR_S = 3600
DAY_S = 24 * HOUR_S


@dataclass(frozen=True)
class Engine:
    """An Aurora engine as RDS names it, and the log kinds its instances write."""

    name: Literal["aurora-mysql", "aurora-postgresql"]
    version: str  # EngineVersion
    major: int  # 2 or 3 for Aurora MySQL; the PostgreSQL major version

    @property
    def is_mysql(self) -> bool:
        return self.name == "aurora-mysql"

    @property
    def kinds(self) -> tuple[LogKind, ...]:
        if self.is_mysql:
            return ("error", "slowquery", "general", "audit")
        return ("postgresql",)

    @property
    def short(self) -> str:
        """``mysql2``, ``mysql3`` or ``postgresql``: the CLI's spelling."""
        return f"mysql{self.major}" if self.is_mysql else "postgresql"


AURORA_MYSQL_2 = Engine("aurora-mysql", "5.7.mysql_aurora.2.11.2", 2)
AURORA_MYSQL_3 = Engine("aurora-mysql", "8.0.mysql_aurora.3.05.2", 3)
AURORA_POSTGRESQL = Engine("aurora-postgresql", "15.4", 15)
ENGINES: Mapping[str, Engine] = MappingProxyType(
    {engine.short: engine for engine in (AURORA_MYSQL_2, AURORA_MYSQL_3, AURORA_POSTGRESQL)}
)

_RATE = re.compile(
    r"^\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>B|KB|MB|GB|entries|lines)?\s*/\s*(?P<per>s|min)\s*$",
    re.IGNORECASE,
)
_BYTES = {"b": 1, "kb": 1000, "mb": 1_000_000, "gb": 1_000_000_000}


@dataclass(frozen=True)
class Rate:
    """How much one log kind writes: entries per second, or bytes per minute (not both)."""

    entries_per_s: float = 0.0
    bytes_per_min: float = 0.0

    def __post_init__(self) -> None:
        if self.entries_per_s < 0 or self.bytes_per_min < 0:
            raise ValueError("rates are never negative")
        if self.entries_per_s and self.bytes_per_min:
            raise ValueError("give entries_per_s or bytes_per_min, not both")

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``1MB/min``, ``250KB/min``, ``20/s``, ``20 entries/s``, ``600 lines/min``."""
        match = _RATE.match(text)
        if match is None:
            raise ValueError(f"cannot read rate {text!r}; try 1MB/min or 20/s")
        value = float(match["value"])
        unit = (match["unit"] or "entries").lower()
        per_s = match["per"].lower() == "s"
        if unit in _BYTES:
            per_min = value * _BYTES[unit] * (60 if per_s else 1)
            return cls(bytes_per_min=per_min)
        return cls(entries_per_s=value if per_s else value / 60)

    def scaled(self, factor: float) -> Rate:
        return Rate(self.entries_per_s * factor, self.bytes_per_min * factor)

    @property
    def idle(self) -> bool:
        return not (self.entries_per_s or self.bytes_per_min)


# MySQL logs that rotate hourly by renaming: `.N` (UTC hour, reused daily), `.YYYY-MM-DD.H` or
# `.YYYY-MM-DD.HH` (both paddings are seen on Aurora).
HourlyNaming = Literal["hour", "dated", "dated_padded"]
PostgresqlNaming = Literal["minute", "hour", "day"]

_DEFAULT_RETENTION: Mapping[str, float] = MappingProxyType(
    {
        "error": 30 * DAY_S,
        "slowquery": DAY_S,
        "general": DAY_S,
        "audit": DAY_S,
        "postgresql": 4320 * 60,
    }
)


@dataclass(frozen=True)
class LogOptions:
    """How each log kind is named, rotated and kept. Immutable; derive with :meth:`with_`."""

    error_naming: HourlyNaming = "hour"
    query_log_naming: HourlyNaming = "dated"  # slow and general logs
    audit_style: Literal["aurora", "server_audit"] = "aurora"
    audit_set_bytes: int = 100_000_000  # Aurora: a new set of four files at this size
    server_audit_rotate_bytes: int = 1_000_000
    server_audit_rotations: int = 9
    postgresql_naming: PostgresqlNaming = "minute"
    postgresql_rotation_age_s: int = HOUR_S
    postgresql_rotation_bytes: int = 100_000 * 1024
    csvlog: bool = False
    log_slow_extra: bool = False  # Aurora 3 only
    retention_s: Mapping[str, float] = field(default_factory=lambda: _DEFAULT_RETENTION)

    def retention_for(self, kind: str) -> float:
        return float(self.retention_s.get(kind, _DEFAULT_RETENTION[kind]))

    def with_(self, **changes: object) -> LogOptions:
        """A copy with ``changes``; ``retention_s`` is merged into the current one."""
        retention = changes.pop("retention_s", None)
        options = replace(self, **changes)  # type: ignore[arg-type]
        if isinstance(retention, Mapping):
            merged = {**self.retention_s, **retention}
            options = replace(options, retention_s=MappingProxyType(merged))
        return options


# Share of an instance's bytes per kind in a busy, fully logging MySQL instance.
_MYSQL_MIX: Mapping[str, float] = MappingProxyType(
    {"error": 0.05, "slowquery": 0.35, "general": 0.35, "audit": 0.25}
)


@dataclass(frozen=True)
class LogProfile:
    """What one instance writes: a rate per log kind (absent or idle kinds are not written)."""

    rates: Mapping[str, Rate]
    options: LogOptions = LogOptions()

    @classmethod
    def realistic(
        cls, engine: Engine, bytes_per_min: float, options: LogOptions | None = None
    ) -> LogProfile:
        """A busy instance's mix totalling ``bytes_per_min`` (all kinds of the engine)."""
        if engine.is_mysql:
            rates = {kind: Rate(bytes_per_min=bytes_per_min * s) for kind, s in _MYSQL_MIX.items()}
        else:
            rates = {"postgresql": Rate(bytes_per_min=bytes_per_min)}
        return cls(MappingProxyType(rates), options or LogOptions())

    @classmethod
    def uniform(cls, engine: Engine, rate: Rate, options: LogOptions | None = None) -> LogProfile:
        """``rate`` for every kind of the engine."""
        return cls(MappingProxyType(dict.fromkeys(engine.kinds, rate)), options or LogOptions())

    @classmethod
    def idle(cls, engine: Engine, options: LogOptions | None = None) -> LogProfile:
        """An instance nobody uses: a few error-log lines an hour, nothing else."""
        kind = "error" if engine.is_mysql else "postgresql"
        return cls(
            MappingProxyType({kind: Rate(entries_per_s=4 / HOUR_S)}), options or LogOptions()
        )

    def scaled(self, factor: float) -> LogProfile:
        rates = {kind: rate.scaled(factor) for kind, rate in self.rates.items()}
        return LogProfile(MappingProxyType(rates), self.options)

    def with_options(self, **changes: object) -> LogProfile:
        return LogProfile(self.rates, self.options.with_(**changes))

    def rate_for(self, kind: str) -> Rate:
        return self.rates.get(kind, Rate())


@dataclass(frozen=True)
class Skew:
    """How unevenly a fleet logs: a few hot instances, many idle ones, the rest at the rate.

    ``hot_fraction`` of the instances log ``hot_factor`` times the rate, ``idle_fraction``
    write only a few error lines an hour (:meth:`LogProfile.idle`).
    """

    hot_fraction: float = 0.0
    hot_factor: float = 1.0
    idle_fraction: float = 0.0

    def __post_init__(self) -> None:
        if not (0 <= self.hot_fraction <= 1 and 0 <= self.idle_fraction <= 1):
            raise ValueError("fractions are between 0 and 1")
        if self.hot_fraction + self.idle_fraction > 1:
            raise ValueError("hot and idle instances together cannot exceed the fleet")
        if self.hot_factor <= 0:
            raise ValueError("hot_factor must be positive")

    @classmethod
    def parse(cls, text: str) -> Skew:
        """``HOT_FRACTION:HOT_FACTOR[:IDLE_FRACTION]``, e.g. ``0.1:10:0.5``."""
        parts = [float(part) for part in text.split(":")]
        if len(parts) not in (2, 3):
            raise ValueError(f"cannot read skew {text!r}; try 0.1:10:0.5")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else 0.0)

    def factors(self, count: int, rng: random.Random) -> list[float]:
        """A factor per instance: ``hot_factor``, 1, or 0 (idle), in a seeded random order."""
        hot = round(count * self.hot_fraction)
        idle = round(count * self.idle_fraction)
        factors = [self.hot_factor] * hot + [0.0] * idle + [1.0] * (count - hot - idle)
        rng.shuffle(factors)
        return factors
