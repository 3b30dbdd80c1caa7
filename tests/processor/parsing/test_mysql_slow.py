"""MySQL slow query log: the grammar's edge cases (reference section 8), one by one."""

from __future__ import annotations

import calendar
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from processor.parsing import LogType, ParserCheckpoint, ParsingSettings, make_parser, query_id
from processor.parsing.mysql_slow import _CANDIDATE, MySqlSlowParser, _candidates
from tests.processor.parsing.conftest import FALLBACK_US, parse

SLOW = LogType.MYSQL_SLOW
ENTRY_57 = (
    b"# Time: 2026-11-26T09:00:01.000100Z\n"
    b"# User@Host: app[app] @  [10.0.1.76]  Id:    12\n"
    b"# Query_time: 1.500000  Lock_time: 0.000100 Rows_sent: 3  Rows_examined: 300\n"
    b"use shop;\n"
    b"SET timestamp=1795683600;\n"
    b"SELECT name FROM users WHERE id = 7;\n"
)


def test_standard_entry_fields() -> None:
    (record,) = parse(SLOW, ENTRY_57)
    assert record == {
        "_timestamp": 1795683601000100,
        "log_type": "mysql_slow",
        "offset": 0,
        "length": len(ENTRY_57),
        "message": ENTRY_57.decode().rstrip("\n"),
        "user": "app",
        "ip": "10.0.1.76",
        "thread_id": 12,
        "query_time_s": 1.5,
        "lock_time_s": 0.0001,
        "rows_sent": 3,
        "rows_examined": 300,
        "start_time_us": 1795683600000000,
        "database": "shop",
        "statement": "SELECT name FROM users WHERE id = 7",
        "fingerprint": "select name from users where id = ?",
        "query_id": query_id("select name from users where id = ?"),
    }


def test_fast_path_and_general_path_agree() -> None:
    parser = MySqlSlowParser(ParsingSettings(), fallback_timestamp_us=FALLBACK_US)
    text = ENTRY_57.decode()
    fast = parser._parse_standard(text, 0, len(ENTRY_57))
    general = MySqlSlowParser(ParsingSettings(), fallback_timestamp_us=FALLBACK_US)
    assert fast is not None
    assert general._parse_general(text, 0, len(ENTRY_57)) == [fast]


def test_banner_lines_anywhere_yield_no_record_and_reset_use() -> None:
    banners = [
        b"/rdsdbbin/oscar/bin/mysqld, Version: 8.0.28 (Source distribution). started with:\n"
        b"Tcp port: 3306  Unix socket: /tmp/mysql.sock\n"
        b"Time                 Id Command    Argument\n",
        b"D:\\MySQL\\bin\\mysqld.exe, Version: 5.1.30-community-log (MySQL Community Server (GPL))."
        b" started with:\nTCP Port: 3306, Named Pipe: (null)\nTime                 Id Command"
        b"    Argument\n",
        b"mysqld, Version: 10.2.13-MariaDB-10.2.13+maria~jessie-log (mariadb.org binary"
        b" distribution). started with:\nTcp port: 0  Unix socket: /var/run/mysqld/mysqld.sock\n"
        b"Time                 Id Command    Argument\n",
    ]
    second = ENTRY_57.replace(b"use shop;\n", b"")
    for banner in banners:
        records = parse(SLOW, banner + ENTRY_57 + banner + second)
        assert [r["offset"] for r in records] == [len(banner), 2 * len(banner) + len(ENTRY_57)]
        assert records[0]["database"] == "shop"
        assert "database" not in records[1], "a restart starts the file's `use` cache afresh"


