"""Aurora MySQL slow query log and general query log.

Slow log entry (MySQL 5.7/8.0 ``File_query_log::write_slow``)::

    # Time: 2024-01-04T09:17:02.811234Z
    # User@Host: app_rw[app_rw] @  [10.0.3.7]  Id:  7432
    # Query_time: 2.475469  Lock_time: 0.000287 Rows_sent: 10  Rows_examined: 3145718
    use shop;
    SET timestamp=1704359820;
    SELECT ...;

``# Time`` is when the query ended, ``SET timestamp`` when it started; ``use db;`` appears only
when the schema differs from the last one written to *this file*; ``log_slow_extra`` (8.0.14+,
so Aurora 3 only) appends counters to the ``Query_time`` line. Administrator commands are written
as ``# administrator command: Quit;``. A new file, and a restart, begins with the
``mysqld, Version: ... started with:`` banner, which can therefore appear mid-file.

General log line (5.7/8.0): ``<ISO time>\\t<thread id, width 5> <Command>\\t<argument>``, where a
multi-line statement simply continues on the next lines. Aurora's own monitoring traffic
(``rdsadmin``) is mixed in, as on a real instance.
"""

from __future__ import annotations

import random

from simulator.generators import Entry
from simulator.generators.timefmt import iso_us
from simulator.generators.vocabulary import QueryFactory, QueryPool, SessionPool, filler

__all__ = ["MysqlGeneralGenerator", "MysqlSlowGenerator", "mysql_banner"]


def mysql_banner(major: int) -> bytes:
    """The three header lines mysqld writes when it opens a slow or general log."""
    version = (
        "8.0.32 (Source distribution)"
        if major == 3
        else "5.7.12-log (MySQL Community Server (GPL))"
    )
    return (
        f"/rdsdbbin/oscar/bin/mysqld, Version: {version}. started with:\n"
        "Tcp port: 3306  Unix socket: /tmp/mysql.sock\n"
        "Time                 Id Command    Argument\n"
    ).encode()


_ADMIN_COMMANDS = ("Quit", "Ping", "Prepare", "Close stmt", "Init DB", "Reset stmt")


class MysqlSlowGenerator:
    """Slow-log entries; ``log_slow_extra`` adds the 8.0.14+ counters (Aurora 3 only)."""

    outputs = 1
    typical_entry_bytes = 420

    def __init__(self, rng: random.Random, *, major: int, log_slow_extra: bool = False) -> None:
        self._rng = rng
        self._major = major
        self._extra = log_slow_extra and major == 3
        self._sessions = SessionPool(rng, size=60)
        self._queries = QueryPool(QueryFactory(rng, "mysql"), rng)
        self._last_db: str | None = None

    def generate(self, timestamps: list[int]) -> list[list[Entry]]:
        rng = self._rng
        out: list[Entry] = []
        for end_us in timestamps:
            session = self._sessions.pick(end_us)
            # Slow queries: mostly around a second, a long tail into minutes.
            query_s = min(0.2 + rng.lognormvariate(-0.5, 1.2), 900.0)
            # Mostly no lock wait; sometimes most of the query was waiting for a lock.
            lock_s = rng.random() * 0.002 if rng.random() < 0.8 else rng.random() * query_s
            if rng.random() < 0.03:
                command = _ADMIN_COMMANDS[int(rng.random() * len(_ADMIN_COMMANDS))]
                statement = f"# administrator command: {command};"
                db, rows_sent, rows_examined = session.db, 0, 0
                set_prefix = ""
            else:
                query = self._queries.draw(session.db)
                statement = f"{query.sql};"
                db, rows_sent, rows_examined = query.db, query.rows_sent, query.rows_examined
                set_prefix = ""
                if query.verb == "INSERT" and rng.random() < 0.3:
                    last = rng.randrange(1, 10**7)
                    set_prefix = f"last_insert_id={last},insert_id={last + 1},"
            out.append(
                Entry(
                    end_us,
                    self._entry(
                        end_us,
                        session.user,
                        session.ip,
                        session.connection_id,
                        query_s,
                        lock_s,
                        rows_sent,
                        rows_examined,
                        db,
                        set_prefix,
                        statement,
                    ),
                )
            )
        return [out]

    def _entry(
        self,
        end_us: int,
        user: str,
        ip: str,
        thread: int,
        query_s: float,
        lock_s: float,
        rows_sent: int,
        rows_examined: int,
        db: str,
        set_prefix: str,
        statement: str,
    ) -> bytes:
        start_us = end_us - int(query_s * 1_000_000)
        extra = ""
        if self._extra:
            rng = self._rng
            extra = (
                f" Thread_id: {thread} Errno: 0 Killed: 0 Bytes_received: {len(statement)} "
                f"Bytes_sent: {rows_sent * 61 + 52} Read_first: {rng.randrange(0, 3)} "
                f"Read_last: 0 Read_key: {rng.randrange(0, rows_examined + 1)} "
                f"Read_next: {rng.randrange(0, rows_examined + 1)} Read_prev: 0 Read_rnd: 0 "
                f"Read_rnd_next: {rows_examined} Sort_merge_passes: 0 Sort_range_count: 0 "
                f"Sort_rows: {rows_sent} Sort_scan_count: {int(rows_sent > 0)} "
                f"Created_tmp_disk_tables: 0 Created_tmp_tables: {rng.randrange(0, 2)} "
                f"Start: {iso_us(start_us)} End: {iso_us(end_us)}"
            )
        use = ""
        if db != self._last_db:
            use = f"use {db};\n"
            self._last_db = db
        text = (
            f"# Time: {iso_us(end_us)}\n"
            f"# User@Host: {user}[{user}] @  [{ip}]  Id: {thread:5d}\n"
            f"# Query_time: {query_s:.6f}  Lock_time: {lock_s:.6f} Rows_sent: {rows_sent}  "
            f"Rows_examined: {rows_examined}{extra}\n"
            f"{use}"
            f"SET {set_prefix}timestamp={start_us // 1_000_000};\n"
            f"{statement}\n"
        )
        return text.encode()

    def huge(self, ts_us: int, line_bytes: int) -> list[list[Entry]]:
        session = self._sessions.pick(ts_us)
        statement = f"INSERT INTO events (id, payload) VALUES {filler(self._rng, line_bytes)};"
        data = self._entry(
            ts_us,
            session.user,
            session.ip,
            session.connection_id,
            3.2,
            0.0001,
            0,
            0,
            "analytics",
            "",
            statement,
        )
        return [[Entry(ts_us, data)]]

    def file_opened(self, output: int, ts_us: int) -> list[Entry]:
        # The `use` cache belongs to the file: a new file (or banner) starts without one.
        self._last_db = None
        return [Entry(ts_us, mysql_banner(self._major), header=True)]

    def restart(self, ts_us: int) -> list[list[Entry]]:
        return [self.file_opened(0, ts_us)]


