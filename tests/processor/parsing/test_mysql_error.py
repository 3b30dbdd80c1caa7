"""MySQL error log: every line style, continuation lines, Aurora's foreign lines."""

from __future__ import annotations

import calendar

from processor.parsing import LogType, ParsingSettings
from tests.processor.parsing.conftest import FALLBACK_US, parse

ERROR = LogType.MYSQL_ERROR


def test_mysql_80_line_with_aurora_source_location() -> None:
    data = (
        b"2023-11-28T09:13:22.104678Z 0 [System] [MY-010116] [Server] /rdsdbbin/oscar/bin/mysqld"
        b" (mysqld 8.0.28) starting as process 259 (mysqld.cc:5965)\n"
    )
    (record,) = parse(ERROR, data)
    assert record["_timestamp"] == 1701162802104678
    assert record["severity"] == "SYSTEM"
    assert record["error_code"] == "MY-010116"
    assert record["subsystem"] == "Server"
    assert record["thread_id"] == 0
    assert record["source_location"] == "mysqld.cc:5965"
    assert record["text"] == "/rdsdbbin/oscar/bin/mysqld (mysqld 8.0.28) starting as process 259"


def test_mysql_57_56_and_55_line_styles() -> None:
    data = (
        b"2016-12-09T12:08:33.335060Z 0 [Warning] TIMESTAMP with implicit DEFAULT value\n"
        b"2016-01-01 12:00:00 1234 [Note] InnoDB: started\n"
        b"080721  3:04:00 [ERROR] /usr/sbin/mysqld: unknown variable\n"
        b"091119 22:27:11InnoDB: Warning: cannot find a free slot\n"
        b"080721 03:03:57  mysqld started\n"
    )
    w57, n56, e55, innodb, started = parse(ERROR, data)
    assert (w57["severity"], w57["thread_id"], w57["text"]) == (
        "WARNING",
        0,
        "TIMESTAMP with implicit DEFAULT value",
    )
    assert (n56["severity"], n56["thread_id"]) == ("NOTE", 1234)
    assert n56["_timestamp"] == calendar.timegm((2016, 1, 1, 12, 0, 0)) * 1_000_000
    assert (e55["severity"], e55["text"]) == ("ERROR", "/usr/sbin/mysqld: unknown variable")
    assert e55["_timestamp"] == calendar.timegm((2008, 7, 21, 3, 4, 0)) * 1_000_000
    assert innodb["text"] == "InnoDB: Warning: cannot find a free slot"
    assert "severity" not in innodb
    assert started["text"] == "mysqld started"


def test_continuation_lines_belong_to_the_entry_before() -> None:
    data = (
        b"080517  4:20:13 [Note] /usr/sbin/mysqld: ready for connections.\n"
        b"Version: '5.0.58-log'  socket: '/var/lib/mysql/mysql.sock'  port: 3306\n"
        b"\n"
        b"Status information:\n"
        b"\tstack 0x1\n"
        b"2023-11-28T09:13:34.131165Z 5 [Note] [MY-013386] [Server] Running queries to upgrade."
        b" (server.cc:758)\n"
        b"# Existing AMS 5.7 privilege columns\n"
        b"INSERT INTO mysql.role_edges select '%', host from mysql.user;\n"
        b". Ignored error No: 1054, Unknown column 'x' in 'where clause'(server.cc:629)\n"
    )
    ready, upgrade = parse(ERROR, data)
    assert ready["text"].endswith("Status information:\n\tstack 0x1")
    assert ready["length"] == data.index(b"2023-")
    assert upgrade["source_location"] == "server.cc:629", "the location ends the whole entry"
    assert "INSERT INTO mysql.role_edges" in upgrade["text"]


def test_aurora_das_and_server_audit_lines() -> None:
    data = (
        b"231128  9:13:22 server_audit: Audit STARTED.\n"
        b"Found DAS config file, trying to load DAS switcher from DAS config file.\n"
        b"2023-11-28 09:13:22 22566174378368:[DAS][INFO]: Calculated persistence threads 4\n"
        b"aurora_enable_das:0\n"
    )
    audit, das = parse(ERROR, data)
    assert audit["text"].startswith("server_audit: Audit STARTED.\nFound DAS config")
    assert das["subsystem"] == "DAS"
    assert das["severity"] == "INFO"
    assert das["thread_id"] == 22566174378368
    assert das["text"] == "Calculated persistence threads 4\naurora_enable_das:0"


def test_text_before_the_first_entry_and_garbage_files() -> None:
    records = parse(ERROR, b"InnoDB: dump line\nmore\n2016-01-01 12:00:00 1 [Note] ok\n")
    assert records[0]["parse_error"] is True
    assert records[0]["message"] == "InnoDB: dump line\nmore"
    assert records[0]["_timestamp"] == FALLBACK_US
    (garbage,) = parse(ERROR, b"pattern1\ninfo\n^foo\n")
    assert garbage["parse_error"] is True


def test_redaction_keeps_the_line_prefix() -> None:
    data = b"2016-12-09T12:08:33.335060Z 7 [Note] Access denied for user 'bob'@'10.0.0.5'\n"
    (record,) = parse(ERROR, data, ParsingSettings(redact_literals=True))
    assert record["message"] == "2016-12-09T12:08:33.335060Z 7 [Note] Access denied for user ?@?"
    assert record["text"] == "Access denied for user ?@?"
