"""PostgreSQL stderr logs: the RDS prefix, other prefixes, message grammar, plans."""

from __future__ import annotations

import pytest

from processor.parsing import LogType, ParsingSettings
from processor.parsing.log_line_prefix import compile_prefix
from tests.processor.parsing.conftest import FALLBACK_US, parse

PG = LogType.POSTGRESQL
RDS = b"2023-11-29 09:24:09 UTC:10.0.2.55(57562):postgres@shop:[29735]:"


def line(text: bytes, prefix: bytes = RDS) -> bytes:
    return prefix + text + b"\n"


@pytest.mark.parametrize(
    ("client", "host", "port"),
    [
        (b"10.0.2.55(57562)", "10.0.2.55", 57562),
        (b"2001:db8::1(5432)", "2001:db8::1", 5432),
        (b"[local]", "[local]", None),
        (
            b"ec2-1-1-1-1.compute-1.amazonaws.com(48808)",
            "ec2-1-1-1-1.compute-1.amazonaws.com",
            48808,
        ),
    ],
)
def test_rds_prefix_clients(client: bytes, host: str, port: int | None) -> None:
    data = b"2023-11-29 09:24:09 UTC:" + client + b":[unknown]@[unknown]:[12]:LOG:  connection\n"
    (record,) = parse(PG, data)
    assert record["client"] == client.decode()
    assert record["host"] == host
    assert record.get("port") == port
    assert (record["user"], record["database"], record["pid"]) == ("[unknown]", "[unknown]", 12)
    assert record["_timestamp"] == 1701249849000000
    assert record["text"] == "connection"


def test_background_process_lines_have_no_session_fields() -> None:
    (record,) = parse(PG, b"2023-11-29 09:23:46 UTC::@:[560]:LOG:  checkpoint starting: time\n")
    assert record["pid"] == 560
    assert not {"client", "user", "database", "host"} & record.keys()


def test_default_prefix_startup_lines_are_read_too() -> None:
    data = b"2024-03-27 01:35:26.270 GMT [394] LOG:  skipping missing configuration file\n"
    (record,) = parse(PG, data)
    assert record["_timestamp"] == 1711503326270000
    assert record["pid"] == 394


def test_duration_statement_with_tab_continuations() -> None:
    data = line(b"LOG:  duration: 100.50 ms  statement: SELECT name\n\tFROM t\n\tWHERE id = 1")
    (record,) = parse(PG, data)
    assert record["duration_ms"] == 100.5
    assert record["statement_kind"] == "statement"
    assert record["statement"] == "SELECT name\nFROM t\nWHERE id = 1"
    assert record["fingerprint"] == "select name from t where id = ?"
    assert "text" not in record


@pytest.mark.parametrize(
    ("body", "kind", "name", "statement"),
    [
        (b"duration: 1.163 ms  parse njQuery: SELECT $1", "parse", "njQuery", "SELECT $1"),
        (b"duration: 0.7 ms  bind <unnamed>: SELECT $1", "bind", "<unnamed>", "SELECT $1"),
        (b"duration: 0.2 ms  execute S_1/C_2: SELECT $1", "execute", "S_1/C_2", "SELECT $1"),
        (b"execute pdo_stmt_1: SELECT 1", "execute", "pdo_stmt_1", "SELECT 1"),
        (b"statement: SELECT 1", "statement", None, "SELECT 1"),
        (b"duration: 0.054 ms statement: SELECT 2", "statement", None, "SELECT 2"),
    ],
)
def test_extended_protocol_steps(body: bytes, kind: str, name: str | None, statement: str) -> None:
    (record,) = parse(PG, line(b"LOG:  " + body))
    assert record["statement_kind"] == kind
    assert record.get("prepared_name") == name
    assert record["statement"] == statement


def test_secondary_lines_join_their_message() -> None:
    data = (
        line(b'ERROR:  duplicate key value violates unique constraint "u"')
        + line(b"DETAIL:  Key (email)=(a@b.c) already exists.")
        + line(b"HINT:  Retry.")
        + line(b'CONTEXT:  SQL function "f"')
        + line(b"STATEMENT:  INSERT INTO t VALUES ('a@b.c')")
        + line(b"LOG:  duration: 0.215 ms  execute S_1: SELECT $1")
        + line(b"DETAIL:  parameters: $1 = 'multi\n\tline'")
    )
    error, execute = parse(PG, data)
    assert error["severity"] == "ERROR"
    assert error["text"] == 'duplicate key value violates unique constraint "u"'
    assert error["detail"] == "Key (email)=(a@b.c) already exists."
    assert (error["hint"], error["context"]) == ("Retry.", 'SQL function "f"')
    assert error["statement"] == "INSERT INTO t VALUES ('a@b.c')"
    assert error["fingerprint"] == "insert into t values(?+)"
    assert execute["parameters"] == "$1 = 'multi\nline'"
    assert "detail" not in execute


def test_verbose_errors_carry_sqlstate_and_location() -> None:
    data = line(b'ERROR:  42P01: relation "t" does not exist') + line(
        b"LOCATION:  parserOpenTable, parse_relation.c:1384"
    )
    (record,) = parse(PG, data)
    assert record["sqlstate"] == "42P01"
    assert record["text"] == 'relation "t" does not exist'
    assert record["location"] == "parserOpenTable, parse_relation.c:1384"


