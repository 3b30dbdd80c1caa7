"""``aurora-logs parse`` and ``aurora-logs fingerprint``."""

from __future__ import annotations

import gzip
import io
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from common.cli import main
from processor.parsing import LogType, ParsingSettings, make_parser
from tests.processor.parsing.conftest import PROJECT_ROOT
from tests.processor.parsing.samples import SAMPLES

NAMES = {
    LogType.MYSQL_SLOW: "slowquery/mysql-slowquery.log.2026-11-26.9",
    LogType.MYSQL_ERROR: "error/mysql-error-running.log.3",
    LogType.MYSQL_GENERAL: "general/mysql-general.log",
    LogType.MYSQL_AUDIT: "audit/audit.log.0.2026-11-26-09-00.1",
    LogType.POSTGRESQL: "error/postgresql.log.2026-11-26-0900",
    LogType.POSTGRESQL_CSV: "error/postgresql.log.2026-11-26-0900.csv",
    LogType.POSTGRESQL_JSON: "error/postgresql.log.2026-11-26-0900.json",
}


def expected_ndjson(log_type: LogType, data: bytes, fallback_us: int) -> list[dict[str, object]]:
    parser = make_parser(log_type, ParsingSettings(), fallback_timestamp_us=fallback_us)
    return [orjson.loads(orjson.dumps(r)) for r in parser.feed(data) + parser.flush()]


def mtime_us(path: Path) -> int:
    return int(path.stat().st_mtime * 1_000_000)


@pytest.mark.parametrize("log_type", list(LogType))
def test_parse_picks_the_type_from_the_aurora_file_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], log_type: LogType
) -> None:
    path = tmp_path / NAMES[log_type]
    path.parent.mkdir(parents=True)
    path.write_bytes(SAMPLES[log_type])
    assert main(["parse", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [orjson.loads(line) for line in lines] == expected_ndjson(
        log_type, SAMPLES[log_type], mtime_us(path)
    )


def test_parse_sniffs_content_honours_type_and_small_pages(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "copied-from-somewhere.txt"
    path.write_bytes(SAMPLES[LogType.POSTGRESQL])
    expected = expected_ndjson(LogType.POSTGRESQL, SAMPLES[LogType.POSTGRESQL], mtime_us(path))
    assert main(["parse", "--page-bytes", "7", str(path)]) == 0
    assert [orjson.loads(x) for x in capsys.readouterr().out.splitlines()] == expected
    assert main(["parse", "--type", "mysql-error", str(path)]) == 0
    records = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert {r["log_type"] for r in records} == {"mysql_error"}


def test_parse_reads_gzip_files_and_several_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    audit = tmp_path / "server_audit.log.2.gz"
    audit.write_bytes(gzip.compress(SAMPLES[LogType.MYSQL_AUDIT]))
    slow = tmp_path / "mysql-slowquery.log"
    slow.write_bytes(SAMPLES[LogType.MYSQL_SLOW])
    assert main(["parse", str(audit), str(slow)]) == 0
    records = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    expected = expected_ndjson(
        LogType.MYSQL_AUDIT, SAMPLES[LogType.MYSQL_AUDIT], mtime_us(audit)
    ) + expected_ndjson(LogType.MYSQL_SLOW, SAMPLES[LogType.MYSQL_SLOW], mtime_us(slow))
    assert records == expected


def test_parse_options_and_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "postgresql.log.2026-11-26-0900"
    path.write_bytes(
        b"2021-12-03 07:14:48.591 UTC [4913] user=u,db=d LOG:  statement: SELECT 'x'\n"
    )
    assert (
        main(["parse", "--log-line-prefix", "%m [%p] user=%u,db=%d ", "--redact", str(path)]) == 0
    )
    (record,) = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert (record["user"], record["statement"]) == ("u", "SELECT ?")
    monkeypatch.setenv("AURORA_PARSING__POSTGRESQL_LOG_LINE_PREFIX", "%m [%p] user=%u,db=%d ")
    assert main(["parse", str(path)]) == 0
    (record,) = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert record["statement"] == "SELECT 'x'"


def test_parse_reports_bad_settings_and_missing_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["parse", "--log-line-prefix", "%Z", str(tmp_path / "x")]) == 2
    assert "%Z" in capsys.readouterr().err
    monkeypatch.setenv("AURORA_PARSING__MAX_MESSAGE_BYTES", "1")
    assert main(["parse", str(tmp_path / "x")]) == 2
    assert "AURORA_PARSING__MAX_MESSAGE_BYTES" in capsys.readouterr().err
    monkeypatch.delenv("AURORA_PARSING__MAX_MESSAGE_BYTES")
    assert main(["parse", str(tmp_path / "missing.log")]) == 1
    assert "missing.log" in capsys.readouterr().err


def test_parse_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    read, write = os.pipe()
    os.write(write, SAMPLES[LogType.MYSQL_GENERAL])
    os.close(write)
    with os.fdopen(read, "rb") as stdin:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(stdin))
        assert main(["parse", "-"]) == 0
    records = [orjson.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r["command"] for r in records if "command" in r] == [
        "Connect", "Query", "Quit", "Init DB", "Query", "Quit",
    ]  # fmt: skip


def test_fingerprint_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    queries = "\n".join(
        [
            "select * from db.tbl where id=1 or foo='bar';",
            "",
            "SELECT col FROM db.tbl1 WHERE id IN (1, 2)",
        ]
    )
    monkeypatch.setattr(sys, "stdin", io.StringIO(queries))
    assert main(["fingerprint"]) == 0
    # Like pt-fingerprint --query, a query's own trailing `;` is kept.
    assert capsys.readouterr().out.splitlines() == [
        _line("select * from db.tbl where id=? or foo=?;"),
        _line("select col from db.tbl? where id in(?+)"),
    ]
    monkeypatch.setattr(sys, "stdin", io.StringIO("SELECT $1::int4, 'a''b'\n"))
    assert main(["fingerprint", "--postgresql"]) == 0
    assert capsys.readouterr().out == _line("select $1::int4, ?") + "\n"


def _line(fp: str) -> str:
    from processor.parsing import query_id

    return f"{query_id(fp)}\t{fp}"


def test_the_command_line_runs_as_a_module(tmp_path: Path) -> None:
    path = tmp_path / "mysql-error-running.log"
    path.write_bytes(SAMPLES[LogType.MYSQL_ERROR])
    done = subprocess.run(
        [sys.executable, "-m", "common.cli", "parse", str(path)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("AURORA_")},
    )
    records = [orjson.loads(line) for line in done.stdout.splitlines()]
    assert records == expected_ndjson(
        LogType.MYSQL_ERROR, SAMPLES[LogType.MYSQL_ERROR], mtime_us(path)
    )
    assert done.stderr == b""
