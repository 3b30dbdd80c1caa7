"""Settings of the parsing layer: ``AURORA_PARSING__*`` variables."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from common.section import Section
from processor.parsing.log_line_prefix import compile_prefix

__all__ = ["RDS_LOG_LINE_PREFIX", "ParsingSettings"]

# Aurora and RDS for PostgreSQL fix log_line_prefix to this value.
RDS_LOG_LINE_PREFIX = "%t:%r:%u@%d:[%p]:"


class ParsingSettings(Section):
    """How raw log bytes become records; see docs/records.md for the record schema."""

    # `message` (the raw entry text) is cut to this many UTF-8 bytes, with `truncated: true`.
    max_message_bytes: int = Field(default=65_536, ge=256)
    # `statement` and the other long text fields (plan, detail...) are cut the same way.
    max_statement_bytes: int = Field(default=65_536, ge=256)
    # An entry whose bytes exceed this is cut there: the parser never holds more than this
    # plus one read page, whatever the file (a line with no newline, a runaway dump).
    max_entry_bytes: int = Field(default=8 * 1024 * 1024, ge=4096)
    # Replace literals (strings, numbers) in `statement`, `message` and value fields by `?`,
    # for deployments that must not ship personal data.
    redact_literals: bool = False
    # PostgreSQL's log_line_prefix for stderr logs; Aurora's is fixed to the RDS value.
    postgresql_log_line_prefix: str = RDS_LOG_LINE_PREFIX
    # The zone of timestamps written without one (MySQL <= 5.6, RDS MariaDB audit plugin).
    # Aurora and RDS always log in UTC.
    local_timezone: str = "UTC"

    @field_validator("local_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("postgresql_log_line_prefix")
    @classmethod
    def _prefix_compiles(cls, value: str) -> str:
        compile_prefix(value)
        return value
