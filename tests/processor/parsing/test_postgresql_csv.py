"""PostgreSQL csvlog: quoted newlines, column counts of several versions, broken rows."""

from __future__ import annotations

from processor.parsing import LogType, ParsingSettings
from tests.processor.parsing.conftest import parse

CSV = LogType.POSTGRESQL_CSV
ROW_11 = (
    b'2021-01-04 00:22:01.903 UTC,"postgres","postgres",59,"172.24.0.1:42642",5ff25f96.3b,3,'
    b'"SELECT",2021-01-04 00:21:42 UTC,3/0,0,LOG,00000,"duration: 0.658 ms  statement: SELECT '
    b"'multi',\n'line';\",,,,,,,,,\"psql\"\n"
)
ROW_13 = (
    b'2021-02-14 10:45:48.164 UTC,"postgres","postgres",86,"172.24.0.1:48978",6028ff3a.56,6,'
    b'"idle in transaction",2021-02-14 10:45:14 UTC,3/4,0,FATAL,25P03,"terminating connection'
    b' due to idle-in-transaction timeout",,,,,,,,,"psql","client backend"\n'
)
ROW_14 = (
    b'"2026-05-16 05:11:50.269 UTC","u","d",1001,"192.0.2.10:54321",00000001.000003e9,1,"BIND",'
    b'"2026-05-16 05:00:00 UTC",1/1,0,LOG,00000,"duration: 0.5 ms  bind S_1: SELECT $1",'
    b'"parameters: $1 = \'7\'",,,,,,,,"app","client backend",77,-42\n'
)


def test_a_quoted_field_spans_lines() -> None:
    (record,) = parse(CSV, ROW_11)
    assert record["statement"] == "SELECT 'multi',\n'line';"
    assert record["duration_ms"] == 0.658
    assert (record["user"], record["database"], record["pid"]) == ("postgres", "postgres", 59)
    assert (record["host"], record["port"]) == ("172.24.0.1", 42642)
    assert record["session_start_us"] == 1609719702000000
    assert record["sqlstate"] == "00000"
    assert record["application_name"] == "psql"
    assert record["length"] == len(ROW_11)


def test_pg13_and_pg14_columns() -> None:
    fatal, bind = parse(CSV, ROW_13 + ROW_14)
    assert fatal["severity"] == "FATAL"
    assert fatal["sqlstate"] == "25P03"
    assert fatal["backend_type"] == "client backend"
    assert fatal["command_tag"] == "idle in transaction"
    assert bind["leader_pid"] == 77
    assert bind["pg_query_id"] == -42
    assert bind["parameters"] == "$1 = '7'"
    assert bind["_timestamp"] == 1778908310269000


def test_a_row_with_an_unclosed_quote_does_not_swallow_the_next() -> None:
    broken = b'2021-02-14 10:45:48.000 UTC,"postgres","postgres",86,"oops\n'
    records = parse(CSV, broken + ROW_13)
    assert records[0]["parse_error"] is True
    assert records[0]["length"] == len(broken)
    assert records[1]["severity"] == "FATAL"


def test_foreign_lines_are_parse_errors() -> None:
    records = parse(CSV, b"not a csv row\n" + ROW_13)
    assert records[0]["parse_error"] is True
    assert records[1]["offset"] == len(b"not a csv row\n")


def test_redaction_rewrites_free_text_columns() -> None:
    (record,) = parse(CSV, ROW_14, ParsingSettings(redact_literals=True))
    assert record["parameters"] == "$1 = ?"
    assert "'7'" not in record["message"]
    assert record["message"].startswith("2026-05-16 05:11:50.269 UTC,u,d,1001,")