def test_use_is_carried_forward_and_through_a_checkpoint() -> None:
    second = ENTRY_57.replace(b"use shop;\n", b"").replace(b"id = 7", b"id = 8")
    data = ENTRY_57 + second + second
    whole = parse(SLOW, data)
    assert [r["database"] for r in whole] == ["shop", "shop", "shop"]
    parser = make_parser(SLOW, ParsingSettings(), fallback_timestamp_us=FALLBACK_US)
    first = parser.feed(ENTRY_57 + second)
    checkpoint = ParserCheckpoint.from_json(parser.checkpoint().to_json())
    assert checkpoint.offset == len(ENTRY_57), "the second entry is held back"
    assert checkpoint.state["db"] == "shop"
    resumed = make_parser(SLOW, ParsingSettings(), checkpoint=checkpoint)
    rest = resumed.feed(data[checkpoint.offset :]) + resumed.flush()
    assert first + rest == whole


def test_a_client_use_statement_names_its_database_without_changing_the_cache() -> None:
    client_use = ENTRY_57.replace(b"use shop;\n", b"").replace(
        b"SELECT name FROM users WHERE id = 7;", b"use `other`;"
    )
    records = parse(SLOW, ENTRY_57 + client_use + ENTRY_57.replace(b"use shop;\n", b""))
    assert [r.get("database") for r in records] == ["shop", "other", "shop"]
    assert records[1]["fingerprint"] == "use ?"


def test_text_before_the_first_entry_is_one_parse_error_record() -> None:
    prefix = b"# Filesort: No\nSET timestamp=1;\nSELECT tail FROM a_cut_entry;\n"
    records = parse(SLOW, prefix + ENTRY_57)
    assert records[0] == {
        "_timestamp": FALLBACK_US,
        "log_type": "mysql_slow",
        "offset": 0,
        "length": len(prefix),
        "message": prefix.decode().rstrip("\n"),
        "parse_error": True,
    }
    assert records[1]["offset"] == len(prefix)


def test_blank_text_before_the_first_entry_yields_nothing() -> None:
    assert [r["offset"] for r in parse(SLOW, b"\n\n" + ENTRY_57)] == [2]


def test_a_truncated_last_entry_is_flushed() -> None:
    data = ENTRY_57 + ENTRY_57[:-20]  # the file ends inside the statement, without a newline
    parser = make_parser(SLOW, ParsingSettings(), fallback_timestamp_us=FALLBACK_US)
    assert len(parser.feed(data)) == 1
    (last,) = parser.flush()
    assert last["statement"] == "SELECT name FROM"
    assert parser.checkpoint().offset == len(data)


def test_a_header_line_after_a_hash_line_of_a_statement_does_not_start_an_entry() -> None:
    """The `# Query_time:` line is a candidate, but the line before it is a `#` line of the
    statement: the page has more candidates than `# Time:` lines, and the rule decides."""
    first = ENTRY_57[:-37] + b"SELECT 1\n#x\n# Query_time: 2.0\n"
    data = first + ENTRY_57
    for page in (len(data), 7):
        records = parse(SLOW, data, chunks=range(page, len(data), page))
        assert [r["offset"] for r in records] == [0, len(first)]
        assert records[0]["statement"] == "SELECT 1\n#x\n# Query_time: 2.0"


def test_an_entry_without_query_time_is_a_parse_error() -> None:
    data = b"# Time: 081114 13:04:02\n# User@Host: truncated\n"
    (record,) = parse(SLOW, data)
    assert record["parse_error"] is True
    assert record["message"] == data.decode().rstrip("\n")


def test_an_entry_cut_short_does_not_swallow_the_next_one() -> None:
    cut_short = b"# Time: 081114 13:04:02\n# User@Host: trunc[trunc] @ host []\n"
    records = parse(SLOW, cut_short + ENTRY_57)
    assert [r.get("parse_error", False) for r in records] == [True, False]
    assert records[1]["offset"] == len(cut_short)