def test_auto_explain_text_plan() -> None:
    data = line(
        b"LOG:  duration: 482.362 ms  plan:\n\tQuery Text: SELECT count(*)\n\t  FROM t\n"
        b"\tAggregate  (cost=1.0..2.0 rows=1 width=8)\n\t  ->  Seq Scan on t  (cost=0.00..1.00)"
    )
    (record,) = parse(PG, data)
    assert record["statement_kind"] == "plan"
    assert record["statement"] == "SELECT count(*)\n  FROM t"
    assert record["plan"].startswith("Query Text: SELECT count(*)")
    assert record["plan"].endswith("Seq Scan on t  (cost=0.00..1.00)")


def test_auto_explain_json_plan_whole_and_cut() -> None:
    plan = (
        b'{\n\t  "Query Text": "SELECT \\"a\\" FROM t",\n\t  "Plan": {"Node Type": "Result"}\n\t}'
    )
    (whole,) = parse(PG, line(b"LOG:  duration: 1.000 ms  plan:\n\t" + plan))
    assert whole["statement"] == 'SELECT "a" FROM t'
    assert whole["plan"].startswith("{")
    cut = line(
        b"LOG:  duration: 1.000 ms  plan:\n\t" + plan[:50] + b" [Your log message was truncated]"
    )
    (record,) = parse(PG, cut)
    assert record["statement"] == 'SELECT "a" FROM t'
    assert record["rds_truncated"] is True


def test_lines_without_prefix_continue_and_leading_garbage_is_kept() -> None:
    data = b"\tcut continuation\n" + line(b"FATAL:  could not start") + b"pg_ctl: gone\n"
    garbage, fatal = parse(PG, data)
    assert garbage["parse_error"] is True
    assert garbage["_timestamp"] == FALLBACK_US
    assert fatal["text"] == "could not start\npg_ctl: gone"


def test_cloudwatch_export_prefix_is_accepted() -> None:
    data = b"2023-11-29T09:24:10.000Z " + line(b"LOG:  statement: SELECT 1")
    (record,) = parse(PG, data)
    assert record["statement"] == "SELECT 1"
    assert record["_timestamp"] == 1701249849000000, "the server's time, not the export's"


@pytest.mark.parametrize(
    ("prefix", "text", "expected"),
    [
        (
            "%m [%p] %q%u@%d ",
            b"2019-09-04 15:52:38.004 CEST [31136] user@host LOG:  statement: SELECT 1",
            {"pid": 31136, "user": "user", "database": "host", "_timestamp": 1567605158004000},
        ),
        (
            "%m [%p] %q%u@%d ",
            b"2025-01-21 18:37:49.793 CET [78779] LOG:  database system was shut down",
            {"pid": 78779, "_timestamp": 1737481069793000},
        ),
        (
            "%t [%p]: [%l-1] user=%u,db=%d,app=%a,client=%h ",
            b"2017-09-06 08:41:41 UTC [36]: [121-1] user=postgres,db=pg,app=pgbench,"
            b"client=172.23.0.1 LOG:  duration: 2.280 ms  statement: END;",
            {"session_line": 121, "application_name": "pgbench", "client": "172.23.0.1"},
        ),
        (
            "%m [%p] [queryid=%Q] %q%u@%d ",
            b"2022-02-17 16:24:32.956 UTC [731] [queryid=-8112313845396740087] postgres@so LOG:  x",
            {"pg_query_id": -8112313845396740087, "database": "so"},
        ),
        (
            "%n %e %c %x %v %i %%|%-10u|",
            b"1700000000.123 42P01 6028ff3a.56 73 3/4 SELECT %|bob       |ERROR:  boom",
            {
                "sqlstate": "42P01",
                "session_id": "6028ff3a.56",
                "transaction_id": 73,
                "virtual_transaction_id": "3/4",
                "command_tag": "SELECT",
                "user": "bob",
                "_timestamp": 1700000000123000,
            },
        ),
    ],
)
def test_other_log_line_prefixes(prefix: str, text: bytes, expected: dict[str, object]) -> None:
    (record,) = parse(PG, text + b"\n", ParsingSettings(postgresql_log_line_prefix=prefix))
    assert "parse_error" not in record
    assert {key: record.get(key) for key in expected} == expected


def test_unknown_prefix_escape_is_refused() -> None:
    with pytest.raises(ValueError, match="%Z"):
        compile_prefix("%t %Z ")


def test_redaction_keeps_prefixes_and_identifiers() -> None:
    data = line(
        b'LOG:  duration: 1.000 ms  execute S_1: SELECT "Email" FROM t WHERE a = $1'
    ) + line(b"DETAIL:  parameters: $1 = 'bob@example.com'")
    (record,) = parse(PG, data, ParsingSettings(redact_literals=True))
    assert record["parameters"] == "$1 = ?"
    assert "bob@example.com" not in record["message"]
    assert record["message"].startswith(RDS.decode() + "LOG:  duration: ?")
    assert record["statement"] == 'SELECT "Email" FROM t WHERE a = $1'
