"""Records leave the parser as dicts; here they get their context and their identity.

``record_id`` is a deterministic function of (instance, file identity, byte offset): the same
entry of the same file always gets the same id, whichever replica reads it and however often,
so a record re-sent after a crash is recognisable in OpenObserve (``SELECT record_id, count(*)
... GROUP BY record_id HAVING count(*) > 1``). Its form is ``<file>-<offset>``: 20 hex digits
naming (instance, identity), computed once per file, then the entry's byte offset in hex, so
ids of one file also sort by position.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from common.events import LogFileEvent

__all__ = ["FileContext", "file_key", "record_id"]


def file_key(instance_id: str, identity: str) -> str:
    """20 hex digits naming one file generation of one instance."""
    key = f"{instance_id}\x00{identity}".encode()
    return hashlib.blake2b(key, digest_size=10).hexdigest()


def record_id(instance_id: str, identity: str, offset: int) -> str:
    """The id of the entry at ``offset`` of one file generation."""
    return f"{file_key(instance_id, identity)}-{offset:x}"


@dataclass(frozen=True, slots=True)
class FileContext:
    """The fields every record of one file carries."""

    cluster: str
    instance: str
    engine: str
    engine_version: str
    log_file: str
    identity: str
    key: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", file_key(self.instance, self.identity))

    @classmethod
    def of(cls, event: LogFileEvent) -> FileContext:
        return cls(
            cluster=event.cluster_id,
            instance=event.instance_id,
            engine=event.engine,
            engine_version=event.engine_version,
            log_file=event.log_file,
            identity=event.file_identity,
        )

    def finish(self, record: dict[str, Any]) -> tuple[str, bytes]:
        """Add the context and the id to ``record`` (in place); returns (id, JSON body)."""
        rid = f"{self.key}-{record['offset']:x}"
        record["record_id"] = rid
        record["cluster"] = self.cluster
        record["instance"] = self.instance
        record["engine"] = self.engine
        record["engine_version"] = self.engine_version
        record["log_file"] = self.log_file
        try:
            return rid, orjson.dumps(record)
        except TypeError:
            return rid, orjson.dumps(_representable(record))


_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def _representable(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with every value JSON can carry as a 64-bit number kept, and the others
    (integers from absurd log text, say) turned into strings and the record flagged
    ``parse_error``: one odd value must not cost the other records of its file. OpenObserve
    then refuses a string in a numeric column for that record alone, and it is dead-lettered
    with the reason, never dropped."""
    fixed = dict(record)
    for key, value in record.items():
        if isinstance(value, int) and not isinstance(value, bool):
            if not _INT64_MIN <= value <= _UINT64_MAX:
                fixed[key] = str(value)
                fixed["parse_error"] = True
        elif not isinstance(value, str | float | bool | type(None)):
            fixed[key] = str(value)
            fixed["parse_error"] = True
    return fixed