def test_entries_without_time_take_set_timestamp_else_the_previous_time() -> None:
    data = (
        b"# Time: 081127  8:51:20\n"
        b"# User@Host: a[a] @  [10.1.12.201]\n# Thread_id: 1  Schema: test\n"
        b"# Query_time: 0.1  Lock_time: 0.0  Rows_sent: 1  Rows_examined: 1\nSHOW STATUS;\n"
        b"# User@Host: b[b] @  [10.1.250.19]\n# Thread_id: 2  Schema: abc\n"
        b"# Query_time: 0.1  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 0\ncommit;\n"
        b"# User@Host: c[c] @  [10.1.250.19]\n# Thread_id: 3  Schema: abc\n"
        b"# Query_time: 0.1  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 0\n"
        b"SET timestamp=1227776000;\ncommit;\n"
    )
    first, second, third = parse(SLOW, data)
    assert first["_timestamp"] == calendar.timegm((2008, 11, 27, 8, 51, 20)) * 1_000_000
    assert second["_timestamp"] == first["_timestamp"]
    assert third["_timestamp"] == third["start_time_us"] == 1227776000000000


def test_old_timestamps_are_read_in_the_configured_local_zone() -> None:
    data = b"# Time: 081127  8:51:20\n# Query_time: 1  Lock_time: 0\nSELECT 1;\n"
    (utc,) = parse(SLOW, data)
    (paris,) = parse(SLOW, data, ParsingSettings(local_timezone="Europe/Paris"))
    assert utc["_timestamp"] - paris["_timestamp"] == 3600 * 1_000_000


def test_iso_times_with_z_and_with_an_offset() -> None:
    (zulu,) = parse(SLOW, ENTRY_57)
    (plus8,) = parse(SLOW, ENTRY_57.replace(b"01.000100Z", b"01.000100+08:00"))
    assert zulu["_timestamp"] - plus8["_timestamp"] == 8 * 3600 * 1_000_000


def test_combined_time_and_user_host_line_and_slave_thread() -> None:
    data = (
        b"# Time: 071218 11:48:27 # User@Host: [SQL_SLAVE] @  []\n# Thread_id: 10\n"
        b"# Query_time: 0.000012  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0\nBEGIN;\n"
    )
    (record,) = parse(SLOW, data)
    assert record["user"] == "SQL_SLAVE"
    assert "host" not in record
    assert "ip" not in record
    assert record["thread_id"] == 10
    assert record["_timestamp"] == 1197978507000000


def test_empty_host_and_empty_schema() -> None:
    data = (
        b"# User@Host: root[root] @  [10.1.12.30]\n# Thread_id: 12342  Schema: \n"
        b"# Query_time: 17.737502  Lock_time: 0.000066  Rows_sent: 0  Rows_examined: 0\n"
        b"SELECT missing_a_schema_above from crash_me;\n"
    )
    (record,) = parse(SLOW, data)
    assert record["ip"] == "10.1.12.30"
    assert "host" not in record
    assert "database" not in record


def test_administrator_commands() -> None:
    data = (
        b"# User@Host: meow[meow] @  [1.2.3.8]\n# Thread_id: 5  Schema: db1\n"
        b"# Query_time: 0.000002  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0\n"
        b"# administrator command: Quit;\n"
        b"# User@Host: meow[meow] @  [1.2.3.8]\n# Thread_id: 6  Schema: db2\n"
        b"# Query_time: 0.000002  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0\n"
        b"use db2;\nSET timestamp=1197996507;\n# administrator command: Ping;\n"
    )
    quit_, ping = parse(SLOW, data)
    assert quit_["admin_command"] == "Quit"
    assert quit_["statement"] == quit_["fingerprint"] == "administrator command: Quit"
    assert ping["admin_command"] == "Ping"
    assert ping["database"] == "db2"


def test_set_with_insert_ids_is_preamble() -> None:
    data = ENTRY_57.replace(
        b"SET timestamp=1795683600;", b"SET last_insert_id=5,insert_id=6,timestamp=1795683600;"
    )
    (record,) = parse(SLOW, data)
    assert record["statement"] == "SELECT name FROM users WHERE id = 7"
    assert record["start_time_us"] == 1795683600000000


