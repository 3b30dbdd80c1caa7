"""Small synthetic logs, one per grammar, written for these tests.

Each packs the awkward cases of its format into a few KB: multi-byte UTF-8, CRLF line ends, a
byte that is not UTF-8, continuation lines, text before the first entry, banners, and an
entry without a trailing newline at the very end.
"""

from __future__ import annotations

from processor.parsing import LogType

MYSQL_SLOW = (
    b"tail of an entry cut by a rotation\n"
    b"/rdsdbbin/oscar/bin/mysqld, Version: 8.0.28 (Source distribution). started with:\n"
    b"Tcp port: 3306  Unix socket: /tmp/mysql.sock\n"
    b"Time                 Id Command    Argument\n"
    b"# Time: 2026-11-26T09:00:01.000100Z\n"
    b"# User@Host: app[app] @  [10.0.1.76]  Id:    12\n"
    b"# Query_time: 1.500000  Lock_time: 0.000100 Rows_sent: 3  Rows_examined: 300\n"
    b"use shop;\n"
    b"SET timestamp=1795683600;\n"
    b"SELECT name FROM caf\xc3\xa9s WHERE city = '\xe6\x9d\xb1\xe4\xba\xac' AND id IN (1, 2, 3);\n"
    b"# Time: 2026-11-26T09:00:02.5Z\r\n"
    b"# User@Host: app[app] @ web-1 [10.0.1.77]  Id:    13\r\n"
    b"# Query_time: 2.000000  Lock_time: 0.000000 Rows_sent: 0  Rows_examined: 10 Thread_id: 13"
    b" Errno: 0 Killed: 0 Bytes_received: 10 Bytes_sent: 20 Read_first: 0 Read_last: 0 Read_key: 1"
    b" Read_next: 0 Read_prev: 0 Read_rnd: 0 Read_rnd_next: 0 Sort_merge_passes: 0"
    b" Sort_range_count: 0 Sort_rows: 0 Sort_scan_count: 0 Created_tmp_disk_tables: 0"
    b" Created_tmp_tables: 0 Start: 2026-11-26T09:00:00.500000Z End: \r\n"
    b"SET last_insert_id=5,insert_id=6,timestamp=1795683600;\r\n"
    b"UPDATE stock SET qty = qty - 1\r\n  WHERE sku = 'x\xff'\r\n  AND n > 0;\r\n"
    b"# User@Host: [SQL_SLAVE] @  []\n"
    b"# Thread_id: 7  Schema:   Last_errno: 0  Killed: 0\n"
    b"# Query_time: 0.000002  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0\n"
    b"# administrator command: Quit;\n"
    b"# Time: 261126  9:00:03 # User@Host: ops[ops] @ localhost []\n"
    b"# Query_time: 3  Lock_time: 0  Rows_sent: 1  Rows_examined: 0\n"
    b"SELECT 'emoji \xf0\x9f\x98\x80' /* x */;\n"
    b"bin/mysqld, Version: 5.6.19-67.0-log (Percona Server (GPL), Release 67.0). started with:\n"
    b"Tcp port: 3306  Unix socket: (null)\n"
    b"Time                 Id Command    Argument\n"
    b"# User@Host: last[last] @ localhost []  Id: 9\n"
    b"# Query_time: 0.1  Lock_time: 0.0 Rows_sent: 0  Rows_examined: 0\n"
    b"SELECT 1 [Your log message was truncated]"
)
MYSQL_ERROR = (
    b"InnoDB: a dump line written before the first entry\n"
    b"2026-11-26T09:00:00.104678Z 0 [System] [MY-010116] [Server] mysqld starting"
    b" (mysqld.cc:5965)\n"
    b"2026-11-26T09:00:00.112841Z 0 [Warning] [MY-010068] [Server] CA certificate ca.pem is self"
    b" signed.\r\n"
    b"261126  9:00:01 server_audit: Audit STARTED.\n"
    b"Found DAS config file, trying to load DAS switcher.\n"
    b"2026-11-26 09:00:01 22566174378368:[DAS][INFO]: Calculated persistence threads 4\n"
    b"aurora_enable_das:0\n"
    b"2026-11-26T09:00:02.000001Z 5 [Note] Aborted connection 5 to db: 'caf\xc3\xa9'"
    b" user: 'x\xfe'\n"
    b"2026-11-26 09:00:03 1234 [ERROR] InnoDB: Assertion failure\n"
    b"InnoDB: We intentionally generate a memory trap.\n"
    b"\tstack frame 0x0000\n"
    b"261126 09:00:04InnoDB: Warning: a long semaphore wait:\n"
    b"--Thread 1 has waited at btr0sea.c line 1127 for 242.00 seconds the semaphore:"
)
MYSQL_GENERAL = (
    b"  FROM a query cut by a rotation\n"
    b"/rdsdbbin/oscar/bin/mysqld, Version: 8.0.28 (Source distribution). started with:\n"
    b"Tcp port: 3306  Unix socket: /tmp/mysql.sock\n"
    b"Time                 Id Command    Argument\n"
    b"2026-11-26T09:00:01.341151Z\t   30 Connect\tapp@10.0.0.5 on shop using TCP/IP\n"
    b"2026-11-26T09:00:01.511636Z\t   30 Query\tSELECT *\n"
    b"  FROM caf\xc3\xa9\r\n  WHERE x = 'y\xff'\n"
    b"2026-11-26T09:00:02.000000+08:00\t   30 Quit\t\n"
    b"261126  9:00:03\t     42 Init DB     shop\n"
    b"\t\t     42 Query       SELECT 1\n"
    b"                         FROM t\n"
    b"\t\t     42 Quit"
)
MYSQL_AUDIT = (
    b"1795683600074458,aurora-1,app,10.0.0.5,223153,20070830,QUERY,shop,'SELECT \\'caf\xc3\xa9\\''"
    b",0\n"
    b"1795683600076091,aurora-1,app,10.0.0.5,223170,0,CONNECT,,,0\r\n"
    b"1795683600076799,aurora-1,app,10.0.0.5,223170,20070834,QUERY,,'INSERT INTO t VALUES (1)\n"
    b"  , (2)',0\n"
    b"1795683600077000,aurora-1,app,10.0.0.5,223170,20070834,WRITE,shop,t,\n"
    b"garbage line \xff in the middle\n"
    b"20261126 09:00:01,ip-172-17-4-137,rdsadmin,localhost,4,149867,QUERY,,'SELECT 1',0,,\n"
    b"1795683600078000,aurora-1,app,10.0.0.5,223170,20070835,QUERY,,'set global serv',1045"
)
POSTGRESQL = (
    b"\tcontinuation of a message cut by a rotation\n"
    b"2026-11-26 09:00:00.270 GMT [394] LOG:  skipping missing configuration file\n"
    b"2026-11-26 09:00:01 UTC::@:[560]:LOG:  checkpoint starting: time\n"
    b"2026-11-26 09:00:02 UTC:10.0.2.55(57562):app@shop:[29735]:LOG:  duration: 100.500 ms"
    b"  statement: SELECT name\n\tFROM caf\xc3\xa9s\r\n\tWHERE id = 1\n"
    b'2026-11-26 09:00:03 UTC:2001:db8::1(5432):app@shop:[29736]:ERROR:  relation "x\xff" does'
    b" not exist at character 15\n"
    b"2026-11-26 09:00:03 UTC:2001:db8::1(5432):app@shop:[29736]:STATEMENT:  SELECT * FROM x\n"
    b"2026-11-26 09:00:04 UTC:[local]:[unknown]@[unknown]:[12]:LOG:  connection received\n"
    b"2026-11-26 09:00:05 UTC:10.0.2.55(57562):app@shop:[29735]:LOG:  duration: 0.215 ms  execute"
    b" S_1: SELECT $1::int4\n"
    b"2026-11-26 09:00:05 UTC:10.0.2.55(57562):app@shop:[29735]:DETAIL:  parameters: $1 = 'a\n"
    b"\tb'\n"
    b"2026-11-26 09:00:06 UTC:10.0.2.55(57562):app@shop:[29735]:LOG:  duration: 482.362 ms  plan:\n"
    b"\tQuery Text: SELECT count(*)\n\t  FROM t\n"
    b"\tAggregate  (cost=1.0..2.0 rows=1 width=8)\n"
    b"\t  ->  Seq Scan on t  (cost=0.00..1.00 rows=100 width=0)\n"
    b"2026-11-26 09:00:07 UTC:10.0.2.55(57562):app@shop:[29735]:LOG:  duration: 1.000 ms  plan:\n"
    b'\t{\n\t  "Query Text": "SELECT \\u00e9 FROM t",\n\t  "Plan": {"Node Type": "Result"}\n\t}\n'
    b"2026-11-26 09:00:08 UTC:10.0.2.55(57562):app@shop:[29737]:HINT:  orphan hint\n"
    b"pg_ctl: could not start server\n"
    b"2026-11-26 09:00:09 UTC:10.0.2.55(57562):app@shop:[29735]:LOG:  statement: SELECT 1"
    b" [Your log message was truncated]"
)
POSTGRESQL_CSV = (
    b'2026-11-26 09:00:00.903 UTC,"app","shop",59,"10.0.2.55:42642",5ff25f96.3b,3,"SELECT",'
    b"2026-11-26 08:59:00 UTC,3/0,0,LOG,00000,\"duration: 0.658 ms  statement: SELECT 'multi',\n"
    b'\'line ""caf\xc3\xa9""\';",,,,,,,,,"psql"\n'
    b'2026-11-26 09:00:01.113 UTC,"app","shop",86,"10.0.2.55:48978",6028ff3a.56,6,"idle",'
    b'2026-11-26 08:59:00 UTC,3/4,0,FATAL,25P03,"terminating connection \xff",,,,,,,,,"psql",'
    b'"client backend"\r\n'
    b"not a csv row at all\n"
    b'2026-11-26 09:00:02.000 UTC,"app","shop",87,,6028ff3a.57,1,"BIND",2026-11-26 08:59:00 UTC,'
    b'3/5,0,LOG,00000,"duration: 0.553 ms  bind <unnamed>: UPDATE t SET d=$1 WHERE id=$2",'
    b'"parameters: $1 = \'\\x25\', $2 = \'157\'",,,,,,,,"jdbc","client backend",,1234'
)
POSTGRESQL_JSON = (
    b'{"timestamp":"2026-11-26 09:00:07.369 CEST","pid":58151,"session_id":"667c8f67.e327",'
    b'"line_num":1,"txid":3949960645,"error_severity":"LOG","message":"automatic analyze of '
    b'table \\"caf\xc3\xa9\\"\\nI/O timings: read: 0.000 ms","backend_type":"autovacuum worker",'
    b'"query_id":0}\n'
    b'{"timestamp":"2026-11-26 09:00:08.000 UTC","user":"app","dbname":"shop","pid":7,'
    b'"remote_host":"10.0.0.5","remote_port":5432,"error_severity":"ERROR","state_code":"42P01",'
    b'"message":"relation \\"t\\" does not exist","statement":"SELECT * FROM t WHERE a = 1",'
    b'"func_name":"parserOpenTable","file_name":"parse_relation.c","file_line_num":1384}\r\n'
    b"{not json \xff}\n"
    b'{"timestamp":"2026-11-26 09:00:09.000 UTC","error_severity":"LOG","message":"duration: '
    b'1.5 ms  statement: SELECT \\u65e5"}'
)
SAMPLES: dict[LogType, bytes] = {
    LogType.MYSQL_SLOW: MYSQL_SLOW,
    LogType.MYSQL_ERROR: MYSQL_ERROR,
    LogType.MYSQL_GENERAL: MYSQL_GENERAL,
    LogType.MYSQL_AUDIT: MYSQL_AUDIT,
    LogType.POSTGRESQL: POSTGRESQL,
    LogType.POSTGRESQL_CSV: POSTGRESQL_CSV,
    LogType.POSTGRESQL_JSON: POSTGRESQL_JSON,
}
