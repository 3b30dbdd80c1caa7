"""What the simulated applications say to their databases: schemas, users, hosts and queries.

:class:`QueryFactory` builds SQL from a few dozen templates over several schemas with random
literals, so fingerprints number in the hundreds and literals rarely repeat: enough for
fingerprinting, parsers and dashboards to meet variety, never one repeated line. Statements
are sometimes multi-line (indented joins, CTEs, window functions) and contain the quoting a
parser must survive (doubled quotes, backslashes, non-ASCII text).

Building a statement costs tens of microseconds; :class:`QueryPool` amortises that for busy
instances by reusing recent statements and refreshing a fraction of them on every draw.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "APPLICATIONS",
    "SCHEMAS",
    "Dialect",
    "Query",
    "QueryFactory",
    "QueryPool",
    "Session",
    "SessionPool",
    "filler",
]

Dialect = Literal["mysql", "postgresql"]

SCHEMAS: dict[str, dict[str, tuple[str, ...]]] = {
    "shop": {
        "orders": ("id", "customer_id", "status", "total_cents", "currency", "created_at"),
        "order_items": ("id", "order_id", "product_id", "quantity", "unit_price_cents"),
        "customers": ("id", "email", "full_name", "country", "tier", "created_at"),
        "products": ("id", "sku", "title", "price_cents", "stock", "category_id"),
        "categories": ("id", "name", "parent_id", "position"),
        "carts": ("id", "customer_id", "item_count", "updated_at"),
    },
    "billing": {
        "invoices": ("id", "account_id", "amount_cents", "state", "due_at", "created_at"),
        "payments": ("id", "invoice_id", "provider", "amount_cents", "status", "created_at"),
        "refunds": ("id", "payment_id", "reason", "amount_cents", "created_at"),
        "subscriptions": ("id", "account_id", "plan", "renews_at", "status"),
    },
    "auth": {
        "users": ("id", "login", "email", "password_hash", "last_login_at", "created_at"),
        "sessions": ("id", "user_id", "token", "ip", "expires_at"),
        "login_attempts": ("id", "login", "ip", "succeeded", "created_at"),
        "api_tokens": ("id", "user_id", "scope", "revoked", "created_at"),
    },
    "analytics": {
        "page_views": ("id", "session_id", "path", "referrer", "duration_ms", "created_at"),
        "events": ("id", "user_id", "name", "payload", "created_at"),
        "daily_rollups": ("id", "day", "metric", "value", "updated_at"),
    },
    "inventory": {
        "warehouses": ("id", "code", "region", "capacity", "created_at"),
        "stock_movements": ("id", "warehouse_id", "product_id", "delta", "created_at"),
        "suppliers": ("id", "name", "country", "rating", "updated_at"),
    },
}
_DATABASES = tuple(SCHEMAS)
_TABLES = {db: tuple(tables) for db, tables in SCHEMAS.items()}

USERS = ("app_rw", "app_ro", "reporting", "etl_loader", "admin", "batch_jobs", "api_svc")
APPLICATIONS = ("checkout-api", "billing-worker", "psql", "metabase", "etl", "auth-service")
_ROUTES = ("/cart", "/checkout", "/orders/:id", "/search", "/invoices", "/login", "/export")
_STATUSES = ("pending", "paid", "shipped", "cancelled", "refunded", "active", "past_due")
_WORDS = (
    "alpha",
    "amber",
    "atlas",
    "basil",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "garnet",
    "harbor",
    "indigo",
    "juniper",
    "kelvin",
    "lumen",
    "maple",
    "nova",
    "onyx",
    "pepper",
    "quartz",
    "raven",
    "sierra",
    "tundra",
    "umber",
    "violet",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
)
# Text a parser must carry intact: non-ASCII (UTF-8 multi-byte), doubled quotes, backslashes.
_AWKWARD = ("Zoë Müller", "東京都", "café crème", "O''Brien", "Ærøskøbing", "naïve résumé")
_AWKWARD_MYSQL = (*_AWKWARD, "C:\\\\exports\\\\daily", "it\\'s")


@dataclass(slots=True, frozen=True)
class Query:
    """One statement and what an audit log and a slow log say about it."""

    sql: str
    db: str
    verb: str  # SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, DROP or OTHER
    reads: tuple[str, ...]
    writes: tuple[str, ...]
    rows_sent: int
    rows_examined: int


@dataclass(slots=True)
class Session:
    """One client connection: who, from where, into which database."""

    connection_id: int
    user: str
    ip: str
    port: int
    db: str
    application: str
    started_us: int


class SessionPool:
    """Open connections of one instance; connections come and go as a workload's do."""

    def __init__(self, rng: random.Random, *, size: int = 40, first_id: int | None = None) -> None:
        self._rng = rng
        self._next_id = first_id if first_id is not None else rng.randrange(1000, 400_000)
        self.sessions: list[Session] = []
        self._size = size

    def _new(self, now_us: int) -> Session:
        rng = self._rng
        self._next_id += rng.randrange(1, 40)
        return Session(
            connection_id=self._next_id,
            user=rng.choice(USERS),
            ip=f"10.0.{rng.randrange(0, 8)}.{rng.randrange(2, 250)}",
            port=rng.randrange(32768, 61000),
            db=rng.choice(_DATABASES),
            application=rng.choice(APPLICATIONS),
            started_us=now_us - rng.randrange(0, 3_600_000_000),
        )

    def pick(self, now_us: int) -> Session:
        """A session to act in; fills the pool on first use."""
        while len(self.sessions) < self._size:
            self.sessions.append(self._new(now_us))
        return self.sessions[int(self._rng.random() * len(self.sessions))]

    def replace(self, session: Session, now_us: int) -> Session:
        """Close ``session`` and open a new one in its place; returns the new one."""
        fresh = self._new(now_us)
        for index, candidate in enumerate(self.sessions):
            if candidate is session:
                self.sessions[index] = fresh
                break
        else:
            self.sessions.append(fresh)
        return fresh


