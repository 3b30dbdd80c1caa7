"""Audit logs: Aurora MySQL Advanced Auditing, and RDS for MySQL's MariaDB audit plugin.

Aurora line (CSV, one event per line)::

    1704359820123456,db-1,app_rw,10.0.3.7,7432,20070830,QUERY,shop,'SELECT ... \\'x\\'',0

timestamp in µs; serverhost is the instance id; a ``QUERY`` is followed by one table event per
table it touched (``READ``/``WRITE``/``CREATE``/``ALTER``/``DROP``, same query id, unquoted table
name, *empty* retcode); ``CONNECT``/``DISCONNECT`` carry query id 0 and no object;
``FAILED_CONNECT`` carries the error number. The query is single-quoted with ``\\`` and ``'``
escaped, its whitespace flattened to single spaces, and cut to 1024 characters
(``server_audit_query_log_limit``) with the closing quote still written. Aurora writes four
files at once; each connection's events go to one of them (``stripe``), so the files are each
in time order but not with one another.

RDS for MySQL line: the same fields with a ``YYYYMMDD HH:MM:SS`` timestamp, a host name for
serverhost, and two empty trailing fields.
"""

from __future__ import annotations

import random
import re

from simulator.generators import Entry
from simulator.generators.timefmt import rds_audit_time
from simulator.generators.vocabulary import (
    Query,
    QueryFactory,
    QueryPool,
    Session,
    SessionPool,
    filler,
)

__all__ = ["AURORA_AUDIT_STRIPES", "MysqlAuditGenerator", "audit_quote"]

AURORA_AUDIT_STRIPES = 4
QUERY_LOG_LIMIT = 1024
_WHITESPACE = re.compile(r"\s+")
_TABLE_EVENT = {
    "SELECT": "READ",
    "INSERT": "WRITE",
    "UPDATE": "WRITE",
    "DELETE": "WRITE",
    "CREATE": "CREATE",
    "ALTER": "ALTER",
    "DROP": "DROP",
}


def audit_quote(sql: str, limit: int | None = QUERY_LOG_LIMIT) -> str:
    """``sql`` as the audit plugin writes it: flattened, cut to ``limit``, quoted, escaped."""
    flat = _WHITESPACE.sub(" ", sql)
    if limit is not None:
        flat = flat[:limit]
    return "'" + flat.replace("\\", "\\\\").replace("'", "\\'") + "'"


class MysqlAuditGenerator:
    """Audit events; ``style`` ``aurora`` (µs epoch, striped) or ``server_audit`` (RDS MySQL)."""

    outputs = 1
    typical_entry_bytes = 150

    def __init__(self, rng: random.Random, *, instance_id: str, style: str = "aurora") -> None:
        if style not in ("aurora", "server_audit"):
            raise ValueError(f"unknown audit style {style!r}")
        self._rng = rng
        self._aurora = style == "aurora"
        self._serverhost = (
            instance_id
            if self._aurora
            else f"ip-10-0-{rng.randrange(0, 8)}-{rng.randrange(2, 250)}"
        )
        self._sessions = SessionPool(rng, size=60)
        self._queries = QueryPool(QueryFactory(rng, "mysql"), rng)
        self._query_id = rng.randrange(10**6, 10**8)

    def _line(
        self, ts_us: int, s: Session, query_id: int, op: str, db: str, obj: str, retcode: str
    ) -> str:
        if self._aurora:
            return f"{ts_us},{self._serverhost},{s.user},{s.ip},{s.connection_id},{query_id},{op},{db},{obj},{retcode}\n"  # noqa: E501
        return (
            f"{rds_audit_time(ts_us)},{self._serverhost},{s.user},{s.ip},{s.connection_id},"
            f"{query_id},{op},{db},{obj},{retcode},,\n"
        )

    def _stripe(self, s: Session) -> int:
        return s.connection_id % AURORA_AUDIT_STRIPES if self._aurora else 0

    def generate(self, timestamps: list[int]) -> list[list[Entry]]:
        rng = self._rng
        out: list[Entry] = []
        for ts in timestamps:
            session = self._sessions.pick(ts)
            roll = rng.random()
            if roll < 0.04:
                session = self._sessions.replace(session, ts)
                out.append(self._entry(ts, session, 0, "CONNECT", session.db, "", "0"))
            elif roll < 0.07:
                out.append(self._entry(ts, session, 0, "DISCONNECT", session.db, "", "0"))
            elif roll < 0.075:
                out.append(self._entry(ts, session, 0, "FAILED_CONNECT", "", "", "1045"))
            else:
                out.extend(
                    self._query(ts, session, self._queries.draw(session.db), QUERY_LOG_LIMIT)
                )
        return [out]

    def _entry(self, ts: int, s: Session, qid: int, op: str, db: str, obj: str, rc: str) -> Entry:
        return Entry(ts, self._line(ts, s, qid, op, db, obj, rc).encode(), stripe=self._stripe(s))

    def _query(self, ts: int, session: Session, query: Query, limit: int | None) -> list[Entry]:
        self._query_id += 1
        qid = self._query_id
        retcode = "0"
        if self._rng.random() < 0.02:
            retcode = self._rng.choice(("1064", "1146", "1062", "1213"))
        entries = [
            self._entry(ts, session, qid, "QUERY", query.db, audit_quote(query.sql, limit), retcode)
        ]
        if retcode == "0":
            event = _TABLE_EVENT.get(query.verb)
            tables = query.writes + query.reads if event else ()
            for offset, table in enumerate(tables, start=1):
                op = event if table in query.writes or event != "WRITE" else "READ"
                entries.append(
                    self._entry(ts + offset, session, qid, op or "READ", query.db, table, "")
                )
        return entries

    def huge(self, ts_us: int, line_bytes: int) -> list[list[Entry]]:
        # Only with server_audit_query_log_limit raised can an audit line grow this long.
        session = self._sessions.pick(ts_us)
        sql = f"INSERT INTO events (id, payload) VALUES {filler(self._rng, line_bytes)}"
        query = Query(sql, "analytics", "INSERT", (), ("events",), 0, 0)
        return [self._query(ts_us, session, query, None)]

    def file_opened(self, output: int, ts_us: int) -> list[Entry]:
        return []

    def restart(self, ts_us: int) -> list[list[Entry]]:
        return [[]]