def test_log_slow_extra_with_an_empty_start() -> None:
    data = ENTRY_57.replace(
        b"Rows_examined: 300\n",
        b"Rows_examined: 300 Thread_id: 12 Errno: 1062 Killed: 0 Bytes_received: 10"
        b" Bytes_sent: 20 Read_first: 0 Read_last: 0 Read_key: 1 Read_next: 0 Read_prev: 0"
        b" Read_rnd: 0 Read_rnd_next: 5 Sort_merge_passes: 0 Sort_range_count: 0 Sort_rows: 0"
        b" Sort_scan_count: 0 Created_tmp_disk_tables: 1 Created_tmp_tables: 2"
        b" Count_hit_tmp_table_size: 0  Start:  End: 2026-11-26T09:00:01.000100Z\n",
    )
    (record,) = parse(SLOW, data)
    assert record["errno"] == 1062
    assert record["read_rnd_next"] == 5
    assert record["tmp_disk_tables"] == 1
    assert record["tmp_tables"] == 2
    assert record["count_hit_tmp_table_size"] == 0
    assert record["end_time_us"] == record["_timestamp"]
    assert record["start_time_us"] == 1795683600000000, "empty Start: falls back to SET timestamp"


def test_percona_and_mariadb_extra_lines() -> None:
    data = (
        b"# Time: 131128  1:05:31\n# User@Host: user1[user1] @ localhost [127.0.0.1]  Id: 69194\n"
        b"# Schema: maindb  Last_errno: 0  Killed: 0\n"
        b"# Query_time: 0.000228  Lock_time: 0.000114  Rows_sent: 1  Rows_examined: 1"
        b"  Rows_affected: 0\n"
        b"# Bytes_sent: 545  Tmp_tables: 0  Tmp_disk_tables: 0  Tmp_table_sizes: 0\n"
        b"# InnoDB_trx_id: 1A88583F\n"
        b"# QC_Hit: No  Full_scan: Yes  Full_join: No  Tmp_table: No  Tmp_table_on_disk: No\n"
        b"#   InnoDB_IO_r_ops: 0  InnoDB_IO_r_bytes: 0  InnoDB_IO_r_wait: 0.000100\n"
        b"# Log_slow_rate_type: query  Log_slow_rate_limit: 2\n"
        b"# explain: id\tselect_type\ttable\n#\n"
        b"SET timestamp=1385600731;\nINSERT INTO foo VALUES (NULL, 3);\n"
    )
    (record,) = parse(SLOW, data)
    assert record["database"] == "maindb"
    assert record["thread_id"] == 69194
    assert record["bytes_sent"] == 545
    assert record["innodb_trx_id"] == "1A88583F"
    assert record["full_scan"] is True
    assert record["qc_hit"] is False
    assert record["innodb_io_r_wait_s"] == 0.0001
    assert record["log_slow_rate_limit"] == 2.0
    assert record["log_slow_rate_type"] == "query"
    assert record["fingerprint"] == "insert into foo values(?+)"


def test_a_malformed_number_is_left_out_not_guessed() -> None:
    data = (
        b"# Time: 081116 15:07:11 # User@Host: user[user] @ host [10.1.65.120]\n"
        b"# Query_time: 18446744073708.796870.000036  Lock_time: 0.000036  Rows_sent: 1"
        b"  Rows_examined: 127\nSELECT * FROM mytbl;\n"
    )
    (record,) = parse(SLOW, data)
    assert "query_time_s" not in record
    assert record["lock_time_s"] == 0.000036
    assert "parse_error" not in record


def test_a_huge_statement_is_capped_but_fingerprinted_whole() -> None:
    values = b",".join(b"(%d, 'v%d')" % (i, i) for i in range(40_000))
    data = ENTRY_57.replace(
        b"SELECT name FROM users WHERE id = 7;", b"INSERT INTO t VALUES " + values + b";"
    )
    settings = ParsingSettings(max_statement_bytes=1000, max_message_bytes=2000)
    (record,) = parse(SLOW, data, settings)
    assert len(data) > 600_000
    assert record["truncated"] is True
    assert len(record["statement"].encode()) <= 1000
    assert len(record["message"].encode()) <= 2000
    assert record["fingerprint"] == "insert into t values(?+)"
    assert record["length"] == len(data)