class QueryFactory:
    """Builds random statements in a dialect; deterministic for a seeded ``rng``."""

    def __init__(self, rng: random.Random, dialect: Dialect = "mysql") -> None:
        self._rng = rng
        self._pg = dialect == "postgresql"
        self._awkward = _AWKWARD if self._pg else _AWKWARD_MYSQL
        self._templates = (
            (self._point_select, 14),
            (self._range_select, 8),
            (self._in_list, 6),
            (self._group_by, 4),
            (self._join, 6),
            (self._update, 8),
            (self._insert, 7),
            (self._insert_many, 3),
            (self._delete, 3),
            (self._cte, 2),
            (self._subquery, 3),
            (self._like, 3),
            (self._commented, 4),
            (self._transaction, 5),
            (self._ddl, 1),
            (self._catalog, 2),
            (self._call, 1),
            (self._awkward_literal, 3),
            (self._sleep, 1),
            (self._upsert, 3),
            (self._window, 2),
        )
        self._cumulative: list[int] = []
        total = 0
        for _function, weight in self._templates:
            total += weight
            self._cumulative.append(total)
        self._total = total

    # Small helpers. `r` is hot: int(random() * n) is cheaper than randrange.

    def _pick(self, items: tuple[str, ...]) -> str:
        return items[int(self._rng.random() * len(items))]

    def _table(self, db: str | None = None) -> tuple[str, str, tuple[str, ...]]:
        db = db or self._pick(_DATABASES)
        table = self._pick(_TABLES[db])
        return db, table, SCHEMAS[db][table]

    def _id(self) -> int:
        return int(self._rng.random() ** 2 * 9_000_000) + 1

    def _date(self) -> str:
        return self._dates()[0]

    def _dates(self) -> tuple[str, str]:
        """Two datetimes a few days apart, earlier first."""
        rng = self._rng
        month, day, hour = rng.randrange(1, 13), rng.randrange(1, 22), rng.randrange(24)
        later = day + rng.randrange(1, 7)
        return (
            f"2024-{month:02d}-{day:02d} {hour:02d}:00:00",
            f"2024-{month:02d}-{later:02d} {hour:02d}:00:00",
        )

    def _word(self) -> str:
        return f"{self._pick(_WORDS)}-{self._rng.randrange(100, 99999)}"

    def _cols(self, columns: tuple[str, ...]) -> str:
        count = 1 + int(self._rng.random() * min(4, len(columns)))
        return ", ".join(self._rng.sample(columns, count))

    def _q(self, table: str) -> str:
        return f"public.{table}" if self._pg else table

    def _date_col(self, columns: tuple[str, ...]) -> str:
        for column in reversed(columns):
            if column.endswith("_at") or column == "day":
                return column
        return columns[-1]

    def build(self, db: str | None = None) -> Query:
        """A fresh statement, preferably in ``db`` (a session's default database)."""
        point = self._rng.random() * self._total
        for (function, _weight), bound in zip(self._templates, self._cumulative, strict=True):
            if point < bound:
                return function(db)
        return self._point_select(db)  # pragma: no cover - float edge

    # Templates.

    def _point_select(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        sql = f"SELECT {self._cols(columns)} FROM {self._q(table)} WHERE id = {self._id()}"
        return Query(sql, db, "SELECT", (table,), (), 1, 1)

    def _range_select(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        col = self._date_col(columns)
        limit = self._rng.choice((10, 20, 50, 100, 500))
        since, until = self._dates()
        sql = (
            f"SELECT {self._cols(columns)} FROM {self._q(table)} WHERE {col} >= '{since}' "
            f"AND {col} < '{until}' ORDER BY {col} DESC LIMIT {limit}"
        )
        return Query(sql, db, "SELECT", (table,), (), limit, limit * self._rng.randrange(2, 400))

    def _in_list(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        ids = ", ".join(str(self._id()) for _ in range(self._rng.randrange(2, 12)))
        sql = f"SELECT {self._cols(columns)} FROM {self._q(table)} WHERE id IN ({ids})"
        return Query(sql, db, "SELECT", (table,), (), ids.count(",") + 1, ids.count(",") + 1)

    def _group_by(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        col = self._pick(columns[1:])
        sql = (
            f"SELECT {col}, COUNT(*) AS n FROM {self._q(table)} GROUP BY {col} "
            f"HAVING COUNT(*) > {self._rng.randrange(1, 500)}"
        )
        examined = self._rng.randrange(10_000, 5_000_000)
        return Query(sql, db, "SELECT", (table,), (), self._rng.randrange(0, 200), examined)

    def _join(self, db: str | None) -> Query:
        db = db or self._pick(_DATABASES)
        tables = _TABLES[db]
        first, second = self._rng.sample(tables, 2)
        a_cols, b_cols = SCHEMAS[db][first], SCHEMAS[db][second]
        link = next((c for c in a_cols if c.endswith("_id")), "id")
        status = self._pick(_STATUSES)
        limit = self._rng.choice((20, 50, 100))
        sql = (
            f"SELECT a.id, a.{a_cols[1]}, b.{b_cols[1]}\n"
            f"FROM {self._q(first)} a\n"
            f"  JOIN {self._q(second)} b ON b.id = a.{link}\n"
            f"WHERE a.{a_cols[2]} = '{status}'\n"
            f"  AND a.{self._date_col(a_cols)} > '{self._date()}'\n"
            f"ORDER BY a.id DESC\n"
            f"LIMIT {limit}"
        )
        examined = self._rng.randrange(1000, 2_000_000)
        return Query(sql, db, "SELECT", (first, second), (), limit, examined)

    def _update(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        col = self._pick(columns[1:])
        now = "now()" if self._pg else "NOW()"
        sql = (
            f"UPDATE {self._q(table)} SET {col} = '{self._pick(_STATUSES)}', "
            f"{self._date_col(columns)} = {now} WHERE id = {self._id()}"
        )
        return Query(sql, db, "UPDATE", (), (table,), 0, 1)

    def _insert(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        names = columns[1:]
        values = ", ".join(self._value(name) for name in names)
        sql = f"INSERT INTO {self._q(table)} ({', '.join(names)}) VALUES ({values})"
        return Query(sql, db, "INSERT", (), (table,), 0, 0)

    def _insert_many(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        names = columns[1:]
        rows = ",\n  ".join(
            "(" + ", ".join(self._value(name) for name in names) + ")"
            for _ in range(self._rng.randrange(2, 8))
        )
        sql = f"INSERT INTO {self._q(table)} ({', '.join(names)}) VALUES\n  {rows}"
        return Query(sql, db, "INSERT", (), (table,), 0, 0)

    def _value(self, column: str) -> str:
        if column.endswith("_at") or column in {"day", "due_at"}:
            return f"'{self._date()}'"
        if column.endswith(("_id", "_cents", "_ms")) or column in {"quantity", "stock", "delta"}:
            return str(self._rng.randrange(1, 100_000))
        if column == "email":
            return f"'{self._word()}@example.com'"
        return f"'{self._word()}'"

    def _delete(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        limit = "" if self._pg else f" LIMIT {self._rng.choice((100, 1000, 5000))}"
        sql = (
            f"DELETE FROM {self._q(table)} WHERE {self._date_col(columns)} < '{self._date()}'"
            f"{limit}"
        )
        return Query(sql, db, "DELETE", (), (table,), 0, self._rng.randrange(100, 900_000))

    def _cte(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        col = self._date_col(columns)
        sql = (
            f"WITH recent AS (\n"
            f"    SELECT id, {columns[1]}, {col}\n"
            f"    FROM {self._q(table)}\n"
            f"    WHERE {col} > '{self._date()}'\n"
            f")\n"
            f"SELECT {columns[1]}, COUNT(*) AS total\n"
            f"FROM recent\n"
            f"GROUP BY {columns[1]}\n"
            f"ORDER BY total DESC"
        )
        return Query(sql, db, "SELECT", (table,), (), 25, self._rng.randrange(5000, 3_000_000))

    def _subquery(self, db: str | None) -> Query:
        db = db or self._pick(_DATABASES)
        first, second = self._rng.sample(_TABLES[db], 2)
        sql = (
            f"SELECT * FROM {self._q(first)} WHERE id IN "
            f"(SELECT id FROM {self._q(second)} WHERE {SCHEMAS[db][second][1]} = {self._id()})"
        )
        return Query(sql, db, "SELECT", (first, second), (), 3, self._rng.randrange(10, 90_000))

    def _like(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        op = "ILIKE" if self._pg else "LIKE"
        sql = (
            f"SELECT id, {columns[1]} FROM {self._q(table)} WHERE {columns[1]} {op} "
            f"'%{self._pick(_WORDS)}%' LIMIT {self._rng.choice((10, 25))}"
        )
        return Query(sql, db, "SELECT", (table,), (), 10, self._rng.randrange(1000, 800_000))

    def _commented(self, db: str | None) -> Query:
        inner = self._point_select(db)
        app = self._pick(APPLICATIONS)
        sql = f"/* app:{app} route:{self._pick(_ROUTES)} */ {inner.sql}"
        return Query(sql, inner.db, inner.verb, inner.reads, inner.writes, 1, 1)

    def _transaction(self, db: str | None) -> Query:
        if self._pg:
            choices = (
                "BEGIN",
                "START TRANSACTION",
                "COMMIT",
                "ROLLBACK",
                "SET search_path TO public",
            )
        else:
            choices = ("BEGIN", "COMMIT", "ROLLBACK", "SET autocommit=1", "SET NAMES utf8mb4")
        statement = self._pick(choices)
        return Query(statement, db or self._pick(_DATABASES), "OTHER", (), (), 0, 0)

    def _ddl(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        suffix = self._rng.randrange(1, 999)
        choice = self._rng.randrange(4)
        if choice == 0:
            col = self._pick(columns[1:])
            if self._pg:
                index = f"idx_{table}_{col}_{suffix}"
                sql = f"CREATE INDEX CONCURRENTLY {index} ON {self._q(table)} ({col})"
                return Query(sql, db, "CREATE", (), (table,), 0, 0)
            sql = f"ALTER TABLE {table} ADD INDEX idx_{col}_{suffix} ({col})"
            return Query(sql, db, "ALTER", (), (table,), 0, 0)
        if choice == 1:
            sql = f"CREATE TABLE IF NOT EXISTS tmp_{table}_{suffix} (LIKE {self._q(table)})"
            if not self._pg:
                sql = f"CREATE TABLE IF NOT EXISTS tmp_{table}_{suffix} LIKE {table}"
            return Query(sql, db, "CREATE", (), (f"tmp_{table}_{suffix}",), 0, 0)
        if choice == 2:
            sql = f"DROP TABLE IF EXISTS tmp_{table}_{suffix}"
            return Query(sql, db, "DROP", (), (f"tmp_{table}_{suffix}",), 0, 0)
        sql = f"ANALYZE {self._q(table)}" if self._pg else f"ANALYZE TABLE {table}"
        return Query(sql, db, "OTHER", (table,), (), 1, 0)

    def _catalog(self, db: str | None) -> Query:
        db = db or self._pick(_DATABASES)
        if self._pg:
            sql = (
                "SELECT relname, n_live_tup, n_dead_tup FROM pg_stat_user_tables "
                f"WHERE schemaname = 'public' AND n_dead_tup > {self._rng.randrange(100, 10000)}"
            )
        elif self._rng.random() < 0.5:
            sql = "SHOW FULL PROCESSLIST"
        else:
            sql = (
                "SELECT table_name, table_rows, data_length FROM information_schema.tables "
                f"WHERE table_schema = '{db}'"
            )
        return Query(sql, db, "SELECT", (), (), self._rng.randrange(1, 60), 200)

    def _call(self, db: str | None) -> Query:
        db, table, _columns = self._table(db)
        keyword = "CALL" if not self._pg else "SELECT"
        sql = f"{keyword} refresh_{table}_summary({self._rng.randrange(1, 400)})"
        return Query(sql, db, "OTHER", (table,), (), 0, self._rng.randrange(100, 100_000))

    def _awkward_literal(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        sql = (
            f"SELECT id FROM {self._q(table)} WHERE {columns[1]} = "
            f"'{self._pick(self._awkward)}' AND id > {self._id()}"
        )
        return Query(sql, db, "SELECT", (table,), (), 0, self._rng.randrange(1, 50_000))

    def _sleep(self, db: str | None) -> Query:
        seconds = self._rng.choice((1, 2, 3, 5))
        sql = f"SELECT pg_sleep({seconds})" if self._pg else f"select sleep({seconds})"
        return Query(sql, db or self._pick(_DATABASES), "SELECT", (), (), 1, 1)

    def _upsert(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        col = columns[1]
        value = self._value(col)
        if self._pg:
            sql = (
                f"INSERT INTO {self._q(table)} (id, {col}) VALUES ({self._id()}, {value}) "
                f"ON CONFLICT (id) DO UPDATE SET {col} = EXCLUDED.{col}"
            )
        else:
            sql = (
                f"INSERT INTO {table} (id, {col}) VALUES ({self._id()}, {value}) "
                f"ON DUPLICATE KEY UPDATE {col} = VALUES({col})"
            )
        return Query(sql, db, "INSERT", (), (table,), 0, 1)

    def _window(self, db: str | None) -> Query:
        db, table, columns = self._table(db)
        col = self._date_col(columns)
        since, until = self._dates()
        sql = (
            f"SELECT id,\n"
            f"       {columns[1]},\n"
            f"       ROW_NUMBER() OVER (PARTITION BY {columns[1]} ORDER BY {col} DESC) AS rn\n"
            f"FROM {self._q(table)}\n"
            f"WHERE {col} BETWEEN '{since}' AND '{until}'"
        )
        return Query(sql, db, "SELECT", (table,), (), 100, self._rng.randrange(1000, 900_000))


class QueryPool:
    """Recent statements, reused: each draw builds a fresh one with probability ``fresh``.

    Real workloads repeat their statements too; the pool keeps the cost of a draw at a few
    microseconds while the refresh keeps literals and fingerprints varied.
    """

    def __init__(self, factory: QueryFactory, rng: random.Random, *, size: int = 256) -> None:
        self._factory = factory
        self._rng = rng
        self._size = size
        self._items: list[Query] = []
        self.fresh = 0.15

    def draw(self, db: str | None = None) -> Query:
        rng = self._rng
        if len(self._items) < self._size:
            query = self._factory.build(db)
            self._items.append(query)
            return query
        if rng.random() < self.fresh:
            query = self._factory.build(db)
            self._items[int(rng.random() * self._size)] = query
            return query
        return self._items[int(rng.random() * self._size)]


def filler(rng: random.Random, size: int) -> str:
    """``(1,'xx..'),(2,'xx..')...``: a VALUES list of at least ``size`` characters, one line."""
    parts: list[str] = []
    total = 0
    number = 0
    chunk = "x" * 200
    while total < size:
        number += 1
        part = f"({number},'{chunk}{rng.randrange(10**6)}')"
        parts.append(part)
        total += len(part) + 1
    return ",".join(parts)
