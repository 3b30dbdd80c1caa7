"""MySQL audit logs: Aurora Advanced Auditing and the RDS MariaDB audit plugin."""

from __future__ import annotations

import calendar
from pathlib import Path

from processor.parsing import LogType, ParsingSettings
from tests.processor.parsing.conftest import parse

AUDIT = LogType.MYSQL_AUDIT


def test_aurora_query_event_with_escapes() -> None:
    data = (
        b"1703817810076799,aurora-mysql-instance-1,rdsadmin,localhost,223170,20070834,QUERY,,"
        b"'SET SESSION time_zone=\\'+00:00\\', sql_mode=\\'a\\\\\\\\b\\'\\nx',0\n"
    )
    (record,) = parse(AUDIT, data)
    assert record["_timestamp"] == 1703817810076799
    assert record["server_host"] == "aurora-mysql-instance-1"
    assert (record["user"], record["host"]) == ("rdsadmin", "localhost")
    assert (record["connection_id"], record["audit_query_id"]) == (223170, 20070834)
    assert record["operation"] == "QUERY"
    assert record["retcode"] == 0
    assert "database" not in record
    assert record["statement"] == "SET SESSION time_zone='+00:00', sql_mode='a\\\\b'\nx"
    assert record["fingerprint"] == "set session time_zone=?, sql_mode=? x"
    assert "object" not in record


def test_table_events_connects_and_failures() -> None:
    data = (
        b"1703817810076091,aurora-1,app,10.0.0.5,223170,0,CONNECT,,,0\n"
        b"1703817810076092,aurora-1,app,10.0.0.5,223170,966941,CREATE,world,customers,\n"
        b"1703817810076093,aurora-1,app,10.0.0.5,223170,966942,RENAME,test,t1|test.renamed_t1,\n"
        b"1703817810076094,aurora-1,nobody,10.0.0.5,223171,0,FAILED_CONNECT,,,1045\n"
    )
    connect, create, rename, failed = parse(AUDIT, data)
    assert connect["operation"] == "CONNECT"
    assert connect["audit_query_id"] == 0
    assert "object" not in connect
    assert (create["database"], create["object"]) == ("world", "customers")
    assert "retcode" not in create, "table events have an empty retcode"
    assert rename["object"] == "t1|test.renamed_t1"
    assert failed["retcode"] == 1045


def test_rds_plugin_timestamp_and_trailing_fields() -> None:
    data = b"20240323 13:36:09,ip-172-17-4-137,rdsadmin,localhost,4,149869,QUERY,,'SELECT 1',0,,\n"
    (record,) = parse(AUDIT, data)
    assert record["_timestamp"] == calendar.timegm((2024, 3, 23, 13, 36, 9)) * 1_000_000
    assert record["statement"] == "SELECT 1"


def test_truncated_query_keeps_its_closing_quote() -> None:
    data = b"1703817810076799,a,root,localhost,1,2,QUERY,sa_db,'set global serv',0\n"
    (record,) = parse(AUDIT, data)
    assert record["statement"] == "set global serv"


def test_raw_newline_joins_the_next_line_and_garbage_is_kept() -> None:
    data = (
        b"1703817810076799,a,root,localhost,1,2,QUERY,,'SELECT 1\nFROM t',0\n"
        b"1703817810076800,a,root,localhost,1,3,WRITE,db,t,\n"
        b"not an event\n"
        b"1703817810076801,a,root,localhost,1,4,QUERY,,'SELECT 2',0\n"
    )
    joined, write, garbage, last = parse(AUDIT, data)
    assert joined["statement"] == "SELECT 1\nFROM t"
    assert write["object"] == "t"
    assert write["length"] == len(b"1703817810076800,a,root,localhost,1,3,WRITE,db,t,\n")
    assert garbage["parse_error"] is True
    assert garbage["message"] == "not an event"
    assert garbage["_timestamp"] == write["_timestamp"]
    assert last["statement"] == "SELECT 2"


def test_redaction_rewrites_the_quoted_object() -> None:
    data = b"1703817810076799,a,root,localhost,1,2,QUERY,,'SELECT \\'secret\\', 42',0\n"
    (record,) = parse(AUDIT, data, ParsingSettings(redact_literals=True))
    assert record["statement"] == "SELECT ?, ?"
    assert "secret" not in record["message"]
    assert record["message"].endswith(",'SELECT ?, ?',0")


def test_masked_mariadb_test_output_parses_once_unmasked(corpus: Path) -> None:
    """MariaDB's test masks times and ids (TIME, ID); with real values every line is an
    event, with the escapes, truncations and operations the plugin writes."""
    masked = (corpus / "mysql" / "audit" / "mariadb-server_audit-test-excerpt.log").read_bytes()
    unmasked = masked.replace(b"TIME,", b"20240323 13:36:09,").replace(b",ID", b",7")
    records = parse(AUDIT, unmasked)
    assert len(records) == masked.count(b"\n")
    assert not any(r.get("parse_error") for r in records)
    statements = [r.get("statement") for r in records]
    assert "set global server_audit_incl_users='odin, root, dva, tri'" in statements
    assert "CREATE USER u1 IDENTIFIED BY *****" in statements
    operations = {"QUERY", "CONNECT", "DISCONNECT", "FAILED_CONNECT", "CREATE", "WRITE", "READ"}
    assert {r["operation"] for r in records} >= operations | {"ALTER", "RENAME", "DROP"}


def test_events_keep_their_own_time_in_any_order() -> None:
    """Aurora writes four audit files at once, each not in time order: nothing here may assume
    that time only moves forward (the processor sorts when it merges the files)."""
    data = (
        b"1703817812000000,a,root,localhost,1,2,QUERY,,'SELECT 2',0\n"
        b"1703817810000000,a,root,localhost,1,1,QUERY,,'SELECT 1',0\n"
        b"1703817811000000,a,root,localhost,1,3,QUERY,,'SELECT 3',0\n"
    )
    records = parse(AUDIT, data)
    assert [r["_timestamp"] for r in records] == [
        1703817812000000,
        1703817810000000,
        1703817811000000,
    ]
