"""MySQL general query log: new and old styles, multi-line queries, commands."""

from __future__ import annotations

from processor.parsing import LogType, ParserCheckpoint, ParsingSettings, make_parser
from tests.processor.parsing.conftest import FALLBACK_US, parse

GENERAL = LogType.MYSQL_GENERAL


def test_new_style_entries() -> None:
    data = (
        b"/rdsdbbin/oscar/bin/mysqld, Version: 8.0.28 (Source distribution). started with:\n"
        b"Tcp port: 3306  Unix socket: /tmp/mysql.sock\n"
        b"Time                 Id Command    Argument\n"
        b"2024-01-03T08:00:01.341151Z\t   30 Connect\tapp@10.0.0.5 on shop using TCP/IP\n"
        b"2024-01-03T08:12:19.125290Z\t262325 Query\twith dataset as (\n"
        b"select sleep(2) as t)\nselect * from t\n"
        b"2018-09-07T18:45:40.101009+08:00\t257426 Quit\t\n"
        b"2016-06-07T19:07:02.558338Z    3 Connect\tphpmyadmin@localhost on  using Socket\n"
    )
    connect, query, quit_, socket = parse(GENERAL, data)
    assert connect["command"] == "Connect"
    assert (connect["user"], connect["host"], connect["database"]) == ("app", "10.0.0.5", "shop")
    assert connect["thread_id"] == 30
    assert query["statement"] == "with dataset as (\nselect sleep(2) as t)\nselect * from t"
    assert query["fingerprint"] == "with dataset as ( select sleep(?) as t) select * from t"
    assert query["_timestamp"] == 1704269539125290
    assert quit_["command"] == "Quit"
    assert "argument" not in quit_
    assert quit_["_timestamp"] == 1536317140101009
    assert "database" not in socket


def test_old_style_carries_the_timestamp_through_checkpoints() -> None:
    data = (
        b"051007 21:55:24\t     42 Connect     root@localhost on db1\n"
        b"\t\t                 42 Query       SELECT foo \n"
        b"                         FROM tbl\n"
        b"\t\t                 42 Init DB     my_webstats\n"
        b"\t\t                 42 Quit\n"
    )
    whole = parse(GENERAL, data)
    assert [r["command"] for r in whole] == ["Connect", "Query", "Init DB", "Quit"]
    assert len({r["_timestamp"] for r in whole}) == 1
    assert whole[1]["statement"] == "SELECT foo \n                         FROM tbl"
    assert whole[2]["database"] == "my_webstats"
    parser = make_parser(GENERAL, ParsingSettings(), fallback_timestamp_us=FALLBACK_US)
    head = parser.feed(data[:130])  # the Connect entry is complete, the Query held back
    assert len(head) == 1
    checkpoint = ParserCheckpoint.from_json(parser.checkpoint().to_json())
    assert checkpoint.state["ts_us"] == whole[0]["_timestamp"]
    resumed = make_parser(GENERAL, ParsingSettings(), checkpoint=checkpoint)
    assert head + resumed.feed(data[checkpoint.offset :]) + resumed.flush() == whole


def test_access_denied_connect_and_spaces_instead_of_tabs() -> None:
    data = (
        b"\t\t12345 Connect\tAccess denied for user 'nobody'@'localhost' (using password: NO)\n"
        b"                     51 Query       SELECT 1\n"
    )
    denied, query = parse(GENERAL, data)
    assert "user" not in denied
    assert denied["argument"].startswith("Access denied")
    assert query["statement"] == "SELECT 1"


def test_sql_continuation_lines_never_start_entries() -> None:
    data = b"2024-01-03T08:00:01.341151Z\t1 Query\tSELECT a\n  , 2 Query\n FROM t\n"
    (record,) = parse(GENERAL, data)
    assert record["statement"] == "SELECT a\n  , 2 Query\n FROM t"


def test_redaction() -> None:
    data = b"2024-01-03T08:00:01.341151Z\t1 Query\tSELECT * FROM t WHERE email = 'a@b.c'\n"
    (record,) = parse(GENERAL, data, ParsingSettings(redact_literals=True))
    assert record["statement"] == "SELECT * FROM t WHERE email = ?"
    assert (
        record["message"] == "2024-01-03T08:00:01.341151Z\t1 Query\tSELECT * FROM t WHERE email = ?"
    )
