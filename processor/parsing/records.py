"""The parsing layer's vocabulary: log types, records, checkpoints and the parser contract."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

__all__ = ["CheckpointState", "LogType", "Parser", "ParserCheckpoint", "Record"]

# A record is a flat JSON object as OpenObserve ingests it; see docs/records.md for its keys.
Record = dict[str, Any]
CheckpointState = dict[str, str | int | float | None]


class LogType(StrEnum):
    """The grammars this package parses, named as the ``--type`` option spells them."""

    MYSQL_SLOW = "mysql-slow"
    MYSQL_ERROR = "mysql-error"
    MYSQL_GENERAL = "mysql-general"
    MYSQL_AUDIT = "mysql-audit"
    POSTGRESQL = "postgresql"
    POSTGRESQL_CSV = "postgresql-csv"
    POSTGRESQL_JSON = "postgresql-json"

    @property
    def record_type(self) -> str:
        """The ``log_type`` value of this grammar's records (one per engine log, not format)."""
        if self.value.startswith("postgresql"):
            return "postgresql"
        return self.value.replace("-", "_")


@dataclass(frozen=True, slots=True)
class ParserCheckpoint:
    """Where a parser stands in a file: resume by feeding the file from ``offset`` on.

    ``offset`` is the absolute byte offset up to which every entry has been returned; the
    bytes after it were held back (an entry that may continue) and must be fed again.
    ``state`` is the context carried from earlier entries (the last ``use db``, the last
    timestamp...) that a new parser needs to produce exactly the records an uninterrupted one
    would. Small, JSON-serialisable, and opaque to callers.
    """

    offset: int
    state: CheckpointState = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"offset": self.offset, "state": dict(self.state)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Inverse of :meth:`to_json`; raises ValueError on anything else."""
        data = json.loads(text)
        if not isinstance(data, dict) or not isinstance(data.get("offset"), int):
            raise ValueError("not a parser checkpoint")
        state = data.get("state", {})
        if not isinstance(state, dict) or not all(
            isinstance(value, str | int | float) or value is None for value in state.values()
        ):
            raise ValueError("checkpoint state must map names to scalars")
        if data["offset"] < 0:
            raise ValueError("checkpoint offset must not be negative")
        return cls(offset=data["offset"], state=state)


class Parser(ABC):
    """Incremental parser of one log file: bytes in, complete records out.

    Not thread-safe; one instance per file. No method blocks or raises on bad input: text that
    fits no grammar becomes a record with ``parse_error: true``.
    """

    @abstractmethod
    def feed(self, data: bytes) -> list[Record]:
        """Parse ``data``, which continues exactly where the previous feed ended.

        The first feed starts at the checkpoint's offset (0 without one). Returns the entries
        completed by this data, in file order; an entry that may continue is held back.
        """

    @abstractmethod
    def flush(self) -> list[Record]:
        """The file is complete (closed or rotated): return every held-back entry too."""

    @abstractmethod
    def checkpoint(self) -> ParserCheckpoint:
        """Where to resume: everything before ``offset`` has been returned."""
