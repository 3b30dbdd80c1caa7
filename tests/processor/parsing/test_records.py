"""The parsing vocabulary: log types, checkpoints, settings and detection."""

from __future__ import annotations

import pytest

from common.settings import load_settings
from processor.config import ProcessorSettings
from processor.parsing import LogType, ParserCheckpoint, ParsingSettings, detect_type, sniff_type
from tests.processor.parsing.samples import SAMPLES


def test_record_types_name_the_engine_log() -> None:
    assert {t.record_type for t in LogType} == {
        "mysql_slow", "mysql_error", "mysql_general", "mysql_audit", "postgresql",
    }  # fmt: skip


def test_checkpoint_round_trips_through_json() -> None:
    checkpoint = ParserCheckpoint(offset=1234, state={"db": "shop", "ts": 5, "x": None, "f": 1.5})
    text = checkpoint.to_json()
    assert ParserCheckpoint.from_json(text) == checkpoint
    assert len(text) < 200


@pytest.mark.parametrize(
    "text", ["[]", '{"offset": "1"}', '{"offset": -1}', '{"offset": 1, "state": {"a": [1]}}']
)
def test_checkpoint_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="checkpoint"):
        ParserCheckpoint.from_json(text)


def test_parsing_settings_come_from_the_processor_environment() -> None:
    settings = load_settings(
        ProcessorSettings,
        {
            "AURORA_PARSING__REDACT_LITERALS": "true",
            "AURORA_PARSING__MAX_MESSAGE_BYTES": "1024",
            "AURORA_PARSING__POSTGRESQL_LOG_LINE_PREFIX": "%m [%p] ",
        },
    )
    assert settings.parsing == ParsingSettings(
        redact_literals=True, max_message_bytes=1024, postgresql_log_line_prefix="%m [%p] "
    )
    assert ProcessorSettings().parsing.postgresql_log_line_prefix == "%t:%r:%u@%d:[%p]:"


@pytest.mark.parametrize(
    ("field", "value"),
    [("postgresql_log_line_prefix", "%t %Z"), ("local_timezone", "Mars/Olympus")],
)
def test_parsing_settings_reject_what_cannot_work(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        ParsingSettings.model_validate({field: value})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("slowquery/mysql-slowquery.log", LogType.MYSQL_SLOW),
        ("slowquery/mysql-slowquery.log.2026-11-26.9", LogType.MYSQL_SLOW),
        ("slowquery/mysql-slowquery.log.12", LogType.MYSQL_SLOW),
        ("error/mysql-error-running.log.3", LogType.MYSQL_ERROR),
        ("error/mysql-error-running.log.2026-11-26.09", LogType.MYSQL_ERROR),
        ("error/mysql-error.log", LogType.MYSQL_ERROR),
        ("general/mysql-general.log", LogType.MYSQL_GENERAL),
        ("general/mysql-general.log.2026-11-26.9", LogType.MYSQL_GENERAL),
        ("audit/audit.log.0.2026-11-26-09-00.1", LogType.MYSQL_AUDIT),
        ("audit/server_audit.log.2", LogType.MYSQL_AUDIT),
        ("audit/server_audit.log", LogType.MYSQL_AUDIT),
        ("error/postgresql.log.2026-11-26-0900", LogType.POSTGRESQL),
        ("error/postgresql.log.2026-11-26-09", LogType.POSTGRESQL),
        ("error/postgresql.log.2026-11-26", LogType.POSTGRESQL),
        ("error/postgresql.log.2026-11-26-0900.csv", LogType.POSTGRESQL_CSV),
        ("error/postgresql.log.2026-11-26-0900.json", LogType.POSTGRESQL_JSON),
        ("postgresql.log.2026-11-26-0900.gz", LogType.POSTGRESQL),
        ("trace/alert.log", None),
        ("error/postgresql.logger", None),
    ],
)
def test_type_from_aurora_file_names(name: str, expected: LogType | None) -> None:
    assert detect_type(name) is expected


@pytest.mark.parametrize("log_type", list(LogType))
def test_sniffing_recognises_every_grammar(log_type: LogType) -> None:
    assert sniff_type(SAMPLES[log_type]) is log_type


def test_sniffing_falls_back_to_the_lenient_error_grammar() -> None:
    assert sniff_type(b"\x00\xff nothing recognisable\n") is LogType.MYSQL_ERROR
    assert sniff_type(b"") is LogType.MYSQL_ERROR