def test_non_utf8_bytes_become_escapes() -> None:
    data = ENTRY_57.replace(b"id = 7", b"name = 'caf\xe9' AND x = '\xc3\xa9'")
    (record,) = parse(SLOW, data)
    assert record["invalid_utf8"] is True
    assert record["statement"] == "SELECT name FROM users WHERE name = 'caf\\xe9' AND x = 'é'"
    assert "\\xe9" in record["message"]


def test_rds_truncation_marker() -> None:
    data = ENTRY_57.replace(b"id = 7;", b"id = 7 [Your log message was truncated]")
    (record,) = parse(SLOW, data)
    assert record["rds_truncated"] is True
    assert record["statement"] == "SELECT name FROM users WHERE id = 7"


def test_redaction_of_statement_and_message() -> None:
    data = ENTRY_57.replace(b"id = 7", b"email = 'bob@example.com'")
    (record,) = parse(SLOW, data, ParsingSettings(redact_literals=True))
    assert record["statement"] == "SELECT name FROM users WHERE email = ?"
    assert "bob@example.com" not in record["message"]
    assert "# Query_time: 1.500000" in record["message"], "header measurements are kept"
    assert record["fingerprint"] == "select name from users where email = ?"


def test_crlf_line_ends() -> None:
    (record,) = parse(SLOW, ENTRY_57.replace(b"\n", b"\r\n"))
    (plain,) = parse(SLOW, ENTRY_57)
    assert record["statement"] == plain["statement"]
    assert record["_timestamp"] == plain["_timestamp"]
    assert record["database"] == "shop"
    assert record["message"] == plain["message"], "CRLF line ends are shown as LF"
    assert record["length"] == plain["length"] + ENTRY_57.count(b"\n")


def test_fast_path_and_general_path_agree_on_every_corpus_entry(corpus: Path) -> None:
    """The fast path handles the 5.7+/8.0 shapes; wherever it answers, it must answer
    exactly what the line-by-line path does."""
    answered = 0
    for path in sorted((corpus / "mysql" / "slow").iterdir()):
        data = path.read_bytes()
        for record in parse(SLOW, data):
            text = data[record["offset"] : record["offset"] + record["length"]].decode(
                "utf-8", "surrogateescape"
            )
            fast = MySqlSlowParser(ParsingSettings(), fallback_timestamp_us=FALLBACK_US)
            general = MySqlSlowParser(ParsingSettings(), fallback_timestamp_us=FALLBACK_US)
            quick = fast._parse_standard(text, record["offset"], record["length"])
            if quick is not None:
                answered += 1
                assert general._parse_general(text, record["offset"], record["length"]) == [quick]
    assert answered >= 15  # the 5.7+/8.0 entries of the corpus (Aurora, beats, Percona 8.0)


_SLOW_LINES = [
    b"# Time: 2026-11-26T09:00:01.000100Z", b"# Time:", b"# User@Host: a[a] @ [1.1.1.1]",
    b"# User: b", b"# Query_time: 1.0", b"# Query_time: 1.0\r", b"# administrator command: Quit;",
    b"# Schema: shop", b"#x", b"#", b"##", b" # Time: x", b"SELECT 1;", b"use shop;", b"",
]  # fmt: skip


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(st.sampled_from(_SLOW_LINES), max_size=14),
    st.booleans(),
    st.integers(min_value=0),
    st.integers(min_value=0),
)
def test_candidate_blocks_are_found_as_the_multiline_regex_finds_them(
    lines: list[bytes], newline_at_end: bool, pos_pick: int, end_pick: int
) -> None:
    """The boundary scan looks for header blocks from the newline before them; it must find
    the blocks `^` finds, whatever line `pos` starts at and wherever `end` is."""
    buf = bytearray(b"\n".join(lines) + (b"\n" if newline_at_end else b""))
    line_starts = [0] + [i + 1 for i, byte in enumerate(buf) if byte == 0x0A]
    pos = line_starts[pos_pick % len(line_starts)]
    end = pos + end_pick % (len(buf) - pos + 1)
    reference = [match.start() for match in _CANDIDATE.finditer(buf, pos, end)]
    assert _candidates(buf, pos, end) == reference
