"""Aurora MySQL error log (``error/mysql-error-running.log``).

Aurora 2 (MySQL 5.7) lines: ``2024-01-04T09:17:00.123456Z 0 [Warning] message``.
Aurora 3 (MySQL 8.0) lines: ``2024-01-04T09:17:00.123456Z 0 [System] [MY-010116] [Server]
message (mysqld.cc:5965)``, the source location Aurora appends to every 8.0-style line.
Some entries continue on further lines (InnoDB deadlock dumps, the 5.7 ``Version:`` line after
"ready for connections", SQL quoted in a warning). A restart writes the start-up sequence,
which on Aurora 3 includes foreign lines: ``231128  9:13:22 server_audit: ...``, ``[DAS]``
lines and bare lines such as ``aurora_enable_das:0``.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from simulator.generators import Entry
from simulator.generators.timefmt import das_time, iso_us, mysql_old_time
from simulator.generators.vocabulary import QueryFactory, Session, SessionPool, filler

__all__ = ["MysqlErrorGenerator"]

_Message = Callable[[random.Random, Session, QueryFactory], str]


def _aborted(rng: random.Random, s: Session, _q: QueryFactory) -> str:
    why = rng.choice(
        ("Got an error reading communication packets", "Got timeout reading communication packets")
    )
    return (
        f"Aborted connection {s.connection_id} to db: '{s.db}' user: '{s.user}' "
        f"host: '{s.ip}' ({why})"
    )


def _denied(rng: random.Random, s: Session, _q: QueryFactory) -> str:
    return f"Access denied for user '{s.user}'@'{s.ip}' (using password: YES)"


def _unresolved(rng: random.Random, s: Session, _q: QueryFactory) -> str:
    return f"IP address '{s.ip}' could not be resolved: Name or service not known"


def _table_full(rng: random.Random, s: Session, _q: QueryFactory) -> str:
    return f"The table '/rdsdbdata/tmp/#sql{rng.randrange(16**4):x}_{s.connection_id}_0' is full"


def _page_cleaner(rng: random.Random, _s: Session, _q: QueryFactory) -> str:
    took = rng.randrange(1100, 9000)
    return (
        f"page_cleaner: 1000ms intended loop took {took}ms. The settings might not be optimal. "
        f"(flushed={rng.randrange(0, 4000)} and evicted=0, during the time.)"
    )


def _unsafe(rng: random.Random, s: Session, q: QueryFactory) -> str:
    statement = q.build(s.db).sql
    return (
        "Unsafe statement written to the binary log using statement format since "
        "BINLOG_FORMAT = STATEMENT. The statement is unsafe because it uses a LIMIT clause. "
        f"Statement: {statement}"
    )


def _native_password(rng: random.Random, _s: Session, _q: QueryFactory) -> str:
    return (
        "Plugin mysql_native_password reported: ''mysql_native_password' is deprecated and will "
        "be removed in a future release. Please use caching_sha2_password instead'"
    )


# (weight, 5.7 label, 8.0 label, MY- code, subsystem, source location, message, thread is 0)
_CATALOG: tuple[tuple[int, str, str, str, str, str, _Message, bool], ...] = (
    (30, "Note", "Note", "MY-010914", "Server", "sql_connect.cc:833", _aborted, False),
    (10, "Note", "Note", "MY-010926", "Server", "sql_authentication.cc:1471", _denied, False),
    (12, "Warning", "Warning", "MY-010055", "Server", "hostname.cc:417", _unresolved, False),
    (4, "ERROR", "ERROR", "MY-013132", "Server", "sql_table.cc:8412", _table_full, False),
    (6, "Note", "Note", "MY-011953", "InnoDB", "buf0flu.cc:3385", _page_cleaner, True),
    (4, "Warning", "Warning", "MY-010908", "Server", "binlog.cc:9120", _unsafe, False),
    (
        8,
        "Warning",
        "Warning",
        "MY-013360",
        "Server",
        "sql_authentication.cc:4432",
        _native_password,
        False,
    ),
)
_WEIGHTS = [row[0] for row in _CATALOG]


class MysqlErrorGenerator:
    """Error-log entries of an Aurora MySQL instance of major version 2 or 3."""

    outputs = 1
    typical_entry_bytes = 190

    def __init__(self, rng: random.Random, *, major: int) -> None:
        if major not in (2, 3):
            raise ValueError("Aurora MySQL major version is 2 or 3")
        self._rng = rng
        self._v3 = major == 3
        self._sessions = SessionPool(rng, size=30)
        self._queries = QueryFactory(rng, "mysql")
        self._server_version = "8.0.32" if self._v3 else "5.7.12-log"

    def _line(
        self, ts_us: int, thread: int, label: str, message: str, *, code: str, sub: str, src: str
    ) -> str:
        """One line in the style of this major version (``code``/``sub``/``src``: 8.0 only)."""
        if self._v3:
            return f"{iso_us(ts_us)} {thread} [{label}] [{code}] [{sub}] {message} ({src})\n"
        if sub == "InnoDB":
            message = f"InnoDB: {message}"
        return f"{iso_us(ts_us)} {thread} [{label}] {message}\n"

    def generate(self, timestamps: list[int]) -> list[list[Entry]]:
        rng = self._rng
        out: list[Entry] = []
        rows = rng.choices(_CATALOG, weights=_WEIGHTS, k=len(timestamps))
        for ts, row in zip(timestamps, rows, strict=True):
            if rng.random() < 0.015:
                out.extend(self._deadlock(ts))
                continue
            _w, label57, label80, code, sub, src, message, system = row
            session = self._sessions.pick(ts)
            thread = 0 if system else session.connection_id
            text = message(rng, session, self._queries)
            label = label80 if self._v3 else label57
            line = self._line(ts, thread, label, text, code=code, sub=sub, src=src)
            out.append(Entry(ts, line.encode()))
            if message is _aborted and rng.random() < 0.5:
                self._sessions.replace(session, ts)
        return [out]

    def _deadlock(self, ts_us: int) -> list[Entry]:
        rng = self._rng
        first = self._sessions.pick(ts_us)
        second = self._sessions.pick(ts_us)
        thread = first.connection_id
        head = self._line(
            ts_us,
            thread,
            "Note",
            "Transactions deadlock detected, dumping detailed information.",
            code="MY-012468",
            sub="InnoDB",
            src="lock0lock.cc:6482",
        )
        body = []
        for number, session in ((1, first), (2, second)):
            statement = self._queries.build(session.db).sql
            body.append(
                f"*** ({number}) TRANSACTION:\n"
                f"TRANSACTION {rng.randrange(10**6, 10**8)}, ACTIVE {rng.randrange(0, 9)} sec "
                "starting index read\n"
                "mysql tables in use 1, locked 1\n"
                f"LOCK WAIT {rng.randrange(2, 6)} lock struct(s), heap size 1136, "
                f"{rng.randrange(1, 4)} row lock(s)\n"
                f"MySQL thread id {session.connection_id}, OS thread handle "
                f"{rng.randrange(10**13, 10**14)}, query id {rng.randrange(10**6, 10**8)} "
                f"{session.ip} {session.user} updating\n"
                f"{statement}\n"
            )
        body.append("*** WE ROLL BACK TRANSACTION (2)\n")
        dump = self._line(
            ts_us + 61, thread, "Note", "", code="MY-012469", sub="InnoDB", src="lock0lock.cc:6500"
        ).rstrip("\n")
        # 8.0 puts the source location after the empty message; the dump follows on new lines.
        text = dump + "\n" + "".join(body)
        return [Entry(ts_us, head.encode()), Entry(ts_us + 61, text.encode())]

    def huge(self, ts_us: int, line_bytes: int) -> list[list[Entry]]:
        session = self._sessions.pick(ts_us)
        values = filler(self._rng, line_bytes)
        message = (
            "Unsafe statement written to the binary log using statement format since "
            "BINLOG_FORMAT = STATEMENT. Statement: INSERT INTO shop.events (payload) VALUES "
            f"{values}"
        )
        line = self._line(
            ts_us,
            session.connection_id,
            "Warning",
            message,
            code="MY-010908",
            sub="Server",
            src="binlog.cc:9120",
        )
        return [[Entry(ts_us, line.encode())]]

    def file_opened(self, output: int, ts_us: int) -> list[Entry]:
        return []

    def restart(self, ts_us: int) -> list[list[Entry]]:
        rng = self._rng
        pid = rng.randrange(200, 30000)
        entries: list[Entry] = []
        step = 0

        def add(text: str) -> None:
            nonlocal step
            entries.append(Entry(ts_us + step, text.encode()))
            step += rng.randrange(5, 400)

        v = self._server_version
        if self._v3:
            server = {"sub": "Server", "src": "mysqld.cc:5965"}
            innodb = {"sub": "InnoDB", "src": "ha_innodb.cc:13611"}
            add(
                self._line(
                    ts_us + step,
                    0,
                    "System",
                    f"/rdsdbbin/oscar/bin/mysqld (mysqld {v}) starting as process {pid}",
                    code="MY-010116",
                    **server,
                )
            )
            add(
                self._line(
                    ts_us + step,
                    0,
                    "Note",
                    "Plugin 'FEDERATED' is disabled.",
                    code="MY-010747",
                    sub="Server",
                    src="sql_plugin.cc:3604",
                )
            )
            # Foreign lines of Aurora 3: the audit plugin's old-style stamp, then DAS, each with
            # a bare line after it that belongs to the entry before.
            add(
                f"{mysql_old_time(ts_us + step)} server_audit: Audit STARTED.\n"
                "Found DAS config file, trying to load DAS switcher from DAS config file.\n"
            )
            add(
                f"{das_time(ts_us + step)} {rng.randrange(10**13, 10**14)}:[DAS][INFO]: "
                f"Calculated persistence threads {rng.choice((2, 4, 8))}\n"
                "aurora_enable_das:0\n"
            )
            add(
                self._line(
                    ts_us + step,
                    1,
                    "System",
                    "InnoDB initialization has started.",
                    code="MY-013576",
                    **innodb,
                )
            )
            add(
                self._line(
                    ts_us + step,
                    1,
                    "System",
                    "InnoDB initialization has ended.",
                    code="MY-013577",
                    **innodb,
                )
            )
            add(
                self._line(
                    ts_us + step,
                    0,
                    "System",
                    f"/rdsdbbin/oscar/bin/mysqld: ready for connections. Version: '{v}'  "
                    "socket: '/tmp/mysql.sock'  port: 3306  Source distribution.",
                    code="MY-010931",
                    **server,
                )
            )
        else:
            plain = {"code": "", "sub": "Server", "src": ""}
            add(
                self._line(
                    ts_us + step,
                    0,
                    "Note",
                    f"/rdsdbbin/oscar/bin/mysqld (mysqld {v}) starting as process {pid} ...",
                    **plain,
                )
            )
            add(
                self._line(
                    ts_us + step,
                    0,
                    "Warning",
                    "The syntax '--secure-auth' is deprecated and will be removed in a "
                    "future release",
                    **plain,
                )
            )
            add(
                self._line(
                    ts_us + step,
                    0,
                    "Note",
                    "PUNCH HOLE support available",
                    code="",
                    sub="InnoDB",
                    src="",
                )
            )
            # 5.7 writes the version on a line of its own: a continuation of this entry.
            add(
                self._line(
                    ts_us + step,
                    0,
                    "Note",
                    "/rdsdbbin/oscar/bin/mysqld: ready for connections.",
                    **plain,
                )
                + f"Version: '{v}'  socket: '/tmp/mysql.sock'  port: 3306  "
                "MySQL Community Server (GPL)\n"
            )
        return [entries]
