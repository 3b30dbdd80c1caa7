"""Streams of one contract server: schemas, rows in SQLite, stats and settings.

Each organisation owns one in-memory SQLite database and each stream one table in it, named
exactly like the stream, so a ``_search`` query runs against real tables. Columns carry no
declared SQLite type (no affinity): values are stored as ingested and converted back by the
stream's Arrow-style schema when read.

Schema rules (reference ``shared/reference/openobserve.md``, "Type conflicts"): the first type
seen fixes a column; numeric widening evolves it (``Int64`` -> ``Float64``/``UInt64``,
``UInt64`` -> ``Float64``); any other mismatch casts the value to the column's type the way
OpenObserve's ``cast_to_type`` does and a failed cast fails that record with
``Failed to cast <field> to type <T> `` (OpenObserve's wording, trailing space included; one
such phrase per failing field). Deliberate deviation, following the reference: OpenObserve
v0.15.3 also treats any type -> ``Utf8`` as widening (the column silently becomes text); here a
text value in a numeric or boolean column that does not parse fails the record, which is what
the reference's "keep each field's type stable" asks clients to avoid.

Not thread-safe: the server serialises every call with its lock.
"""

from __future__ import annotations

import copy
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from tests.contract._oo_normalise import format_key
from tests.contract._oo_sql import PreparedQuery

__all__ = [
    "BOOLEAN",
    "FLOAT64",
    "INT64",
    "UINT64",
    "UTF8",
    "PendingRecord",
    "RecordOutcome",
    "SettingsError",
    "Store",
    "StreamTable",
    "default_settings",
    "infer_type",
]

INT64: Final = "Int64"
UINT64: Final = "UInt64"
FLOAT64: Final = "Float64"
UTF8: Final = "Utf8"
BOOLEAN: Final = "Boolean"
KNOWN_TYPES: Final = frozenset({INT64, UINT64, FLOAT64, UTF8, BOOLEAN})
_I64_MAX: Final = 2**63 - 1
_WIDENING: Final = frozenset({(INT64, FLOAT64), (INT64, UINT64), (UINT64, FLOAT64)})
_INT_TEXT = re.compile(r"^[+-]?[0-9]+$")
_UINT_TEXT = re.compile(r"^\+?[0-9]+$")
_FLOAT_TEXT = re.compile(
    r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|inf|infinity|nan)$", re.IGNORECASE
)
TIMESTAMP_COL: Final = "_timestamp"


def infer_type(value: Any) -> str:
    """The Arrow type OpenObserve infers for one flattened JSON scalar."""
    # Exact-type checks first: this runs for every value of every record.
    kind = type(value)
    if kind is str:
        return UTF8
    if kind is int:
        return INT64 if value <= _I64_MAX else UINT64
    if kind is float:
        return FLOAT64
    if isinstance(value, bool):
        return BOOLEAN
    if isinstance(value, int):
        return INT64 if value <= _I64_MAX else UINT64
    if isinstance(value, float):
        return FLOAT64
    return UTF8


def _string_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _CastFailed(Exception):
    pass


def _cast(value: Any, value_type: str, column_type: str) -> Any:
    """Convert ``value`` into a column of ``column_type`` (not a widening), as OpenObserve's
    ``cast_to_type`` does; raise :class:`_CastFailed` where it would."""
    if column_type == UTF8:
        return _string_value(value)
    if column_type in (INT64, UINT64):
        if value_type in (INT64, UINT64, FLOAT64):
            return value
        if value_type == BOOLEAN:
            return 1 if value else 0
        pattern = _INT_TEXT if column_type == INT64 else _UINT_TEXT
        if pattern.match(value):
            return int(value)
        raise _CastFailed
    if column_type == FLOAT64:
        if value_type in (INT64, UINT64):
            return float(value)
        if value_type == BOOLEAN:
            return 1.0 if value else 0.0
        if _FLOAT_TEXT.match(value):
            return float(value)
        raise _CastFailed
    # Boolean column
    if value_type in (INT64, UINT64, FLOAT64):
        return value > 0
    if value in ("true", "false"):
        return value == "true"
    raise _CastFailed


def default_settings() -> dict[str, Any]:
    """OpenObserve's ``StreamSettings`` defaults, as ``GET .../schema`` shows them."""
    return {
        "partition_time_level": None,
        "partition_keys": [],
        "full_text_search_keys": [],
        "index_fields": [],
        "bloom_filter_fields": [],
        "data_retention": 0,
        "flatten_level": None,
        "defined_schema_fields": [],
        "max_query_range": 0,
        "store_original_data": False,
        "approx_partition": False,
        "distinct_value_fields": [],
        "index_updated_at": 0,
        "extended_retention_days": [],
        "index_original_data": False,
        "index_all_values": False,
        "enable_distinct_fields": True,
    }


