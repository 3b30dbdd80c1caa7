"""Aurora PostgreSQL log: stderr with the RDS prefix, and optionally the csvlog twin.

stderr line prefix (fixed on RDS): ``%t:%r:%u@%d:[%p]:`` ::

    2024-01-04 09:17:02 UTC:10.0.3.7(51234):app_rw@shop:[7432]:LOG:  duration: 12.345 ms  stat...
    2024-01-04 09:17:05 UTC::@:[560]:LOG:  checkpoint starting: time

Every embedded newline of a message is followed by a TAB (``append_with_tabs``), so statements,
plans and multi-line details continue on TAB-led lines; a message's secondary fields follow as
their own prefixed lines (``DETAIL:``, ``HINT:``, ``CONTEXT:``, ``STATEMENT:``) with the same pid,
and the whole message is one entry. Start-up lines written before the configuration is loaded
use the default prefix ``%m [%p] ``.

csvlog (PG 14+, 26 columns) writes the same messages as RFC-4180 records: text fields quoted
with doubled quotes, newlines kept raw inside quotes, secondary fields in their own columns.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulator.generators import Entry
from simulator.generators.timefmt import pg_csv_time, pg_time
from simulator.generators.vocabulary import (
    SCHEMAS,
    QueryFactory,
    QueryPool,
    Session,
    SessionPool,
    filler,
)

__all__ = ["PgMessage", "PostgresqlGenerator", "csv_record", "stderr_entry"]

_PARAM_TABLES = tuple(
    (table, columns) for tables in SCHEMAS.values() for table, columns in tables.items()
)


@dataclass(slots=True)
class PgMessage:
    """One server message with the secondary fields it carries."""

    ts_us: int
    pid: int
    severity: str
    message: str
    session: Session | None = None  # None: a background process (checkpointer, autovacuum)
    sqlstate: str = "00000"
    detail: str | None = None
    hint: str | None = None
    context: str | None = None
    statement: str | None = None
    command_tag: str = ""
    backend_type: str = "client backend"
    # Before authentication the user and database are not known yet.
    unauthenticated: bool = False
    line_number: int = 1


def _remote(session: Session) -> tuple[str, str]:
    """``%r`` for the stderr prefix and ``connection_from`` for csvlog."""
    if session.connection_id % 17 == 0:
        return "[local]", "[local]"
    if session.connection_id % 23 == 0:
        host = f"2600:1f18:4c2:{session.connection_id % 65536:x}::{session.port % 4096:x}"
        return f"{host}({session.port})", f"{host}:{session.port}"
    return f"{session.ip}({session.port})", f"{session.ip}:{session.port}"


def _tabbed(text: str) -> str:
    return text.replace("\n", "\n\t")


def stderr_entry(m: PgMessage) -> bytes:
    """The message as the stderr log holds it: primary line, TAB continuations, secondaries."""
    stamp = pg_time(m.ts_us)
    if m.session is None:
        prefix = f"{stamp}::@:[{m.pid}]:"
    else:
        remote, _ = _remote(m.session)
        who = "[unknown]@[unknown]" if m.unauthenticated else f"{m.session.user}@{m.session.db}"
        prefix = f"{stamp}:{remote}:{who}:[{m.pid}]:"
    parts = [f"{prefix}{m.severity}:  {_tabbed(m.message)}\n"]
    for label, value in (
        ("DETAIL", m.detail),
        ("HINT", m.hint),
        ("CONTEXT", m.context),
        ("STATEMENT", m.statement),
    ):
        if value is not None:
            parts.append(f"{prefix}{label}:  {_tabbed(value)}\n")
    return "".join(parts).encode()


def _quoted(value: str | None) -> str:
    if not value:
        return ""
    return '"' + value.replace('"', '""') + '"'


def csv_record(m: PgMessage) -> bytes:
    """The message as one csvlog record (26 columns, PG 14+)."""
    s = m.session
    if s is None:
        user = db = remote = application = ""
        start_us = m.ts_us - 86_400_000_000
    else:
        user, db = ("", "") if m.unauthenticated else (s.user, s.db)
        remote = _remote(s)[1]
        application = "" if m.unauthenticated else s.application
        start_us = s.started_us
    start_s = start_us // 1_000_000
    fields = (
        pg_csv_time(m.ts_us),
        _quoted(user),
        _quoted(db),
        str(m.pid),
        _quoted(remote),
        f"{start_s:x}.{m.pid:x}",
        str(m.line_number),
        _quoted(m.command_tag),
        pg_time(start_us),
        f"{m.pid % 64}/{m.line_number}" if s is not None else "",
        "0",
        m.severity,
        m.sqlstate,
        _quoted(m.message),
        _quoted(m.detail),
        _quoted(m.hint),
        "",
        "",
        _quoted(m.context),
        _quoted(m.statement),
        "",
        "",
        _quoted(application),
        _quoted(m.backend_type),
        "",
        "0",
    )
    return (",".join(fields) + "\n").encode()


_PLAN_SHAPES = (
    (
        "Limit  (cost=0.43..8.45 rows=1 width={w}) (actual time={a}..{b} rows=1 loops=1)\n"
        "  ->  Index Scan using {t}_pkey on {t}  (cost=0.43..8.45 rows=1 width={w}) "
        "(actual time={a}..{b} rows=1 loops=1)\n"
        "        Index Cond: (id = {n})"
    ),
    (
        "Seq Scan on {t}  (cost=0.00..{c}.00 rows={r} width={w}) (actual time={a}..{b} rows={r} "
        "loops=1)\n"
        "  Filter: (created_at > now() - '1 day'::interval)\n"
        "  Rows Removed by Filter: {n}"
    ),
    (
        "Sort  (cost={c}.10..{c}.35 rows={r} width={w}) (actual time={a}..{b} rows={r} loops=1)\n"
        "  Sort Key: {t}.created_at DESC\n"
        "  Sort Method: external merge  Disk: {r}kB\n"
        "  ->  Hash Join  (cost=12.50..{c}.00 rows={r} width={w}) (actual time={a}..{b} "
        "rows={r} loops=1)\n"
        "        Hash Cond: ({t}.id = x.{t}_id)\n"
        "        ->  Seq Scan on {t}  (cost=0.00..{c}.00 rows={n} width={w}) "
        "(actual time=0.010..{a} rows={n} loops=1)"
    ),
    (
        "Aggregate  (cost={c}.00..{c}.01 rows=1 width=8) (actual time={a}..{b} rows=1 loops=1)\n"
        "  ->  Bitmap Heap Scan on {t}  (cost=4.30..{c}.00 rows={r} width=0) "
        "(actual time=0.050..{a} rows={r} loops=1)\n"
        "        Recheck Cond: (status = 'pending'::text)\n"
        "        Heap Blocks: exact={n}"
    ),
)


class PostgresqlGenerator:
    """Messages of an Aurora PostgreSQL instance; ``csvlog`` adds the ``.csv`` output."""

    typical_entry_bytes = 260

    def __init__(self, rng: random.Random, *, version: str = "15.4", csvlog: bool = False) -> None:
        self._rng = rng
        self._version = version
        self.outputs = 2 if csvlog else 1
        self._sessions = SessionPool(rng, size=50)
        self._queries = QueryPool(QueryFactory(rng, "postgresql"), rng)
        self._lines: dict[int, int] = {}
        self._checkpointer = rng.randrange(300, 700)
        self._kinds = (
            (self._duration, 30),
            (self._execute, 12),
            (self._statement, 8),
            (self._bare_duration, 3),
            (self._plan, 5),
            (self._missing_relation, 4),
            (self._unique_violation, 4),
            (self._syntax_error, 2),
            (self._deadlock, 1),
            (self._lock_wait, 2),
            (self._auth_failed, 2),
            (self._connection_received, 5),
            (self._connection_authorized, 5),
            (self._disconnection, 4),
            (self._checkpoint, 2),
            (self._autovacuum, 2),
            (self._temp_file, 2),
            (self._warning, 1),
        )
        self._functions = [kind for kind, _ in self._kinds]
        self._weights = [weight for _, weight in self._kinds]

    def _render(self, messages: list[PgMessage]) -> list[list[Entry]]:
        stderr = [Entry(m.ts_us, stderr_entry(m)) for m in messages]
        if self.outputs == 1:
            return [stderr]
        return [stderr, [Entry(m.ts_us, csv_record(m)) for m in messages]]

    def generate(self, timestamps: list[int]) -> list[list[Entry]]:
        rng = self._rng
        kinds = rng.choices(self._functions, weights=self._weights, k=len(timestamps))
        messages = [kind(ts) for ts, kind in zip(timestamps, kinds, strict=True)]
        return self._render(messages)

    # Message builders.

    def _msg(
        self, ts: int, session: Session | None, severity: str, text: str, **fields: object
    ) -> PgMessage:
        pid = session.connection_id if session is not None else self._checkpointer
        line = self._lines.get(pid, 0) + 1
        if len(self._lines) > 4096:
            self._lines.clear()
        self._lines[pid] = line
        message = PgMessage(ts, pid, severity, text, session, line_number=line)
        for name, value in fields.items():
            setattr(message, name, value)
        return message

    def _ms(self) -> str:
        return f"{min(self._rng.lognormvariate(3.0, 1.8), 600_000.0):.3f}"

    def _duration(self, ts: int) -> PgMessage:
        session = self._sessions.pick(ts)
        query = self._queries.draw(session.db)
        text = f"duration: {self._ms()} ms  statement: {query.sql}"
        return self._msg(ts, session, "LOG", text, command_tag=query.verb)

    def _parameterized(self) -> tuple[str, str]:
        table, columns = self._rng.choice(_PARAM_TABLES)
        col = columns[1]
        sql = f"SELECT {', '.join(columns[:3])} FROM public.{table} WHERE id = $1 AND {col} = $2"
        value = self._rng.choice(("pending", "O'Brien", "Zoë", "line one\nline two", "42"))
        quoted = value.replace("'", "''")
        params = f"$1 = '{self._rng.randrange(1, 10**6)}', $2 = '{quoted}'"
        return sql, params

    def _execute(self, ts: int) -> PgMessage:
        session = self._sessions.pick(ts)
        sql, params = self._parameterized()
        name = self._rng.choice(("<unnamed>", "S_1", "S_2", "S_7", "stmt_cache_42"))
        text = f"duration: {self._ms()} ms  execute {name}: {sql}"
        return self._msg(
            ts, session, "LOG", text, detail=f"parameters: {params}", command_tag="SELECT"
        )

    def _statement(self, ts: int) -> PgMessage:
        session = self._sessions.pick(ts)
        query = self._queries.draw(session.db)
        return self._msg(ts, session, "LOG", f"statement: {query.sql}", command_tag="idle")

    def _bare_duration(self, ts: int) -> PgMessage:
        session = self._sessions.pick(ts)
        return self._msg(ts, session, "LOG", f"duration: {self._ms()} ms", command_tag="SELECT")

    def _plan(self, ts: int) -> PgMessage:
        rng = self._rng
        session = self._sessions.pick(ts)
        query = self._queries.draw(session.db)
        table = query.reads[0] if query.reads else "orders"
        a = rng.random() * 50
        shape = rng.choice(_PLAN_SHAPES).format(
            t=table,
            w=rng.randrange(8, 200),
            a=f"{a:.3f}",
            b=f"{a + rng.random() * 400:.3f}",
            c=rng.randrange(10, 90000),
            r=rng.randrange(1, 5000),
            n=rng.randrange(1, 100000),
        )
        text = f"duration: {self._ms()} ms  plan:\nQuery Text: {query.sql}\n{shape}"
        return self._msg(ts, session, "LOG", text, command_tag=query.verb)

    def _missing_relation(self, ts: int) -> PgMessage:
        session = self._sessions.pick(ts)
        table = self._rng.choice(_PARAM_TABLES)[0] + "_archive"
        statement = f"SELECT * FROM {table} WHERE id = {self._rng.randrange(1, 10**6)}"
        return self._msg(
            ts,
            session,
            "ERROR",
            f'relation "{table}" does not exist at character 15',
            sqlstate="42P01",
            statement=statement,
            command_tag="SELECT",
        )

    def _unique_violation(self, ts: int) -> PgMessage:
        session = self._sessions.pick(ts)
        table, columns = self._rng.choice(_PARAM_TABLES)
        key = self._rng.randrange(1, 10**6)
        statement = f"INSERT INTO public.{table} (id, {columns[1]}) VALUES ({key}, 'x')"
        return self._msg(
            ts,
            session,
            "ERROR",
            f'duplicate key value violates unique constraint "{table}_pkey"',
            sqlstate="23505",
            detail=f"Key (id)=({key}) already exists.",
            statement=statement,
            command_tag="INSERT",
        )

    def _syntax_error(self, ts: int) -> PgMessage:
        session = self._sessions.pick(ts)
        word = self._rng.choice(("FORM", "WHER", "SELEC", "/", "LIMT"))
        statement = f"SELECT id {word} public.orders\nWHERE id = {self._rng.randrange(1, 999)}"
        return self._msg(
            ts,
            session,
            "ERROR",
            f'syntax error at or near "{word}" at character 11',
            sqlstate="42601",
            statement=statement,
            command_tag="SELECT",
        )

    def _deadlock(self, ts: int) -> PgMessage:
        rng = self._rng
        session = self._sessions.pick(ts)
        other = rng.randrange(1000, 60000)
        tx1, tx2 = rng.randrange(10**6, 10**8), rng.randrange(10**6, 10**8)
        pid = session.connection_id
        detail = (
            f"Process {pid} waits for ShareLock on transaction {tx1}; blocked by process {other}.\n"
            f"Process {other} waits for ShareLock on transaction {tx2}; blocked by process {pid}."
        )
        account = rng.randrange(1, 999)
        statement = f"UPDATE public.accounts SET balance = balance - 10 WHERE id = {account}"
        return self._msg(
            ts,
            session,
            "ERROR",
            "deadlock detected",
            sqlstate="40P01",
            detail=detail,
            hint="See server log for query details.",
            context=f'while updating tuple (0,{rng.randrange(1, 200)}) in relation "accounts"',
            statement=statement,
            command_tag="UPDATE",
        )

    def _lock_wait(self, ts: int) -> PgMessage:
        rng = self._rng
        session = self._sessions.pick(ts)
        holder = rng.randrange(1000, 60000)
        text = (
            f"process {session.connection_id} still waiting for ShareLock on transaction "
            f"{rng.randrange(10**6, 10**8)} after {1000 + rng.random() * 50:.3f} ms"
        )
        return self._msg(
            ts,
            session,
            "LOG",
            text,
            detail=f"Process holding the lock: {holder}. Wait queue: {session.connection_id}.",
            context=f'while updating tuple (3,{rng.randrange(1, 90)}) in relation "orders"',
            statement=f"UPDATE public.orders SET status = 'paid' WHERE id = {holder * 7}",
            command_tag="UPDATE",
        )

    def _auth_failed(self, ts: int) -> PgMessage:
        session = self._sessions.replace(self._sessions.pick(ts), ts)
        return self._msg(
            ts,
            session,
            "FATAL",
            f'password authentication failed for user "{session.user}"',
            sqlstate="28P01",
            detail='Connection matched pg_hba.conf line 12: "host all all 0.0.0.0/0 md5"',
            command_tag="authentication",
        )

    def _connection_received(self, ts: int) -> PgMessage:
        session = self._sessions.replace(self._sessions.pick(ts), ts)
        host = _remote(session)[0].rsplit("(", 1)[0]
        text = f"connection received: host={host} port={session.port}"
        if host == "[local]":
            text = "connection received: host=[local]"
        return self._msg(ts, session, "LOG", text, unauthenticated=True)

    def _connection_authorized(self, ts: int) -> PgMessage:
        session = self._sessions.pick(ts)
        text = (
            f"connection authorized: user={session.user} database={session.db} "
            f"application_name={session.application} SSL enabled (protocol=TLSv1.3, "
            "cipher=TLS_AES_256_GCM_SHA384, bits=256)"
        )
        return self._msg(ts, session, "LOG", text, command_tag="authentication")

    def _disconnection(self, ts: int) -> PgMessage:
        rng = self._rng
        session = self._sessions.pick(ts)
        host = _remote(session)[0].rsplit("(", 1)[0]
        text = (
            f"disconnection: session time: {rng.randrange(0, 5)}:{rng.randrange(60):02d}:"
            f"{rng.randrange(60):02d}.{rng.randrange(1000):03d} user={session.user} "
            f"database={session.db} host={host} port={session.port}"
        )
        message = self._msg(ts, session, "LOG", text, command_tag="idle")
        self._sessions.replace(session, ts)
        return message

    def _checkpoint(self, ts: int) -> PgMessage:
        rng = self._rng
        if rng.random() < 0.5:
            text = "checkpoint starting: time"
        else:
            text = (
                f"checkpoint complete: wrote {rng.randrange(0, 9000)} buffers "
                f"({rng.random() * 5:.1f}%); 0 WAL file(s) added, 0 removed, "
                f"{rng.randrange(0, 4)} recycled; write={rng.random() * 30:.3f} s, "
                f"sync={rng.random():.3f} s, total={rng.random() * 31:.3f} s; sync files="
                f"{rng.randrange(0, 80)}, longest={rng.random():.3f} s, average="
                f"{rng.random() / 10:.3f} s; distance={rng.randrange(0, 90000)} kB, "
                f"estimate={rng.randrange(0, 90000)} kB"
            )
        return self._msg(ts, None, "LOG", text, backend_type="checkpointer")

    def _autovacuum(self, ts: int) -> PgMessage:
        rng = self._rng
        table = rng.choice(_PARAM_TABLES)[0]
        db = rng.choice(tuple(SCHEMAS))
        remain = rng.randrange(100, 90000)
        text = (
            f'automatic vacuum of table "{db}.public.{table}": index scans: {rng.randrange(0, 3)}\n'
            f"pages: 0 removed, {remain} remain, 0 skipped due to pins, 0 skipped frozen\n"
            f"tuples: {rng.randrange(0, 5000)} removed, {remain * 40} remain, 0 are dead but not "
            "yet removable\n"
            f"buffer usage: {rng.randrange(100, 9000)} hits, {rng.randrange(0, 900)} misses, "
            f"{rng.randrange(0, 400)} dirtied\n"
            f"avg read rate: {rng.random() * 40:.3f} MB/s, avg write rate: "
            f"{rng.random() * 20:.3f} MB/s\n"
            f"system usage: CPU: user: {rng.random():.2f} s, system: {rng.random() / 5:.2f} s, "
            f"elapsed: {rng.random() * 3:.2f} s"
        )
        pid = rng.randrange(10000, 60000)
        message = self._msg(ts, None, "LOG", text, backend_type="autovacuum worker")
        message.pid = pid
        return message

    def _temp_file(self, ts: int) -> PgMessage:
        rng = self._rng
        session = self._sessions.pick(ts)
        query = self._queries.draw(session.db)
        text = (
            f'temporary file: path "base/pgsql_tmp/pgsql_tmp{session.connection_id}.'
            f'{rng.randrange(0, 40)}", size {rng.randrange(10**5, 10**9)}'
        )
        return self._msg(ts, session, "LOG", text, statement=query.sql, command_tag="SELECT")

    def _warning(self, ts: int) -> PgMessage:
        session = self._sessions.pick(ts)
        return self._msg(
            ts,
            session,
            "WARNING",
            "there is no transaction in progress",
            sqlstate="25P01",
            command_tag="COMMIT",
        )

    def huge(self, ts_us: int, line_bytes: int) -> list[list[Entry]]:
        session = self._sessions.pick(ts_us)
        sql = f"INSERT INTO public.events (id, payload) VALUES {filler(self._rng, line_bytes)}"
        message = self._msg(
            ts_us,
            session,
            "LOG",
            f"duration: {self._ms()} ms  statement: {sql}",
            command_tag="INSERT",
        )
        return self._render([message])

    def file_opened(self, output: int, ts_us: int) -> list[Entry]:
        return []

    def restart(self, ts_us: int) -> list[list[Entry]]:
        rng = self._rng
        postmaster = rng.randrange(300, 600)
        self._checkpointer = postmaster + rng.randrange(2, 40)
        # Before the configuration (and with it log_line_prefix) is loaded, PostgreSQL uses its
        # default prefix `%m [%p] `: one such line opens every restart in the stderr file.
        early = (
            f"{pg_csv_time(ts_us).replace(' UTC', ' GMT')} [{postmaster}] LOG:  skipping missing "
            'configuration file "/rdsdbdata/config/recovery.conf"\n'
        ).encode()
        messages = [
            self._msg(
                ts_us + 900,
                None,
                "LOG",
                f"starting PostgreSQL {self._version} on aarch64-unknown-linux-gnu, compiled "
                "by aarch64-unknown-linux-gnu-gcc (GCC) 9.5.0, 64-bit",
                backend_type="postmaster",
            ),
            self._msg(
                ts_us + 1500,
                None,
                "LOG",
                'listening on IPv4 address "0.0.0.0", port 5432',
                backend_type="postmaster",
            ),
            self._msg(
                ts_us + 2_400,
                None,
                "LOG",
                "database system is ready to accept connections",
                backend_type="postmaster",
            ),
        ]
        for message in messages:
            message.pid = postmaster
        rendered = self._render(messages)
        rendered[0].insert(0, Entry(ts_us, early))
        return rendered