# Aurora's own traffic, visible in every general log: (user, statement).
_RDSADMIN = (
    "SET @@sql_log_bin=on",
    "set local oscar_local_only_replica_host_status=1;",
    "SELECT durable_lsn, current_read_point, server_id, last_update_timestamp "
    "FROM information_schema.replica_host_status;",
    "SELECT 1",
    "select @@session.transaction_read_only",
    "SELECT @@aurora_version",
    "COMMIT",
)


class MysqlGeneralGenerator:
    """General-log lines: connects, queries, prepared statements, quits, rdsadmin traffic."""

    outputs = 1
    typical_entry_bytes = 150

    def __init__(self, rng: random.Random, *, major: int) -> None:
        self._rng = rng
        self._major = major
        self._sessions = SessionPool(rng, size=80)
        self._queries = QueryPool(QueryFactory(rng, "mysql"), rng)
        self._admin_thread = rng.randrange(100, 400_000)

    def generate(self, timestamps: list[int]) -> list[list[Entry]]:
        rng = self._rng
        out: list[Entry] = []
        for ts in timestamps:
            roll = rng.random()
            if roll < 0.12:
                line = f"{iso_us(ts)}\t{self._admin_thread:5d} Query\t{rng.choice(_RDSADMIN)}\n"
            elif roll < 0.16:
                session = self._sessions.replace(self._sessions.pick(ts), ts)
                transport = "SSL/TLS" if rng.random() < 0.3 else "TCP/IP"
                line = (
                    f"{iso_us(ts)}\t{session.connection_id:5d} Connect\t"
                    f"{session.user}@{session.ip} on {session.db} using {transport}\n"
                )
            elif roll < 0.19:
                session = self._sessions.pick(ts)
                line = f"{iso_us(ts)}\t{session.connection_id:5d} Quit\t\n"
            elif roll < 0.21:
                session = self._sessions.pick(ts)
                line = f"{iso_us(ts)}\t{session.connection_id:5d} Init DB\t{session.db}\n"
            elif roll < 0.27:
                session = self._sessions.pick(ts)
                query = self._queries.draw(session.db)
                command = "Prepare" if rng.random() < 0.5 else "Execute"
                line = f"{iso_us(ts)}\t{session.connection_id:5d} {command}\t{query.sql}\n"
            else:
                session = self._sessions.pick(ts)
                query = self._queries.draw(session.db)
                line = f"{iso_us(ts)}\t{session.connection_id:5d} Query\t{query.sql}\n"
            out.append(Entry(ts, line.encode()))
        return [out]

    def huge(self, ts_us: int, line_bytes: int) -> list[list[Entry]]:
        session = self._sessions.pick(ts_us)
        statement = f"INSERT INTO events (id, payload) VALUES {filler(self._rng, line_bytes)}"
        line = f"{iso_us(ts_us)}\t{session.connection_id:5d} Query\t{statement}\n"
        return [[Entry(ts_us, line.encode())]]

    def file_opened(self, output: int, ts_us: int) -> list[Entry]:
        return [Entry(ts_us, mysql_banner(self._major), header=True)]

    def restart(self, ts_us: int) -> list[list[Entry]]:
        return [self.file_opened(0, ts_us)]
