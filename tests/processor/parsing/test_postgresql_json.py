"""PostgreSQL jsonlog."""

from __future__ import annotations

from processor.parsing import LogType
from tests.processor.parsing.conftest import parse

JSON = LogType.POSTGRESQL_JSON


def test_jsonlog_keys() -> None:
    data = (
        b'{"timestamp":"2024-06-27 00:00:08.000 UTC","user":"app","dbname":"shop","pid":7,'
        b'"remote_host":"10.0.0.5","remote_port":5432,"session_id":"667c8f67.e327","line_num":3,'
        b'"ps":"SELECT","session_start":"2024-06-27 00:00:07 UTC","vxid":"21/52610848",'
        b'"txid":3949960645,"error_severity":"ERROR","state_code":"42P01","message":"relation '
        b'\\"t\\" does not exist","statement":"SELECT * FROM t WHERE a = 1","func_name":'
        b'"parserOpenTable","file_name":"parse_relation.c","file_line_num":1384,'
        b'"application_name":"psql","backend_type":"client backend","leader_pid":6,'
        b'"query_id":-5}\n'
    )
    (record,) = parse(JSON, data)
    assert record["_timestamp"] == 1719446408000000
    assert (record["user"], record["database"], record["pid"]) == ("app", "shop", 7)
    assert (record["host"], record["port"], record["client"]) == (
        "10.0.0.5",
        5432,
        "10.0.0.5(5432)",
    )
    assert (record["session_id"], record["session_line"]) == ("667c8f67.e327", 3)
    assert record["session_start_us"] == 1719446407000000
    assert record["transaction_id"] == 3949960645
    assert (record["severity"], record["sqlstate"]) == ("ERROR", "42P01")
    assert record["text"] == 'relation "t" does not exist'
    assert record["statement"] == "SELECT * FROM t WHERE a = 1"
    assert record["location"] == "parserOpenTable, parse_relation.c:1384"
    assert (record["leader_pid"], record["pg_query_id"]) == (6, -5)


def test_omitted_state_code_means_success() -> None:
    data = b'{"timestamp":"2024-06-27 00:00:07.369 CEST","error_severity":"LOG","message":"x"}\n'
    (record,) = parse(JSON, data)
    assert record["sqlstate"] == "00000"
    assert record["_timestamp"] == 1719439207369000


def test_lines_that_are_not_jsonlog_are_parse_errors() -> None:
    data = b'{"level":"info","record":{}}\n{broken\n[1,2]\n\xff\xfe\n'
    records = parse(JSON, data)
    assert [r["parse_error"] for r in records] == [True, True, True, True]
    assert records[3]["message"] == "\\xff\\xfe"
    assert records[3]["invalid_utf8"] is True


def test_invalid_utf8_inside_a_json_string() -> None:
    data = b'{"timestamp":"2024-06-27 00:00:07 UTC","error_severity":"LOG","message":"caf\xe9"}\n'
    (record,) = parse(JSON, data)
    assert record["text"] == "caf\\xe9"
    assert record["invalid_utf8"] is True