class SettingsError(ValueError):
    """A stream create or settings update OpenObserve answers with 400; message is its text."""


@dataclass(slots=True)
class PendingRecord:
    """One record that passed the timestamp checks and waits for the write stage."""

    position: int
    """1-based position of the document in its request."""
    values: dict[str, Any]
    doc_id: str | None = None


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What the write stage did with one :class:`PendingRecord`."""

    record: PendingRecord
    error: str | None = None
    error_type: str | None = None
    item_status: int = 422


@dataclass(slots=True)
class StreamTable:
    """One stream: its schema (column -> Arrow type, in creation order), settings and stats."""

    name: str
    created_at_us: int
    columns: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=default_settings)
    doc_num: int = 0
    doc_time_min: int = 0
    doc_time_max: int = 0
    storage_bytes: float = 0.0

    def describe(self) -> dict[str, Any]:
        """The stream as ``GET /api/{org}/streams`` lists it."""
        size_mb = self.storage_bytes / (1024 * 1024)
        return {
            "name": self.name,
            "storage_type": "disk",
            "stream_type": "logs",
            "stats": {
                "created_at": self.created_at_us,
                "doc_time_min": self.doc_time_min,
                "doc_time_max": self.doc_time_max,
                "doc_num": self.doc_num,
                "file_num": 1 if self.doc_num else 0,
                "storage_size": size_mb,
                "compressed_size": size_mb / 10,
                "index_size": 0.0,
            },
            "schema": [{"name": k, "type": t} for k, t in sorted(self.columns.items())],
            "settings": copy.deepcopy(self.settings),
            "total_fields": len(self.columns),
        }


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class _Org:
    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self.streams: dict[str, StreamTable] = {}


FaultHook = Callable[[PendingRecord], RecordOutcome | None]


class Store:
    """Every organisation's streams. ``max_rows`` bounds memory across all of them."""

    def __init__(self, *, max_rows: int) -> None:
        self.max_rows = max_rows
        self._orgs: dict[str, _Org] = {}
        self.total_rows = 0

    # organisations ---------------------------------------------------------------------------
    def has_org(self, org: str) -> bool:
        """Whether ``org`` exists."""
        return org in self._orgs

    def ensure_org(self, org: str) -> None:
        """Create ``org`` if it does not exist."""
        if org not in self._orgs:
            self._orgs[org] = _Org()

    def orgs(self) -> list[str]:
        """Names of all organisations."""
        return sorted(self._orgs)

    def clear(self) -> None:
        """Drop every stream of every organisation; organisations stay."""
        for name in list(self._orgs):
            self._orgs[name].db.close()
            self._orgs[name] = _Org()
        self.total_rows = 0

    # streams ---------------------------------------------------------------------------------
    def stream(self, org: str, name: str) -> StreamTable | None:
        """The stream, or ``None`` when it was never created nor ingested into."""
        o = self._orgs.get(org)
        return None if o is None else o.streams.get(name)

    def streams(self, org: str) -> list[StreamTable]:
        """All streams of ``org`` by name."""
        return [s for _, s in sorted(self._orgs[org].streams.items())]

    def _create_table(self, org: str, name: str, now_us: int) -> StreamTable:
        o = self._orgs[org]
        table = StreamTable(name=name, created_at_us=now_us)
        o.db.execute(f"CREATE TABLE {_quote(name)} ({_quote(TIMESTAMP_COL)})")
        table.columns[TIMESTAMP_COL] = INT64
        o.streams[name] = table
        return table

    def create_stream(
        self,
        org: str,
        name: str,
        fields: Iterable[Mapping[str, Any]],
        settings: Mapping[str, Any],
        now_us: int,
    ) -> None:
        """``POST /api/{org}/streams/{name}``; raises :class:`SettingsError` with
        OpenObserve's message when the stream exists or a field type is unknown."""
        if self.stream(org, name) is not None:
            raise SettingsError("stream already exists")
        wanted: dict[str, str] = {}
        if not isinstance(fields, list) or not isinstance(settings, Mapping):
            raise SettingsError("Json deserialize error: fields must be a list, settings an object")
        for f in fields:
            if not isinstance(f, Mapping):
                raise SettingsError("Json deserialize error: a field must be an object")
            ftype = str(f.get("type", ""))
            if ftype not in KNOWN_TYPES:
                raise SettingsError(f"invalid data type: {ftype}")
            wanted[format_key(str(f.get("name", "")))] = ftype
        merged = default_settings()
        for key, value in settings.items():
            if key in merged:
                merged[key] = copy.deepcopy(value)
        self._validate_settings(wanted | {TIMESTAMP_COL: INT64}, merged)
        table = self._create_table(org, name, now_us)
        self._add_columns(org, table, wanted)
        table.settings = merged

    def update_settings(self, org: str, name: str, update: Mapping[str, Any]) -> None:
        """``PUT /api/{org}/streams/{name}/settings`` with ``add``/``remove`` wrappers; raises
        :class:`KeyError` for an unknown stream, :class:`SettingsError` for a bad update."""
        table = self.stream(org, name)
        if table is None:
            raise KeyError(name)
        new = copy.deepcopy(table.settings)
        for key in (
            "partition_keys",
            "full_text_search_keys",
            "index_fields",
            "bloom_filter_fields",
            "distinct_value_fields",
            "extended_retention_days",
        ):
            wrapper = update.get(key)
            if wrapper is None:
                continue
            if not isinstance(wrapper, Mapping):
                raise SettingsError(f"{key} must be an object with add/remove lists")
            current: list[Any] = new[key]
            for item in wrapper.get("add", []) or []:
                if key == "partition_keys":
                    if not isinstance(item, Mapping) or "field" not in item:
                        raise SettingsError("partition key needs a field")
                    item = {
                        "field": item["field"],
                        "types": item.get("types", "value"),
                        "disabled": bool(item.get("disabled", False)),
                    }
                    current[:] = [p for p in current if p["field"] != item["field"]]
                if item not in current:
                    current.append(item)
            removals = wrapper.get("remove", []) or []
            if key == "partition_keys":
                gone = {r["field"] if isinstance(r, Mapping) else r for r in removals}
                current[:] = [p for p in current if p["field"] not in gone]
            else:
                current[:] = [v for v in current if v not in removals]
        defined = update.get("defined_schema_fields")
        if isinstance(defined, Mapping) and defined.get("add"):
            raise SettingsError(
                "user defined schema is not allowed, you need to set "
                "ZO_ALLOW_USER_DEFINED_SCHEMAS=true"
            )
        for key in (
            "data_retention",
            "max_query_range",
            "flatten_level",
            "store_original_data",
            "approx_partition",
            "index_original_data",
            "index_all_values",
            "enable_distinct_fields",
            "partition_time_level",
        ):
            if update.get(key) is not None:
                new[key] = update[key]
        if new["index_original_data"]:
            new["store_original_data"] = True
        if new["index_original_data"] and new["index_all_values"]:
            raise SettingsError(
                "index_original_data & index_all_values cannot be true at the same time"
            )
        self._validate_settings(table.columns, new)
        table.settings = new

    @staticmethod
    def _validate_settings(columns: Mapping[str, str], settings: Mapping[str, Any]) -> None:
        for key in settings["full_text_search_keys"]:
            if key not in columns:
                raise SettingsError(f"field [{key}] not found in schema")
            if columns[key] != UTF8:
                raise SettingsError(f"full text search field [{key}] must be text field")
        for part in settings["partition_keys"]:
            if part["field"] in ("_all", TIMESTAMP_COL):
                raise SettingsError(f"field [{part['field']}] can't be used for partition key")

    def _add_columns(self, org: str, table: StreamTable, new: Mapping[str, str]) -> None:
        db = self._orgs[org].db
        for col, ctype in new.items():
            if col not in table.columns:
                db.execute(f"ALTER TABLE {_quote(table.name)} ADD COLUMN {_quote(col)}")
            table.columns[col] = ctype

    # writing ---------------------------------------------------------------------------------
    def write(
        self,
        org: str,
        name: str,
        records: list[PendingRecord],
        *,
        now_us: int,
        column_limit: int,
        approx_bytes: float,
        fault: FaultHook,
    ) -> list[RecordOutcome] | None:
        """Write the records of one stream from one request, in order.

        Returns one outcome per record, or ``None`` when the batch was dropped silently
        (more than ``column_limit`` distinct columns in the batch, as OpenObserve's
        ``ZO_COLS_PER_RECORD_LIMIT`` check does). ``fault`` may fail a record first.
        """
        keys: set[str] = set()
        for r in records:
            keys.update(r.values)
        if len(keys) > column_limit:
            return None
        table = self.stream(org, name)
        if table is None:
            table = self._create_table(org, name, now_us)
        outcomes: list[RecordOutcome] = []
        accepted: list[dict[str, Any]] = []
        added: dict[str, str] = {}
        for record in records:
            injected = fault(record)
            if injected is not None:
                outcomes.append(injected)
                continue
            row, changes, error = self._conform(table.columns, added, record.values)
            if error:
                outcomes.append(
                    RecordOutcome(record, error=error, error_type="schema_conformance_failed")
                )
                continue
            added.update(changes)
            accepted.append(row)
            outcomes.append(RecordOutcome(record))
        if accepted:
            self._add_columns(org, table, added)
            self._insert(org, table, accepted)
            share = approx_bytes * len(accepted) / max(len(records), 1)
            table.storage_bytes += share
        return outcomes

    @staticmethod
    def _conform(
        columns: Mapping[str, str], added: Mapping[str, str], values: Mapping[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str], str]:
        row: dict[str, Any] = {}
        changes: dict[str, str] = {}
        errors: list[str] = []
        for key, value in values.items():
            # infer_type inlined for the common scalar types: this loop runs for every value
            # of every record.
            kind = type(value)
            if kind is str:
                vtype = UTF8
            elif kind is int:
                vtype = INT64 if value <= _I64_MAX else UINT64
            elif kind is float:
                vtype = FLOAT64
            else:
                vtype = infer_type(value)
            ctype = added.get(key) or columns.get(key)
            if ctype == vtype and vtype is not UINT64:
                row[key] = value
            elif ctype is None or ctype == vtype:
                if ctype is None:
                    changes[key] = vtype
                # SQLite integers are 64-bit signed; larger UInt64 values are kept as text.
                row[key] = str(value) if vtype == UINT64 and value > _I64_MAX else value
            elif (ctype, vtype) in _WIDENING:
                changes[key] = vtype
                row[key] = str(value) if vtype == UINT64 and value > _I64_MAX else value
            else:
                try:
                    row[key] = _cast(value, vtype, ctype)
                except _CastFailed:
                    errors.append(f"Failed to cast {key} to type {ctype} ")
        return row, changes, "".join(errors)

    def _insert(self, org: str, table: StreamTable, rows: list[dict[str, Any]]) -> None:
        db = self._orgs[org].db
        groups: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(tuple(row.values()))
        for cols, values in groups.items():
            names = ", ".join(_quote(c) for c in cols)
            marks = ", ".join("?" * len(cols))
            db.executemany(f"INSERT INTO {_quote(table.name)} ({names}) VALUES ({marks})", values)
        stamps = [r[TIMESTAMP_COL] for r in rows]
        low, high = min(stamps), max(stamps)
        table.doc_time_min = low if table.doc_num == 0 else min(table.doc_time_min, low)
        table.doc_time_max = high if table.doc_num == 0 else max(table.doc_time_max, high)
        table.doc_num += len(rows)
        self.total_rows += len(rows)

    # reading ---------------------------------------------------------------------------------
    def _decode_row(
        self, table: StreamTable, names: list[str], row: tuple[Any, ...]
    ) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in zip(names, row, strict=True):
            if value is None:
                continue
            ctype = table.columns.get(key)
            if ctype == BOOLEAN and isinstance(value, int):
                value = bool(value)
            elif ctype == FLOAT64 and isinstance(value, int):
                value = float(value)
            elif ctype == UINT64 and isinstance(value, str):
                value = int(value)
            out[key] = value
        return out

    def rows(
        self, org: str, name: str, where: tuple[str, str, bool] | None = None
    ) -> list[dict[str, Any]]:
        """Every stored row of a stream in arrival order, nulls omitted. ``where`` is
        ``(column, text, is_prefix)``: only rows whose column equals (or starts with) the text;
        none when the stream has no such column."""
        table = self.stream(org, name)
        if table is None:
            return []
        sql, params = f"SELECT * FROM {_quote(name)}", ()
        if where is not None:
            column, text, is_prefix = where
            if column not in table.columns:
                return []
            if is_prefix:
                # substr keeps it exact: LIKE would treat % and _ in the text as wildcards.
                sql += f" WHERE substr({_quote(column)}, 1, ?) = ?"
                params = (len(text), text)
            else:
                sql += f" WHERE {_quote(column)} = ?"
                params = (text,)
        cur = self._orgs[org].db.execute(sql + " ORDER BY rowid", params)
        names = [d[0] for d in cur.description]
        return [self._decode_row(table, names, r) for r in cur.fetchall()]

    def query(self, org: str, prepared: PreparedQuery) -> list[dict[str, Any]]:
        """Run a prepared ``_search`` query; raises :class:`sqlite3.Error` from SQLite."""
        table = self.stream(org, prepared.stream)
        if table is None:
            raise KeyError(prepared.stream)
        cur = self._orgs[org].db.execute(prepared.sql, prepared.params)
        names = [d[0] for d in cur.description]
        return [self._decode_row(table, names, r) for r in cur.fetchall()]
