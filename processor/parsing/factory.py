"""The one place that maps a :class:`LogType` to its parser class."""

from __future__ import annotations

from processor.parsing.entries import EntryParser
from processor.parsing.mysql_audit import MySqlAuditParser
from processor.parsing.mysql_error import MySqlErrorParser
from processor.parsing.mysql_general import MySqlGeneralParser
from processor.parsing.mysql_slow import MySqlSlowParser
from processor.parsing.options import ParsingSettings
from processor.parsing.postgresql import PostgreSqlParser
from processor.parsing.postgresql_csv import PostgreSqlCsvParser
from processor.parsing.postgresql_json import PostgreSqlJsonParser
from processor.parsing.records import LogType, Parser, ParserCheckpoint

__all__ = ["make_parser"]

_PARSERS: dict[LogType, type[EntryParser]] = {
    LogType.MYSQL_SLOW: MySqlSlowParser,
    LogType.MYSQL_ERROR: MySqlErrorParser,
    LogType.MYSQL_GENERAL: MySqlGeneralParser,
    LogType.MYSQL_AUDIT: MySqlAuditParser,
    LogType.POSTGRESQL: PostgreSqlParser,
    LogType.POSTGRESQL_CSV: PostgreSqlCsvParser,
    LogType.POSTGRESQL_JSON: PostgreSqlJsonParser,
}


def make_parser(
    log_type: LogType,
    settings: ParsingSettings,
    *,
    checkpoint: ParserCheckpoint | None = None,
    fallback_timestamp_us: int | None = None,
) -> Parser:
    """A new parser for one file of ``log_type``.

    With ``checkpoint``, the parser resumes there: feed it the file from ``checkpoint.offset``.
    ``fallback_timestamp_us`` is the ``_timestamp`` of records whose entry has no time and
    follows no entry that had one (text before the first entry, a file of garbage): pass the
    file's last-written time. Without it, the time the parser was first created is used (and
    kept in its checkpoints, so a resumed parser uses the same value).
    """
    return _PARSERS[LogType(log_type)](
        settings, checkpoint=checkpoint, fallback_timestamp_us=fallback_timestamp_us
    )
